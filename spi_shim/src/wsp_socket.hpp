// Internal: the provider's socket object.  One per SOCKET handle; owns the
// stack endpoint and every Winsock-level option.  All fields are guarded by
// the stack's core lock; the object itself is shared (handle table + calls in
// flight), so a thread blocked on it keeps it alive after the handle closes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "lwsp/tcp_endpoint.hpp"
#include "lwsp/udp_endpoint.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

struct wsp_socket;
// Endpoint events reach the socket here (async.cpp): overlapped operations
// make progress and WSPEventSelect records FD_* events.
void on_socket_event(wsp_socket& sock, endpoint_event ev, net_error err);

// One pending overlapped WSPSend/WSPSendTo/WSPRecv/WSPRecvFrom.
struct overlapped_op {
    bool is_recv = true;
    std::vector<WSABUF> buffers;       // the caller's buffer array (the memory stays the caller's)
    std::size_t total = 0;             // bytes the buffers hold
    std::size_t done = 0;              // bytes transferred so far (partial TCP send)
    std::vector<std::uint8_t> datagram;  // UDP send: the gathered datagram
    LPWSAOVERLAPPED ov = nullptr;
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine = nullptr;
    WSATHREADID thread{};              // a copy, as ws2 requires
    bool own_thread = false;           // opened by us: close after completion
    struct sockaddr* from = nullptr;   // WSPRecvFrom: written at completion
    LPINT fromlen = nullptr;
};

struct wsp_socket final : endpoint_sink {
    explicit wsp_socket(stack& s) : hold(s), st(&s) {}

    // Declared first, so released last: the endpoints below point at the
    // stack, and a retired stack (lwsp_stop) is deleted with its last user.
    stack_hold hold;
    stack* const st;  // the stack the socket lives on (a stopped one stays valid while held)

    int family = AF_INET;
    int type = SOCK_STREAM;
    int protocol = IPPROTO_TCP;
    DWORD flags = 0;           // WSA_FLAG_*
    SOCKET handle = INVALID_SOCKET;       // what the application holds
    std::uintptr_t table_handle = 0;      // our handle table's name for it

    bool nonblocking = false;  // FIONBIO
    bool closing = false;      // WSPCloseSocket began: blocked calls return WSAEINTR

    // Options kept at Winsock level (the endpoints hold the ones lwIP uses).
    struct linger linger_opt = {0, 0};
    DWORD recv_timeout_ms = 0;  // SO_RCVTIMEO, 0 = forever
    DWORD send_timeout_ms = 0;  // SO_SNDTIMEO
    bool oob_inline = false;
    bool debug = false;
    bool dont_route = false;
    int recv_buffer = 65535;    // SO_RCVBUF as set (round-trips exactly); TCP: the window until set
    int send_buffer = 65535;    // SO_SNDBUF; TCP: the send buffer until set
    int so_error_override = 0;  // SO_ERROR set by the application

    bool connect_pending = false;  // a nonblocking connect is under way
    bool connect_failed = false;   // the last connect attempt failed (WSPSelect's exceptfds)

    // Overlapped operations waiting for data or send space, oldest first.
    std::deque<std::unique_ptr<overlapped_op>> recv_ops;
    std::deque<std::unique_ptr<overlapped_op>> send_ops;
    bool fin_after_sends = false;  // WSPShutdown(SD_SEND) waits for the pending sends

    // WSPEventSelect: the registration, what has been recorded since the
    // last WSPEnumNetworkEvents, and which events may be recorded again.
    WSAEVENT select_event = nullptr;
    long select_mask = 0;
    long recorded = 0;
    int event_errors[FD_MAX_EVENTS] = {};
    long armed = FD_READ | FD_ACCEPT | FD_OOB;  // FD_WRITE arms on connect/accept or WSAEWOULDBLOCK
    bool close_reported = false;
    net_error close_reason = net_error::ok;
    bool close_pending = false;  // the peer closed; FD_CLOSE waits for unread data to go

    std::unique_ptr<tcp_endpoint> tcp;
    std::unique_ptr<udp_endpoint> udp;

    std::condition_variable cv;  // blocked callers wait here
    // Other waiters interested in this socket (WSPSelect registers here).
    std::vector<std::condition_variable*> watchers;

    bool is_stream() const { return type == SOCK_STREAM; }
    bool v6() const { return family == AF_INET6; }

    // Wakes everyone waiting on this socket; core lock held.
    void wake() {
        cv.notify_all();
        for (std::condition_variable* w : watchers) w->notify_all();
    }
    void on_endpoint_event(endpoint_event ev, net_error err) override { on_socket_event(*this, ev, err); }
};

}  // namespace lwsp::wsp
