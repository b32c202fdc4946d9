/*
 * lwipopts.h — lwsp's firmware profile of lwIP: static memory, pools for a
 * few tens of sockets, standard Ethernet segments, modest windows.
 *
 * Selected with -DLWSP_LWIPOPTS_DIR=<lwsp>/stack/lwip_port/firmware, which
 * puts this directory before stack/lwip_port on lwIP's include path
 * (arch/cc.h, lwsp_hooks.h and lwsp_lwipopts_base.h still come from
 * there).  What every lwsp build needs — NO_SYS, the core-lock assertion,
 * the hooks, statistics, IPv4 and IPv6, loopback, the TCP features the
 * hooks and the endpoints use — is lwsp_lwipopts_base.h, included at the
 * end; this file sets memory and sizes, and every value that departs from
 * the host profile says so ("Firmware:") and why.
 *
 * What it costs (Cortex-M4, 32-bit pointers), all in .bss, nothing from
 * malloc inside lwIP: the heap (MEM_SIZE) plus the pools below, about
 * 150 KiB in all.  The heap holds the frames and segments in flight:
 * every inbound frame is copied into one heap pbuf (stack.cpp,
 * deliver_many) and stays there until the application reads it, and every
 * send is copied into heap segments until acknowledged, so a connection
 * moving data both ways at full windows holds up to about
 * TCP_WND + TCP_SND_BUF plus per-segment headers (some 22 KiB here); idle
 * connections hold nothing.  When the heap is full, inbound frames are
 * dropped (the peer retransmits) and sends find no room (WSAEWOULDBLOCK, or
 * a blocking send waits): bursts degrade, nothing fails.
 */
#ifndef LWSP_LWIPOPTS_H
#define LWSP_LWIPOPTS_H

/* ---- Memory --------------------------------------------------------- */
/* Firmware: lwIP's own heap and pools, statically allocated (.bss), instead
 * of malloc.  A firmware's RAM budget is fixed at link time and the
 * application's malloc arena must not be fragmented by network buffers;
 * the pool sizes below are the socket budget.  (stack::options::
 * memory_limit and heap_cache concern the malloc-backed host profile and
 * have no effect here.) */
#define MEM_LIBC_MALLOC                 0
#define MEMP_MEM_MALLOC                 0
/* Firmware: 32-bit target; lwIP rounds every block to this.  The same
 * profile built for a 64-bit host (the bare-metal tests in test/bare_metal)
 * needs 8: lwIP's structures hold pointers. */
#if defined(__SIZEOF_POINTER__) && __SIZEOF_POINTER__ == 8
#define MEM_ALIGNMENT                   8
#else
#define MEM_ALIGNMENT                   4
#endif
/* Firmware: the heap for frames and segments in flight (top comment):
 * about five connections at full windows both ways, or many more that
 * trickle. */
#define MEM_SIZE                        (128 * 1024)
/* Firmware: pools, sized for "a few tens of sockets". */
/* TCP connections, including those lwIP still owns after a close (FIN_WAIT,
 * TIME_WAIT: a busy server has as many of these as recently closed
 * connections; lwIP reuses the oldest TIME_WAIT one when the pool is
 * empty). */
#define MEMP_NUM_TCP_PCB                32
#define MEMP_NUM_TCP_PCB_LISTEN         8
#define MEMP_NUM_UDP_PCB                16
/* Queued TCP segments of all connections: unsent, unacknowledged and
 * out-of-order.  A connection queues at most TCP_SND_QUEUELEN (32) plus
 * TCP_OOSEQ_MAX_PBUFS (8); the heap runs out before 256 do.  About 20
 * bytes each. */
#define MEMP_NUM_TCP_SEG                256
/* pbuf headers that point at memory they do not own (PBUF_REF/ROM): lwIP
 * uses them for loopback and fragments; the stack copies every send. */
#define MEMP_NUM_PBUF                   16
/* The pbuf pool is for drivers that receive into it; lwsp's deliver path
 * copies each inbound frame into the heap instead (sized to the frame, not
 * to a fixed buffer), and lwIP's core never takes from the pool, so it
 * would be RAM nobody uses. */
#define PBUF_POOL_SIZE                  0
/* IPv4 datagrams in reassembly at once, the fragments they may hold
 * together (16 full frames: UDP datagrams up to about 23 KiB), and
 * fragments being sent. */
#define MEMP_NUM_REASSDATA              4
#define IP_REASS_MAX_PBUFS              16
#define MEMP_NUM_FRAG_PBUF              16
/* Packets waiting for address resolution (ARP, neighbour discovery). */
#define MEMP_NUM_ARP_QUEUE              16
#define MEMP_NUM_ND6_QUEUE              16
/* IPv6 multicast groups: all-nodes and the solicited-node groups of the
 * interfaces' addresses. */
#define MEMP_NUM_MLD6_GROUP             8

/* Packets queued per neighbour while ARP/ND resolves.  Firmware: 8 (host:
 * 16), within MEMP_NUM_ARP_QUEUE. */
#define ARP_QUEUE_LEN                   8

/* ---- TCP sizes ------------------------------------------------------ */
/* Firmware: standard Ethernet segments (host: 16000, for jumbo and
 * offloaded links).  A firmware's links have a 1500-byte MTU, and lwIP
 * sizes its segment buffers and queue limits from TCP_MSS. */
#define TCP_MSS                         1460
/* Firmware: small windows, no window scaling (host: 256 KiB with
 * scaling).  They bound what one connection holds in the heap (top
 * comment).  The receive window is 6 segments so that a whole window fits
 * in the LAN9118's receive FIFO (10560 bytes: six full frames and the
 * ACKs between them), however slowly the firmware drains it: the peer
 * sends a window in one burst, and a FIFO that overflows drops frames.
 * Measured on QEMU's mps2-an386 echoing 16 MiB through one connection:
 * 8 segments, 65 Mbit/s each way with 755 segments retransmitted (the
 * FIFO overflowed); 6 segments, 52-59 Mbit/s and none; 4 segments,
 * 45 Mbit/s.  (Several busy connections at once still overflow it and
 * recover by retransmission.)  The send buffer is 8 segments: what the
 * firmware sends is not limited by its own FIFO. */
#define LWIP_WND_SCALE                  0
#define TCP_WND                         (6 * TCP_MSS)
#define TCP_SND_BUF                     (8 * TCP_MSS)
/* lwIP's default queue length for this buffer (4 segments per MSS of
 * buffer: small writes still fit), spelled out because MEMP_NUM_TCP_SEG
 * depends on it. */
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
/* TCP_WND_UPDATE_THRESHOLD and TCP_SNDLOWAT: lwIP's defaults, which the
 * host profile only overrides because its TCP_MSS is large. */
/* Firmware: a window of out-of-order segments (6 full ones, or more
 * smaller ones; host: 256, for its 256 KiB window).  The bound matters
 * more here: out-of-order segments hold heap and tcp_seg entries. */
#define TCP_OOSEQ_MAX_PBUFS             8
/* Half-open connections per listener (lwsp_lwipopts_base.h).  Firmware: 8
 * (host: 64), so that SYNs to one listener cannot take the whole TCP pcb
 * pool. */
#define LWSP_TCP_HALF_OPEN_MAX          8

#include "lwsp_lwipopts_base.h"

#endif /* LWSP_LWIPOPTS_H */
