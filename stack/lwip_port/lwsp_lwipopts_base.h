/*
 * lwsp_lwipopts_base.h — the lwIP options every lwsp build needs, whatever
 * the target: the system model, the core-lock assertion, statistics, the
 * protocols, the TCP features the endpoints use, and the hooks.
 *
 * A profile (an lwipopts.h: stack/lwip_port/lwipopts.h for hosts,
 * stack/lwip_port/firmware/lwipopts.h for firmware, or a directory of your
 * own given as LWSP_LWIPOPTS_DIR) sets how lwIP gets its memory and how big
 * things are — MEM_*, the pools, ARP_QUEUE_LEN, TCP_MSS, the windows and
 * queues, TCP_OOSEQ_MAX_PBUFS, LWSP_TCP_HALF_OPEN_MAX — and then includes
 * this file.  Every option that departs from lwIP's src/include/lwip/opt.h
 * says why.  lwIP runs with NO_SYS=1 under the stack's single core lock
 * (stack/src/stack.cpp); nothing here may assume lwIP's own threading.
 * Included by C (lwIP) and C++ (stack/) translation units alike.
 */
#ifndef LWSP_LWIPOPTS_BASE_H
#define LWSP_LWIPOPTS_BASE_H

/* ---- System model --------------------------------------------------- */
/* No OS layer: application threads call the raw API under the core lock,
 * the driver thread runs timers and input under the same lock. */
#define NO_SYS                          1
#define LWIP_TIMERS                     1
/* The raw API is the only API: the WSP shim is our sockets layer.  (init.c
 * refuses NO_SYS with either of these on.) */
#define LWIP_NETCONN                    0
#define LWIP_SOCKET                     0
/* Every lwIP entry holds the core mutex, so lwIP needs no protection of its
 * own. */
#define SYS_LIGHTWEIGHT_PROT            0
/* Checked in tcp_*, udp_*, netif_*, timeouts: aborts if the calling thread
 * does not own the core lock (STYLE: "one lock, asserted"). */
#define LWIP_ASSERT_CORE_LOCKED()       lwsp_assert_core_locked()

/* Statistics stay on: lwsp::stack::stats() reads lwIP's counters (tests
 * prove nothing leaks; a firmware sees its pools run dry). */
#define LWIP_STATS                      1
#define MEMP_STATS                      1
#define MEM_STATS                       1
#define LWIP_STATS_DISPLAY              0
/* init.c insists on at least the internal count; the stack's own timeouts
 * ride on top. */
#define MEMP_NUM_SYS_TIMEOUT            (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)

/* ---- Interfaces ----------------------------------------------------- */
#define LWIP_ETHERNET                   1
#define LWIP_ARP                        1
/* Keep packets queued while ARP/ND resolves instead of dropping them: the
 * first segment of a connection otherwise waits for a retransmission (how
 * many per neighbour, ARP_QUEUE_LEN, is the profile's). */
#define ARP_QUEUEING                    1
/* 127.0.0.1 and ::1 exist without any port, so two sockets of one stack
 * can talk; the driver thread runs netif_poll for queued loop packets. */
#define LWIP_HAVE_LOOPIF                1
#define LWIP_NETIF_LOOPBACK             1
#define LWIP_LOOPBACK_MAX_PBUFS         0
#define LWIP_SINGLE_NETIF               0
#define LWIP_NETIF_HOSTNAME             0
#define LWIP_NETIF_STATUS_CALLBACK      0
#define LWIP_NETIF_LINK_CALLBACK        0

/* ---- IPv4 ----------------------------------------------------------- */
#define LWIP_IPV4                       1
#define LWIP_ICMP                       1
#define IP_REASSEMBLY                   1
#define IP_FRAG                         1
/* Address configuration is the application's: no DHCP, AutoIP, IGMP or DNS
 * in the core (they would only add timers and traffic to tests). */
#define LWIP_DHCP                       0
#define LWIP_AUTOIP                     0
#define LWIP_IGMP                       0
#define LWIP_DNS                        0
#define LWIP_RAW                        0

/* ---- IPv6 ----------------------------------------------------------- */
#define LWIP_IPV6                       1
/* Required on 64-bit hosts: lwip_init asserts that the reassembly helper
 * fits in the fragment header otherwise. */
