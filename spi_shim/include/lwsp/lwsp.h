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
 * table; elsewhere pass a zeroed WSPUPCALLTABLE (lwsp then uses its own
 * handles) or one of your own.
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
 * WSASYSNOTREADY (no stack running). */
int WSPAPI WSPStartup(WORD wVersionRequested, LPWSPDATA lpWSPData, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_LWSP_H */
