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

#include <deque>
#include <memory>
#include <vector>

#include "lwsp/endpoint.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

struct wsp_socket;

struct io_request {
    bool is_recv = true;
    bool owned = false;      // overlapped: the queue owns it and frees it once completed
    bool may_wait = true;    // false (nonblocking): finishes with what one attempt gives
    bool peek = false;       // MSG_PEEK
    bool wait_all = false;   // MSG_WAITALL: a stream receive fills every buffer

    const WSABUF* bufs = nullptr;  // the caller's array, or own_bufs
    DWORD count = 0;
    std::vector<WSABUF> own_bufs;  // overlapped: the array captured at the call (Winsock's rule)
    std::size_t total = 0;         // bytes the buffers hold
    std::size_t done = 0;          // bytes moved so far

    bool has_to = false;  // WSPSendTo's destination
    sock_address to{};
    bool want_from = false;  // WSPRecvFrom's source, once known
    bool got_from = false;
    sock_address from{};

    // Overlapped completion target.
    LPWSAOVERLAPPED ov = nullptr;
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine = nullptr;
    WSATHREADID thread{};            // a copy, as ws2 requires
    bool own_thread = false;         // opened by us: closed after completion
    struct sockaddr* from_out = nullptr;  // overlapped WSPRecvFrom: written at completion
    LPINT fromlen_out = nullptr;

    // Result, written only when the request finishes.
    bool finished = false;
    bool submitting = false;  // its call is still running: the call reports the result
    int error = 0;            // 0, WSAEMSGSIZE (a truncated datagram), or the failure
};

using request_queue = std::deque<io_request*>;

// Captures an overlapped call's completion target: with a routine and no
// thread id (a direct caller, not ws2) the calling thread is opened through
// WPUOpenCurrentThread.  Returns 0 or WSAEINVAL.
int set_overlapped(io_request& r, LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                   LPWSATHREADID thread);

// Runs a blocking or nonblocking request (r lives on the caller's stack).
// Returns its result — 0 or WSAEMSGSIZE with r.done bytes, or an error:
// WSAEWOULDBLOCK (nonblocking), WSAEINTR, WSAETIMEDOUT (`timeout_ms`, 0 =
// none) or WSAENETDOWN for a blocking one that could not finish.
int perform(core_lock& lk, wsp_socket& s, io_request& r, DWORD timeout_ms);

// Starts an overlapped request.  Returns 0 when it finished at once
// (*bytes, *flags written, completion action queued), WSA_IO_PENDING, or an
// error: then there is no completion indication at all.
int submit_overlapped(wsp_socket& s, std::unique_ptr<io_request> r, LPDWORD bytes, LPDWORD flags);

// Completes an overlapped operation that finished inside its call (ioctls).
void complete_at_once(wsp_socket& s, io_request& r, DWORD bytes);

// Runs the socket's queued requests as far as the transport allows.
void pump(wsp_socket& s);

// WSPShutdown(SD_SEND): blocked sends end with WSAESHUTDOWN; overlapped ones
// stay and the FIN follows them.  Returns true if sends remain queued.
bool end_blocked_sends(wsp_socket& s);

// Close: overlapped requests complete with `error` (their completion
// actions happen); blocked callers see the socket closing (WSAEINTR).
void cancel_requests(wsp_socket& s, int error);

// Notified on every overlapped completion; WSPGetOverlappedResult waits on it.
std::condition_variable& completion_cv();

}  // namespace lwsp::wsp
