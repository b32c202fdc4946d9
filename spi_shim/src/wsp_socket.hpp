// Internal: the provider's socket object.  One per SOCKET handle, shared
// (handle table + calls in flight), so a thread blocked on it keeps it alive
// after the handle closes.  It composes the parts that keep their own
// invariants — the transport (the endpoint behind one interface), the
// event-select record, the request queues — with the Winsock-level options.
// Everything is guarded by its stack's core lock except what is set once at
// creation (the stack, family/type/protocol, the handles).
#pragma once

#include <cstdint>
#include <vector>

#include "event_record.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/ws2spi.h"
#include "io_request.hpp"
#include "transport.hpp"

namespace lwsp::wsp {

struct wsp_socket;
void on_socket_event(wsp_socket& sock, endpoint_event ev, net_error err);

// Options kept at Winsock level (the endpoints hold the ones lwIP uses).
struct socket_options {
    struct linger linger = {0, 0};
    DWORD recv_timeout_ms = 0;  // SO_RCVTIMEO, 0 = forever
    DWORD send_timeout_ms = 0;  // SO_SNDTIMEO
    bool oob_inline = false;
    bool debug = false;
    bool dont_route = false;
    int recv_buffer = 65535;    // SO_RCVBUF as set (round-trips exactly); TCP: the window until set
    int send_buffer = 65535;    // SO_SNDBUF; TCP: the send buffer until set
    int so_error_override = 0;  // SO_ERROR set by the application
};

struct wsp_socket final : endpoint_sink {
    wsp_socket(stack& s, int af, int socket_type, int proto, DWORD wsa_flags)
        : hold(s), st(&s), family(af), type(socket_type), protocol(proto), flags(wsa_flags) {}

    // Declared first, so released last: the endpoint points at the stack,
    // and a retired stack (lwsp_stop) is deleted with its last user.
    stack_hold hold;
    stack* const st;  // the stack the socket lives on (a stopped one stays valid while held)

    const int family;
    const int type;
    const int protocol;
    const DWORD flags;                // WSA_FLAG_*
    SOCKET handle = INVALID_SOCKET;   // what the application holds
    std::uintptr_t table_handle = 0;  // our handle table's name for it

    // Everything below is the socket's state, guarded by its stack's core
    // lock (lwsp/thread_safety.hpp checks it).
    bool nonblocking LWSP_GUARDED_BY(st->core()) = false;  // FIONBIO
    // WSPCloseSocket began: blocked calls return WSAEINTR, new ones WSAENOTSOCK.
    bool closing LWSP_GUARDED_BY(st->core()) = false;
    socket_options opts LWSP_GUARDED_BY(st->core());

    bool connect_pending LWSP_GUARDED_BY(st->core()) = false;  // a nonblocking connect is under way
    // The last connect failed (WSPSelect's exceptfds until the next).
    bool connect_failed LWSP_GUARDED_BY(st->core()) = false;

    transport io LWSP_GUARDED_BY(st->core());
    event_record events LWSP_GUARDED_BY(st->core());

    // Requests in issue order, one queue per direction (requests.hpp).
    request_queue recv_q LWSP_GUARDED_BY(st->core());
    request_queue send_q LWSP_GUARDED_BY(st->core());
    bool fin_after_sends LWSP_GUARDED_BY(st->core()) = false;  // SD_SEND waits for the queued sends
    bool pumping LWSP_GUARDED_BY(st->core()) = false;          // pump() is running (lwIP may re-enter it)
    bool pump_again LWSP_GUARDED_BY(st->core()) = false;

    platform::condvar cv;  // blocked callers wait here
    // Other waiters interested in this socket (WSPSelect registers here).
    std::vector<platform::condvar*> watchers LWSP_GUARDED_BY(st->core());

    bool is_stream() const { return type == SOCK_STREAM; }
    bool v6() const { return family == AF_INET6; }

    // Wakes everyone waiting on this socket.
    void wake() LWSP_REQUIRES(st->core()) {
        cv.notify_all();
        wake_watchers();
    }
    // Wakes the WSPSelect calls watching this socket only.
    void wake_watchers() LWSP_REQUIRES(st->core()) {
        for (platform::condvar* w : watchers) w->notify_all();
    }
    // From inside lwIP, which holds the core lock for every callback.
    void on_endpoint_event(endpoint_event ev, net_error err) override {
        st->assert_core_held();
        on_socket_event(*this, ev, err);
    }
};

// Endpoint events reach the socket here (events.cpp): queued requests make
// progress and WSPEventSelect records FD_* events.
void on_socket_event(wsp_socket& sock, endpoint_event ev, net_error err) LWSP_REQUIRES(sock.st->core());

}  // namespace lwsp::wsp
