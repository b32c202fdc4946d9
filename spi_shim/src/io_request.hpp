// Internal: one send or receive on its way through its socket's queue
// (requests.hpp runs them).
#pragma once

#include <vector>

#include "lwsp/endpoint.hpp"
#include "lwsp/fifo.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

// One request; its fields belong to its socket's core lock (the caller that
// made it, or the queue, under that lock).
struct io_request {
    bool is_recv = true;
    bool owned = false;     // overlapped: the queue owns it and frees it once completed
    bool may_wait = true;   // false (nonblocking): finishes with what one attempt gives
    bool peek = false;      // MSG_PEEK
    bool wait_all = false;  // MSG_WAITALL: a stream receive fills every buffer

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
    WSATHREADID thread{};                 // a copy, as ws2 requires
    bool own_thread = false;              // opened by us: closed after completion
    struct sockaddr* from_out = nullptr;  // overlapped WSPRecvFrom: written at completion
    LPINT fromlen_out = nullptr;

    // Result, written only when the request finishes.
    bool finished = false;
    bool submitting = false;  // its call is still running: the call reports the result
    int error = 0;            // 0, WSAEMSGSIZE (a truncated datagram), or the failure
};

using request_queue = detail::fifo<io_request*>;

}  // namespace lwsp::wsp