#define IPV6_FRAG_COPYHEADER            1
#define LWIP_IPV6_FRAG                  1
#define LWIP_IPV6_REASS                 1
#define LWIP_ICMP6                      1
#define LWIP_IPV6_MLD                   1
/* Addresses come from the application, and the stack marks them preferred
 * at once (see stack.cpp): no SLAAC, no DHCPv6, no router solicitations. */
#define LWIP_IPV6_AUTOCONFIG            0
#define LWIP_IPV6_DHCP6                 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT   0
#define LWIP_ND6_QUEUEING               1

/* ---- UDP ------------------------------------------------------------ */
#define LWIP_UDP                        1

/* ---- TCP ------------------------------------------------------------ */
#define LWIP_TCP                        1
/* lwIP's TCP timer: the fast half (delayed ACKs) runs every
 * TCP_TMR_INTERVAL, the slow half (retransmission, persist, keepalive,
 * TIME_WAIT) every second run.  lwIP keeps its RTO in slow-timer ticks and
 * its variance estimate cannot fall below 3 ticks (sv -= sv >> 2 stops at
 * 3), so the tick sets the shortest RTO on a fast link: 1.5 s with lwIP's
 * 250 ms default, 600 ms with 100 ms.  On a lossy wire a small window
 * recovers most losses by RTO, so this is most of lwsp's send rate there
 * (docs/lwip-notes.md §8): the 10 % loss row of the lossy-wire matrix
 * (512 KiB each way) took 55-73 s with 250 ms and 19-36 s with 100 ms.
 * Delayed ACKs wait at most 100 ms; persist probes start after 600 ms and
 * back off to 24 s.  The cost: the timer wakes the stack 10 times a second
 * while any TCP connection exists, and walks every pcb 5 times a second. */
#define TCP_TMR_INTERVAL                100
#define TCP_QUEUE_OOSEQ                 1
/* Half-open connections are counted apart from the accept backlog: lwIP's
 * backlog counter holds only SYN-received connections (its limit is
 * LWSP_TCP_HALF_OPEN_MAX per listener, the profile's), while the endpoint
 * limits the established connections waiting for WSPAccept to the
 * application's backlog.  A SYN that finds the half-open limit reached
 * evicts the least recently active half-open connection instead of being
 * dropped, so spoofed SYNs cannot lock legitimate clients out
 * (stack/src/tcp_endpoint.cpp). */
#define TCP_LISTEN_BACKLOG              1
#define TCP_DEFAULT_LISTEN_BACKLOG      0xff
/* Per-pcb keepalive timing (SO_KEEPALIVE, SIO_KEEPALIVE_VALS). */
#define LWIP_TCP_KEEPALIVE              1
/* SO_REUSEADDR. */
#define SO_REUSE                        1
/* Fold the checksum into the copy made by tcp_write. */
#define LWIP_CHECKSUM_ON_COPY           1
/* Frames a link marks as partial or verified checksums (frame_info, e.g.
 * the TAP port's virtio-net header) skip lwIP's checks: the flags are
 * switched around that one frame's input. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF    1

/* ---- Hooks ---------------------------------------------------------- */
/* Every TCP segment that found its pcb passes lwsp's guard first: admission
 * of SYNs and handshakes at a listener, segments lwIP 2.1.3 would mishandle
 * (options, the receive window's right edge) and an immediate ACK for a
 * frame standing for several segments (lwsp_hooks.h). */
#define LWIP_HOOK_FILENAME              "lwsp_hooks.h"
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
  lwsp_tcp_inpacket(pcb, hdr, optlen, opt1len, opt2, p)
/* Neighbour discovery messages with an option of length 0 are discarded, as
 * RFC 4861 requires and lwIP 2.1.3 does not (lwsp_hooks.h). */
#define LWIP_HOOK_IP6_INPUT(p, inp) lwsp_ip6_input(p, inp)
/* Unpredictable initial sequence numbers (RFC 6528): lwIP's own are a
 * counter, so a blind attacker who saw one connection could guess the next. */
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  lwsp_tcp_isn(local_ip, local_port, remote_ip, remote_port)

/* ---- Debugging ------------------------------------------------------ */
/* Assertions stay on: an lwIP assert is a bug in the shim's use of lwIP,
 * and cc.h routes it to a clear abort message. */

#endif /* LWSP_LWIPOPTS_BASE_H */
