/*
 * lwsp/lwsp.h — bringing lwsp up from C (firmware, or a host program).
 *
 * What it provides: the provider entry point WSPStartup, whose
 * WSPPROC_TABLE is the Winsock SPI of lwsp (lwsp/ws2spi.h has the types),
 * and — from lwsp/stack.h, which a program that wants the stack without
 * the shim includes alone — starting and stopping the process's stack,
 * attaching a port's link, and the bare-metal main loop.
 *
 * How to plug it in:
 *     lwsp_start(NULL);                       // stack with a steady clock
 *     lwsp_attach(link, &cfg, &err);          // link: from a port's C API
 *     WSPStartup(MAKEWORD(2,2), &data, NULL, upcalls, &procs);
 *     SOCKET s = procs.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, ...);
 * On Windows and CE, ws2 calls WSPStartup itself and passes its upcall
 * table (all 15 upcalls); elsewhere pass a zeroed WSPUPCALLTABLE (lwsp then
 * uses its own events, APCs and handles: lwsp/upcalls.h) or one of your own.
 *
 * Upcalls: the fallback rule
 *   A table that lacks some upcalls is completed from the fallback, lwsp's
 *   own upcalls (the lwsp::upcalls library, lwsp_default_upcalls), where
 *   there is one: off Windows there always is (no ws2 exists there).  On
 *   Windows and CE there is none unless the embedder asks for it with
 *   lwsp_set_fallback_upcalls(lwsp_default_upcalls); without it a table
 *   with a missing upcall makes WSPStartup fail with WSAEINVAL — ws2 always
 *   passes all 15, so a missing one is a bug to report, not to patch over.
 *
 * Provider bring-up (the Windows provider DLL, provider/)
 *   When ws2 loads a provider it calls WSPStartup before anything has
 *   started a stack.  lwsp_set_provider_bring_up registers what WSPStartup
 *   then does: bring_up() starts the stack and attaches its port (0 on
 *   success; otherwise WSPStartup fails with WSASYSNOTREADY), and
 *   tear_down() stops it after the last WSPCleanup.
 *
 * Threading: every function may be called from any thread.  WSP calls block
 * only where Winsock says they do (a blocking socket); on a host the stack
 * runs its own driver thread, on bare metal a blocking call runs the main
 * loop itself (lwsp/stack.h).  One stack per process.
 */
#ifndef LWSP_LWSP_H
#define LWSP_LWSP_H

#include "lwsp/stack.h" /* lwsp_start, lwsp_attach, lwsp_poll: the stack's C bring-up */
#include "lwsp/ws2spi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The provider entry point (Winsock SPI).  Returns 0 or a Winsock error:
 * WSAVERNOTSUPPORTED (below 2.0), WSAEFAULT (NULL lpWSPData/lpProcTable),
 * WSAEINVAL (an upcall missing and no fallback: see above),
 * WSASYSNOTREADY (no stack running, or the bring-up failed). */
int WSPAPI WSPStartup(WORD wVersionRequested, LPWSPDATA lpWSPData, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable);

/* Fills a complete upcall table (lwsp_default_upcalls has this type). */
typedef void (*lwsp_upcalls_fill)(WSPUPCALLTABLE *table);

/* Sets (or, with NULL, removes) where missing upcalls come from; takes
 * effect at the next first WSPStartup.  Off Windows the default is
 * lwsp_default_upcalls; on Windows and CE it is none. */
void lwsp_set_fallback_upcalls(lwsp_upcalls_fill fill);

/* Registers the provider's bring-up and tear-down (either may be NULL):
 * see "Provider bring-up" above. */
void lwsp_set_provider_bring_up(int (*bring_up)(void), void (*tear_down)(void));

#ifdef __cplusplus
}
#endif

#endif /* LWSP_LWSP_H */
