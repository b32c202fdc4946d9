// Internal: how endpoint events and calls become WSPEventSelect's network
// events (events.cpp; the record itself is event_record.hpp).  Core lock
// held.
#pragma once

#include "lwsp/ws2spi.h"
#include "wsp_socket.hpp"

namespace lwsp::wsp {

// Signals an event object through WPUSetEvent once the core lock is released.
void signal_event(stack& st, WSAEVENT ev) LWSP_REQUIRES(st.core());

// Re-enabling calls: a receive (any result), a send that failed
// WSAEWOULDBLOCK, an accept.
void after_recv(wsp_socket& sock) LWSP_REQUIRES(sock.st->core());
void after_send_would_block(wsp_socket& sock) LWSP_REQUIRES(sock.st->core());
void after_accept(wsp_socket& listener) LWSP_REQUIRES(listener.st->core());
// Gives a just-accepted socket the listener's registration and records
// what happened to the connection before the accept.
void inherit_event_select(const wsp_socket& listener, wsp_socket& accepted)
    LWSP_REQUIRES(listener.st->core(), accepted.st->core());

}  // namespace lwsp::wsp
