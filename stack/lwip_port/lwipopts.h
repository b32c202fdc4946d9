/*
 * lwipopts.h — lwsp's host profile of lwIP (Linux, Windows): memory from
 * malloc, jumbo segments, large windows.
 *
 * What every lwsp build needs is in lwsp_lwipopts_base.h, included at the
 * end; this file says how lwIP gets its memory and how big things are.
 * Every option that departs from lwIP's src/include/lwip/opt.h says why.
 * stack/lwip_port/firmware/lwipopts.h is the firmware profile
 * (LWSP_LWIPOPTS_DIR selects a profile).
 */
#ifndef LWSP_LWIPOPTS_H
#define LWSP_LWIPOPTS_H

/* ---- Memory --------------------------------------------------------- */
/* Hosts and firmware with a heap: every pool and the lwIP heap come from
 * malloc, so the number of connections is bounded by memory, not by
 * compile-time pool sizes. */
#define MEM_LIBC_MALLOC                 1
#define MEMP_MEM_MALLOC                 1
/* Every lwIP allocation passes through here: the stack's memory_limit
 * (stack::options) refuses what would exceed it, and freed blocks are kept
 * for reuse by size class up to stack::options::heap_cache (lwip_sys.cpp,
 * stack/src/block_cache.hpp: glibc's trimming made every burst of segments
 * page-fault its memory in again). */
#define mem_clib_malloc                 lwsp_mem_malloc
#define mem_clib_calloc                 lwsp_mem_calloc
#define mem_clib_free                   lwsp_mem_free
#define MEM_ALIGNMENT                   8

/* ---- Sizes ---------------------------------------------------------- */
/* Packets queued per neighbour while ARP/ND resolves. */
#define ARP_QUEUE_LEN                   16
/* The largest MSS lwsp will use; each connection advertises and uses
 * min(TCP_MSS, interface MTU - 40/60), so a 1500-byte link still gets 1460
 * while jumbo links (MTU 9000: 8960) get full-size segments.  lwIP 2.1.3's
 * sanity checks need 4 * TCP_MSS below 64 KiB, hence 16000 and not more:
 * larger MTUs work, with 16000-byte segments. */
#define TCP_MSS                         16000
/* 256 KiB windows with window scaling (RFC 7323, shift 3: up to 512 KiB).
 * 64 KiB was the knee for 1500-byte frames one syscall each (docs/lwip-notes.md
 * §7), but with offloaded 64 KiB frames, or 16000-byte segments on a large
 * MTU, a 64 KiB window holds one to four segments and the sender idles
 * waiting for window updates.  Nothing is allocated up front: the window is
 * what a connection may buffer, not what it holds. */
#define LWIP_WND_SCALE                  1
#define TCP_RCV_SCALE                   3
#define TCP_WND                         (256 * 1024)
#define TCP_SND_BUF                     (256 * 1024)
/* Sized for 1460-byte segments (the common case), not for TCP_MSS, so that
 * small writes on a standard link do not run out of queue entries. */
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF + 1460 - 1) / 1460)
/* Window updates after 4 standard segments' worth of reading, as with a
 * 1460-byte MSS (lwIP derives it from TCP_MSS, which is larger here). */
#define TCP_WND_UPDATE_THRESHOLD        (4 * 1460)
/* Only lwIP's own socket layers use the low-water mark; it must stay below
 * 64 KiB - 4 * TCP_MSS. */
#define TCP_SNDLOWAT                    1024
/* Out-of-order segments: lwIP walks a connection's whole out-of-order queue
 * for every segment that arrives, so a peer sending 1-byte segments at
 * every other sequence number, never filling the hole, made that queue
 * tens of thousands long — quadratic CPU under the core lock (30k
 * segments: 7 s) and memory without limit.  256 segments hold a whole
 * 256 KiB window of 1460-byte segments; bytes are bounded by the window
 * anyway.  Beyond the limit lwIP drops the highest segments (the peer
 * retransmits them). */
#define TCP_OOSEQ_MAX_PBUFS             256
/* Half-open connections per listener (lwsp_lwipopts_base.h). */
#define LWSP_TCP_HALF_OPEN_MAX          64

#include "lwsp_lwipopts_base.h"

#endif /* LWSP_LWIPOPTS_H */
