// Internal: how endpoint events and calls become WSPEventSelect's network
// events (events.cpp; the record itself is event_record.hpp).  Core lock
// held.
#pragma once

#include "lwsp/stack.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

struct wsp_socket;

// Signals an event object through WPUSetEvent once the core lock is released.
void signal_event(stack& st, WSAEVENT ev);

// Re-enabling calls: a receive (any result), a send that failed
// WSAEWOULDBLOCK, an accept.
void after_recv(wsp_socket& sock);
void after_send_would_block(wsp_socket& sock);
void after_accept(wsp_socket& listener);
// Gives a just-accepted socket the listener's registration and records
// what happened to the connection before the accept.
void inherit_event_select(const wsp_socket& listener, wsp_socket& accepted);

}  // namespace lwsp::wsp
