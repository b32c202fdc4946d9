/*
 * lwsp_hooks.h — lwsp's lwIP hooks (LWIP_HOOK_FILENAME in lwipopts.h).
 *
 * LWIP_HOOK_TCP_INPACKET_PCB runs for every TCP segment that found its pcb,
 * before lwIP processes it; a result other than ERR_OK drops the segment.
 * When it runs, lwIP has checked the checksum and the header length, turned
 * the header's numbers to host order and moved the payload past the options
 * (optlen bytes: opt1len right after the header, the rest at opt2).
 *
 * It guards lwIP 2.1.3 against segments any peer can send (found by fuzzing,
 * fuzz/README.md; docs/lwip-notes.md):
 * - TCP options are made well-formed before tcp_parseopt() reads them: an
 *   option with no room for its length byte, or a length that is too short
 *   or runs past the options, ends them (an EOL in its place: lwIP stops
 *   parsing there too, but reads the missing length byte first); an MSS
 *   option in a segment without SYN becomes NOPs (lwIP would take it and
 *   lower the connection's MSS below a queued segment: an assertion on the
 *   next send).
 * - A segment that starts inside the receive window but ends past its right
 *   edge is dropped when it is out of order (lwIP queues it untrimmed, and
 *   asserts once the hole before it fills) or when segments wait in the
 *   out-of-order queue (lwIP trims it to the window, takes over a queued FIN
 *   the trimmed data covers, and asserts).  A sender that honours the
 *   window never sends such a segment; an in-order one with nothing queued
 *   (a zero-window probe) still goes to lwIP, which trims it safely.
 *
 * At a listener it is the admission control of tcp_endpoint (defined in
 * stack/src/tcp_endpoint.cpp, where the accept queue lives): a SYN waits
 * while the accept queue is full, and a SYN that finds the listener's
 * half-open limit reached evicts the least recently active half-open
 * connection; a handshake's last ACK waits while the accept queue is full.
 *
 * In TIME-WAIT, a SYN beyond the old connection's sequence numbers ends
 * the TIME-WAIT (RFC 1122 4.2.2.13), so that a peer reusing its port can
 * connect again; lwIP would keep answering it with an ACK for 2 MSL.
 *
 * While the stack feeds lwIP a frame that stands
 * for several segments (frame_info::gso_size, set by the interface in
 * stack.cpp), the hook asks for an immediate ACK: a receiver acknowledges at
 * least every second full-size segment (RFC 5681 §4.2), but lwIP counts the
 * frame as one segment and would delay the ACK until the application reads
 * or the TCP timer runs, stalling a sender in slow start.
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

struct pbuf;
err_t lwsp_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                        const struct pbuf *p);

/* LWIP_HOOK_IP6_INPUT: runs for every IPv6 packet before lwIP looks at it;
 * nonzero means the hook has freed it.  It discards a neighbour discovery
 * message (router solicitation and advertisement, neighbour solicitation
 * and advertisement, redirect) that carries an option of length 0: RFC 4861
 * says to, and lwIP 2.1.3's nd6_input would copy a link-layer address from
 * behind such an option, past the packet; and a redirect whose target is
 * neither link-local nor the destination itself (RFC 4861 8.1), which lwIP
 * would take as the next hop (the unspecified address queued packets on an
 * unused neighbour entry for good).  Only messages right behind the
 * IPv6 header are looked at (neighbour discovery has no reason for
 * extension headers); lwIP's other reads past a packet find the zeros the
 * stack puts behind every inbound frame (stack.cpp, deliver_many). */
struct netif;
int lwsp_ip6_input(struct pbuf *p, struct netif *inp);

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
