/*
 * lwsp/upcalls.h - lwsp's own Winsock upcall table (WSPUPCALLTABLE) and the
 * application-side calls that go with it, for C and C++.
 *
 * What it provides
 *   On Windows and Windows CE, ws2 hands a service provider a table of
 *   upcalls (WPUCreateEvent, WPUSetEvent, WPUQueueApc, WPUCreateSocketHandle,
 *   ...).  On Linux and on firmware there is no ws2, so lwsp implements those
 *   upcalls itself, plus what an application would otherwise get from ws2:
 *     - event objects (manual-reset, like WSAEVENTs) and
 *       lwsp_wait_for_multiple_events (WSAWaitForMultipleEvents);
 *     - thread ids and per-thread APC queues (WSATHREADID, WPUQueueApc)
 *       with alertable waits (lwsp_wait_for_multiple_events with alertable,
 *       lwsp_sleep_ex = SleepEx), which is where overlapped completion
 *       routines run;
 *     - socket handles for non-IFS providers (WPUCreateSocketHandle,
 *       WPUQuerySocketHandleContext, WPUCloseSocketHandle).
 *   The handles here (WSAEVENT, WSATHREADID.ThreadHandle, SOCKET) are lwsp's
 *   own: they are not operating-system handles, and only the functions of
 *   this header understand them.
 *
 * How to plug it in
 *     WSPUPCALLTABLE upcalls;
 *     lwsp_default_upcalls(&upcalls);
 *     WSPStartup(MAKEWORD(2, 2), &data, NULL, upcalls, &procs);
 *     WSAEVENT ev = lwsp_create_event();
 *     ... WSPRecv(s, &buf, 1, NULL, &flags, &ov, NULL, NULL, &err) with
 *         ov.hEvent = ev ...
 *     lwsp_wait_for_multiple_events(1, &ev, FALSE, 5000, FALSE);
 *   For completion routines, the provider captures the calling thread with
 *   the table's lpWPUOpenCurrentThread and queues the routine to it with
 *   lpWPUQueueApc; the routine runs when that thread next waits alertably
 *   (lwsp_sleep_ex(..., TRUE) or lwsp_wait_for_multiple_events(..., TRUE)).
 *   A provider given a zeroed table may use lwsp_default_upcalls itself.
 *
 * Threading rules
 *   - Every function may be called from any thread, concurrently.
 *   - Events: one set releases every thread that is waiting on the event at
 *     that moment and whose wait it satisfies, even if the event is reset
 *     again right after (the wait is satisfied atomically inside the set).
 *     Waiting never resets an event.  Closing an event that another thread
 *     waits on does not end that wait (the event can no longer be set
 *     through its handle, so that wait ends by timeout or by its other
 *     events); the event's storage lives until the last wait leaves it.
 *   - APCs run only on the thread they were queued to, in the order they
 *     were queued, and only while that thread is inside an alertable
 *     lwsp_wait_for_multiple_events or lwsp_sleep_ex - never from inside
 *     lwsp_queue_apc, never during a non-alertable wait.  An alertable wait
 *     that runs APCs runs every APC that was queued when it started running
 *     them and then returns; an APC queued while those run (from an APC or
 *     from another thread) runs in the thread's NEXT alertable wait.  As on
 *     Windows, an alertable wait whose events are already signalled returns
 *     their index and leaves pending APCs queued.
 *   - A WSATHREADID from lwsp_open_current_thread keeps that thread's APC
 *     queue alive until lwsp_close_thread, even after the thread exits.
 *     APCs still queued when a thread exits are discarded, and APCs queued
 *     to an exited thread are accepted (0) and discarded: they never run.
 *   - Callbacks (APCs) run without any lwsp lock held: they may call any
 *     function of lwsp, including waits (nested alertable waits run the
 *     APCs queued since) and WSP* calls.
 *   - Handles are a slot plus a generation: a closed or made-up handle is
 *     rejected (and a reused slot never answers to an old handle), it does
 *     not crash.  Handles are never NULL/0 nor INVALID_SOCKET.
 */
