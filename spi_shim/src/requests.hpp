// Internal: the one request path of every send and receive.
//
// Each WSPSend/WSPSendTo/WSPRecv/WSPRecvFrom becomes an io_request that
// enters its socket's queue for that direction, in the order the calls
// arrive; pump() runs the queue from its head as far as the transport
// allows, whenever the call is made and whenever the endpoint reports data
// or send space.  The three modes differ only in what the caller does:
//   overlapped   enqueue; completes at once when it can (the completion
//                action still happens), else later, from pump()
//   blocking     enqueue and wait for that request to finish
//   nonblocking  the queue must be empty (else WSAEWOULDBLOCK); one
//                attempt, which may be partial
// So bytes leave and arrive in issue order whatever the mix of modes and
// threads.  Completion is the only writer of a request's result and of an
// OVERLAPPED's fields after its call returned.  Core lock held throughout.
#pragma once

#include <memory>

#include "io_request.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/ws2spi.h"
#include "wsp_socket.hpp"

namespace lwsp::wsp {

// Captures an overlapped call's completion target: with a routine and no
// thread id (a direct caller, not ws2) the calling thread is opened through
// WPUOpenCurrentThread.  Returns 0 or WSAEINVAL.
int set_overlapped(io_request& r, LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine, LPWSATHREADID thread);

// Runs a blocking or nonblocking request (r lives on the caller's stack).
// Returns its result — 0 or WSAEMSGSIZE with r.done bytes, or an error:
// WSAEWOULDBLOCK (nonblocking), WSAEINTR, WSAETIMEDOUT (`timeout_ms`, 0 =
// none) or WSAENETDOWN for a blocking one that could not finish.
int perform(core_lock& lk, wsp_socket& s, io_request& r, DWORD timeout_ms) LWSP_REQUIRES(s.st->core());

// Starts an overlapped request.  Returns 0 when it finished at once
// (*bytes, *flags written, completion action queued), WSA_IO_PENDING, or an
// error: then there is no completion indication at all.
int submit_overlapped(wsp_socket& s, std::unique_ptr<io_request> r, LPDWORD bytes, LPDWORD flags)
    LWSP_REQUIRES(s.st->core());

// Completes an overlapped operation that finished inside its call (ioctls).
void complete_at_once(wsp_socket& s, io_request& r, DWORD bytes) LWSP_REQUIRES(s.st->core());

// Runs the socket's queued requests as far as the transport allows.
void pump(wsp_socket& s) LWSP_REQUIRES(s.st->core());

// WSPShutdown(SD_SEND): blocked sends end with WSAESHUTDOWN; overlapped ones
// stay and the FIN follows them.  Returns true if sends remain queued.
bool end_blocked_sends(wsp_socket& s) LWSP_REQUIRES(s.st->core());

// Close: overlapped requests complete with `error` (their completion
// actions happen); blocked callers see the socket closing (WSAEINTR).
void cancel_requests(wsp_socket& s, int error) LWSP_REQUIRES(s.st->core());

// Notified on every overlapped completion; WSPGetOverlappedResult waits on it.
platform::condvar& completion_cv();

}  // namespace lwsp::wsp
