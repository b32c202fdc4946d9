// Internal: one socket's WSPEventSelect state — the registration (event
// object and mask), the network-event record with each event's error code,
// and which events may be recorded again (Winsock's re-enabling rules).
//
// Invariants the class keeps:
//  - an event is recorded at most once per enabling: record() clears its
//    armed bit, and only a re-enabling call (arm) sets it again;
//  - an event is recorded whether or not it is selected; only a selected
//    one asks for the event object to be signalled;
//  - FD_WRITE that is not selected stays owed instead of recorded (a later
//    registration records it if the socket can still send);
//  - FD_CLOSE is recorded once, and not before the unread data is gone
//    (close_pending holds it back with its reason).
// Everything under the socket's core lock.
#pragma once

#include "lwsp/net_error.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

class event_record {
public:
    // WSPEventSelect.  Keeps what is recorded and not yet enumerated, and
    // re-enables FD_READ/FD_ACCEPT/FD_OOB for what arrives next.  Returns
    // true when a selected event is already recorded (signal at once).
    bool select(WSAEVENT event, long mask);
    // Close: no registration, nothing recorded.
    void clear();

    bool active() const { return mask_ != 0; }
    WSAEVENT event() const { return event_; }
    long mask() const { return mask_; }
    bool selected(long bit) const { return (mask_ & bit) != 0; }

    // Records `bit` with `error` if it is enabled.  Returns true when the
    // event object must be signalled.
    bool record(long bit, int error);
    // A re-enabling call: `bits` may be recorded again, and what they
    // recorded before is stale.
    void arm(long bits);
    // Enables `bits` without dropping what is recorded (a new connection's
    // FD_CONNECT/FD_WRITE, a registration's FD_READ/FD_ACCEPT/FD_OOB).
    void enable(long bits) { armed_ |= bits; }
    bool armed(long bit) const { return (armed_ & bit) != 0; }

    // WSPEnumNetworkEvents: reports and clears the selected events.
    void enumerate(WSANETWORKEVENTS& out);

    // FD_CLOSE: the connection ended (`reason` ok for the peer's FIN); it is
    // recorded at once, or — while data is `unread` — held back until a
    // receive takes the last byte.  Returns true to signal.
    bool connection_ended(net_error reason, bool unread);
    // After a receive: records a held-back FD_CLOSE once nothing is unread.
    bool after_read(bool unread);

private:
    WSAEVENT event_ = nullptr;
    long mask_ = 0;
    long recorded_ = 0;
    int errors_[FD_MAX_EVENTS] = {};
    long armed_ = FD_READ | FD_ACCEPT | FD_OOB;  // FD_WRITE/FD_CONNECT arm on connect/accept or WSAEWOULDBLOCK
    bool close_reported_ = false;
    bool close_pending_ = false;
    net_error close_reason_ = net_error::ok;
};

}  // namespace lwsp::wsp
