/*
 * lwsp/stack.h — bringing the stack up from C (firmware, or a host
 * program), without the Winsock shim: start and stop the process's stack,
 * attach links (lwsp/port.h), and — on a bare-metal build — drive it from
 * the application's main loop.
 *
 * Hosted builds (Linux, Windows): the stack runs its own driver thread and
 * reads the steady clock; every function may be called from any thread.
 *
 * Bare-metal builds (LWSP_PLATFORM=bare_metal; docs/design.md, "Platform
 * seam"): there are no threads.  The application
 *   1. gives the stack a clock (lwsp_set_clock) and, optionally, a way to
 *      sleep (lwsp_set_idle: e.g. WFI until the next interrupt);
 *   2. starts it and attaches its links;
 *   3. calls lwsp_poll() from its main loop, and may sleep until
 *      lwsp_next_deadline().
 * A blocking call (a WSP call on a blocking socket, a lingering close)
 * runs that same loop itself — poll, then idle — until its condition, its
 * deadline or a cancel, so it behaves as it does on a host.
 */
#ifndef LWSP_STACK_H
#define LWSP_STACK_H

#include <stddef.h>

#include "lwsp/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options for lwsp_start; NULL means all defaults.  Zero-initialise and set
 * what you need: new fields are added at the end with 0 as their default. */
typedef struct lwsp_options {
    int manual_clock;               /* nonzero: time moves only through lwsp_advance_time (tests) */
    unsigned long long random_seed; /* 0: from the platform's random source (see lwsp_set_random) */
    size_t memory_limit;            /* bytes of lwIP heap (0: no limit; heap builds only) */
} lwsp_options;

/* Starts the process's stack.  0 on success; -1 if one is already running,
 * lwIP could not start, or (bare metal) there is no clock and no manual
 * clock was asked for. */
int lwsp_start(const lwsp_options* options);
/* Stops it: every socket fails WSAENETDOWN from then on, blocked calls
 * return.  Safe to call when nothing runs. */
void lwsp_stop(void);
/* Manual clock only: moves stack time forward (ms), running due timers.
 * 0, or -1 without a manual-clock stack. */
int lwsp_advance_time(unsigned long milliseconds);

typedef struct lwsp_interface_config {
    const char* ipv4_address; /* "192.0.2.1" or NULL for none */
    const char* ipv4_netmask; /* "255.255.255.0" */
    const char* ipv4_gateway; /* NULL or "0.0.0.0" for none */
    const char* ipv6_address; /* NULL or a global/ULA address; a link-local one is always added */
    int default_route;        /* nonzero: this interface is the default route */
} lwsp_interface_config;

/* Attaches a link; returns an interface id (> 0) or -1 with a message in
 * `error` (if not NULL, `error_len` bytes).  The stack takes its own
 * reference to the link. */
int lwsp_attach(lwsp_link* link, const lwsp_interface_config* config, char* error, size_t error_len);
void lwsp_detach(int interface_id);

/* ---- The platform hooks and the main loop ------------------------------ */

/* The monotonic clock in milliseconds (any origin).  Bare metal: required
 * before lwsp_start (unless manual_clock).  Hosted: ignored (the steady
 * clock).  NULL removes it. */
void lwsp_set_clock(unsigned long long (*now_ms)(void));
/* Bare metal: what the loop calls when it has nothing to do, with the
 * clock value (lwsp_set_clock's) at which it must run again; return early
 * on any interrupt (WFI does).  NULL (the default): busy polling.
 * Hosted: ignored. */
void lwsp_set_idle(void (*idle)(unsigned long long until_ms));
/* Bare metal: fills `buf` with `len` random bytes (a TRNG, or noise) for
 * the stack's secrets when lwsp_options::random_seed is 0.  Without it a
 * bare-metal stack needs a random_seed.  Hosted: the system's source. */
void lwsp_set_random(void (*fill)(void* buf, size_t len));

/* One turn of the loop, without sleeping: polls every link, runs due lwIP
 * timers and loopback traffic, and delivers deferred completions (APCs,
 * event signals).  Returns how many frames and work items it handled
 * (0: nothing was due), or -1 with no stack.  Hosted builds may call it
 * too (their driver thread does the same). */
int lwsp_poll(void);
/* Milliseconds until lwsp_poll() has timed work to do (0: now), or -1 if
 * none is scheduled (only input can create work).  A main loop may sleep
 * this long, or until an interrupt. */
long lwsp_next_deadline(void);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_STACK_H */