#ifndef LWSP_UPCALLS_H
#define LWSP_UPCALLS_H

#include "lwsp/ws2spi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills *table with lwsp's implementation of all 15 upcalls (none NULL).
 * Does nothing when table is NULL. */
void lwsp_default_upcalls(WSPUPCALLTABLE *table);

/* ---- Events (manual-reset, initially not signalled) -------------------- */

/* A new event, or WSA_INVALID_EVENT (NULL) when out of handles/memory. */
WSAEVENT lwsp_create_event(void);
/* TRUE on success; FALSE for an invalid or closed handle. */
BOOL lwsp_set_event(WSAEVENT event);
BOOL lwsp_reset_event(WSAEVENT event);
BOOL lwsp_close_event(WSAEVENT event);

/* WSAWaitForMultipleEvents.  Returns
 *   WSA_WAIT_EVENT_0 + i   !wait_all: i is the lowest index whose event is
 *                          signalled; wait_all: all are signalled (i = 0);
 *   WSA_WAIT_IO_COMPLETION alertable, the wait would have blocked, and APCs
 *                          were queued: they all ran (see threading rules);
 *   WSA_WAIT_TIMEOUT       timeout_ms passed (0: poll once, never blocks);
 *   WSA_WAIT_FAILED        count 0 or > WSA_MAXIMUM_WAIT_EVENTS, events NULL,
 *                          a NULL/invalid/closed handle, or (wait_all only)
 *                          the same event twice.
 * timeout_ms WSA_INFINITE waits forever.  Events are not reset by waiting.
 * For a wait with no events use lwsp_sleep_ex. */
DWORD lwsp_wait_for_multiple_events(DWORD count, const WSAEVENT *events, BOOL wait_all, DWORD timeout_ms,
                                    BOOL alertable);

/* SleepEx: 0 after timeout_ms (WSA_INFINITE: never, unless alertable and an
 * APC arrives), or WAIT_IO_COMPLETION (0xC0) when alertable and queued APCs
 * ran.  lwsp_sleep_ex(0, TRUE) runs the APCs already queued, if any. */
DWORD lwsp_sleep_ex(DWORD timeout_ms, BOOL alertable);

/* ---- Thread ids and APCs ----------------------------------------------- */

/* Fills *id with a new handle naming the calling thread's APC queue
 * (ThreadHandle; Reserved = 0).  Each call makes a new handle; each must be
 * closed with lwsp_close_thread.  Returns 0, or WSAEFAULT (id NULL),
 * WSAENOBUFS (out of handles). */
int lwsp_open_current_thread(LPWSATHREADID id);
/* Closes id->ThreadHandle.  0, or WSAEFAULT (id NULL), WSA_INVALID_HANDLE
 * (not open). */
int lwsp_close_thread(LPWSATHREADID id);
/* Queues fn(ctx) to the thread named by *id (see the threading rules).
 * 0, or WSAEFAULT (id or fn NULL), WSA_INVALID_HANDLE (id not open). */
int lwsp_queue_apc(LPWSATHREADID id, LPWSAUSERAPC fn, DWORD_PTR ctx);

/* ---- Socket handles (for non-IFS providers) ---------------------------- */

/* A new handle carrying (catalog_entry, context), or INVALID_SOCKET with
 * *err = WSAENOBUFS.  err may be NULL. */
SOCKET lwsp_create_socket_handle(DWORD catalog_entry, DWORD_PTR context, LPINT err);
/* 0 and *context = the context given at creation, or SOCKET_ERROR with
 * *err = WSAENOTSOCK (unknown or closed handle) or WSAEFAULT (context
 * NULL).  err may be NULL. */
int lwsp_query_socket_handle_context(SOCKET s, PDWORD_PTR context, LPINT err);
/* 0, or SOCKET_ERROR with *err = WSAENOTSOCK.  err may be NULL. */
int lwsp_close_socket_handle(SOCKET s, LPINT err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LWSP_UPCALLS_H */
