/*
 * lwsp_hooks.h — lwsp's lwIP hooks (LWIP_HOOK_FILENAME in lwipopts.h).
 *
 * LWIP_HOOK_TCP_INPACKET_PCB runs for every TCP segment that found its pcb,
 * before lwIP processes it; a result other than ERR_OK drops the segment.
 *
 * At a listener it is the admission control of tcp_endpoint (defined in
 * stack/src/tcp_endpoint.cpp, where the accept queue lives): a SYN waits
 * while the accept queue is full, and a SYN that finds the listener's
 * half-open limit reached evicts the least recently active half-open
 * connection; a handshake's last ACK waits while the accept queue is full.
 *
 * While the stack feeds lwIP a frame that stands
 * for several segments (frame_info::gso_size, set by the interface in
 * stack.cpp), the hook asks for an immediate ACK: a receiver acknowledges at
 * least every second full-size segment (RFC 5681 §4.2), but lwIP counts the
 * frame as one segment and would delay the ACK until the application reads
 * or the 250 ms timer runs, stalling a sender in slow start.
 */
#ifndef LWSP_HOOKS_H
#define LWSP_HOOKS_H

#include "lwip/arch.h"
#include "lwip/err.h"
#include "lwip/ip_addr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tcp_pcb;
struct tcp_pcb_listen;
struct tcp_hdr;

/* Nonzero while the frame being input stands for several TCP segments;
 * written under the core lock. */
extern int lwsp_input_gso;

err_t lwsp_tcp_inpacket(struct tcp_pcb *pcb, const struct tcp_hdr *hdr);

/* LWIP_HOOK_TCP_ISN: initial sequence numbers as RFC 6528 computes them,
 * keyed by a secret of the stack (stack/src/isn.*); lwIP's own are a global
 * counter anyone can predict. */
u32_t lwsp_tcp_isn(const ip_addr_t *local, u16_t local_port, const ip_addr_t *remote, u16_t remote_port);

/* tcp_endpoint's admission control (flags: the segment's TCP flags). */
err_t lwsp_tcp_listener_input(struct tcp_pcb_listen *listener, unsigned char flags);
err_t lwsp_tcp_handshake_input(struct tcp_pcb *pcb, unsigned char flags);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_HOOKS_H */
