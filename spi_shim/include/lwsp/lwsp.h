/*
 * lwsp/lwsp.h — bringing lwsp up from C (firmware, or a host program).
 *
 * What it provides: start and stop the process's stack, attach a port's
 * link with its addresses, and the provider entry point WSPStartup, whose
 * WSPPROC_TABLE is the Winsock SPI of lwsp (lwsp/ws2spi.h has the types).
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
 * only where Winsock says they do (a blocking socket); the stack runs its
 * own driver thread.  One stack per process.
 */
#ifndef LWSP_LWSP_H
#define LWSP_LWSP_H

#include "lwsp/ws2spi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options for lwsp_start; NULL means all defaults. */
typedef struct lwsp_options {
    int manual_clock; /* nonzero: time moves only through lwsp_advance_time (tests) */
} lwsp_options;

/* Starts the process's stack.  0 on success; -1 if one is already running
 * or lwIP could not start. */
int lwsp_start(const lwsp_options *options);
/* Stops it: every socket fails WSAENETDOWN from then on, blocked calls
 * return.  Safe to call when nothing runs. */
void lwsp_stop(void);
/* Manual clock only: moves stack time forward (ms), running due timers. */
int lwsp_advance_time(unsigned long milliseconds);

/* A link from a port (ports/<name> provides the C constructor). */
typedef struct lwsp_link lwsp_link;

typedef struct lwsp_interface_config {
    const char *ipv4_address; /* "192.0.2.1" or NULL for none */
    const char *ipv4_netmask; /* "255.255.255.0" */
    const char *ipv4_gateway; /* NULL or "0.0.0.0" for none */
    const char *ipv6_address; /* NULL or a global/ULA address; a link-local one is always added */
    int default_route;        /* nonzero: this interface is the default route */
} lwsp_interface_config;

/* Attaches a link; returns an interface id (> 0) or -1 with a message in
 * `error` (if not NULL, `error_len` bytes). */
int lwsp_attach(lwsp_link *link, const lwsp_interface_config *config, char *error, size_t error_len);
void lwsp_detach(int interface_id);

/* The provider entry point (Winsock SPI).  Returns 0 or a Winsock error:
 * WSAVERNOTSUPPORTED (below 2.0), WSAEFAULT (NULL lpWSPData/lpProcTable),
 * WSASYSNOTREADY (no stack running). */
int WSPAPI WSPStartup(WORD wVersionRequested, LPWSPDATA lpWSPData, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_LWSP_H */
