// Network events: endpoint events become FD_* records (event_record.hpp has
// the rules), queued requests make progress, and WSPEventSelect /
// WSPEnumNetworkEvents.
//
// WSPEventSelect records FD_* events following WSAEventSelect's re-enabling
// rules: an event, once recorded, is recorded again only after the call that
// re-enables it (recv for FD_READ, accept for FD_ACCEPT, a send that failed
// WSAEWOULDBLOCK for FD_WRITE); FD_CONNECT and FD_CLOSE happen once.  Events
// are recorded whether selected or not (a later registration reports them);
// a repeated registration keeps the record and records nothing again for a
// condition already reported, as Windows does (docs/design.md).
#include "events.hpp"

#include "error_table.hpp"
#include "provider.hpp"
#include "requests.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

void note(wsp_socket& s, long bit, int error = 0) LWSP_REQUIRES(s.st->core()) {
    if (s.events.record(bit, error)) signal_event(*s.st, s.events.event());
}

void note_end(wsp_socket& s, net_error reason) LWSP_REQUIRES(s.st->core()) {
    if (s.events.connection_ended(reason, s.io.has_unread_data())) signal_event(*s.st, s.events.event());
}

// Records what is true for a socket that has just been accepted.
void record_current(wsp_socket& s) LWSP_REQUIRES(s.st->core()) {
    tcp_endpoint& ep = *s.io.tcp();
    if (ep.bytes_readable() > 0) note(s, FD_READ);
    if (ep.current_state() == tcp_endpoint::state::connected && ep.writable()) note(s, FD_WRITE);
    const bool ended = ep.eof() || ep.current_state() == tcp_endpoint::state::closed;
    if (ended && (ep.eof() || ep.fate() != net_error::ok)) note_end(s, ep.eof() ? net_error::ok : ep.fate());
}

// FD_WRITE is owed to a connected or accepted socket and to a bound datagram
// socket until it is recorded: a registration records it if a send can go.
bool can_send_now(const wsp_socket& s) LWSP_REQUIRES(s.st->core()) {
    if (tcp_endpoint* ep = s.io.tcp()) return ep->current_state() == tcp_endpoint::state::connected && ep->writable();
    return s.io.udp() != nullptr && s.io.udp()->bound();
}

}  // namespace

void signal_event(stack& st, WSAEVENT ev) {
    if (ev == nullptr) return;
    const WSPUPCALLTABLE up = provider().settings().upcalls;
    st.defer([up, ev] {
        int err = 0;
        if (up.lpWPUSetEvent) up.lpWPUSetEvent(ev, &err);
    });
}

void on_socket_event(wsp_socket& sock, endpoint_event ev, net_error err) {
    // Room to send concerns only queued sends, which pump() below completes
    // (finish() wakes their callers), and WSPSelect: a thread blocked in a
    // receive, an accept or a connect has nothing to gain from it, and
    // waking it for every ACK cost two context switches per request and
    // reply.
    if (ev == endpoint_event::writable)
        sock.wake_watchers();
    else
        sock.wake();
    if (sock.closing) return;  // nothing is reported after close
    pump(sock);
    switch (ev) {
        case endpoint_event::readable:
            if (sock.io.listening()) {
                if (sock.io.tcp()->pending_accepts() > 0) note(sock, FD_ACCEPT);
            } else if (sock.io.has_unread_data()) {
                note(sock, FD_READ);
            }
            break;
        case endpoint_event::accept:
            if (sock.io.tcp()->pending_accepts() > 0) note(sock, FD_ACCEPT);
            break;
        case endpoint_event::writable:
            if (sock.io.stream() && sock.io.tcp()->current_state() == tcp_endpoint::state::connected &&
                sock.io.writable())
                note(sock, FD_WRITE);
            break;
        case endpoint_event::connect:
            sock.connect_failed = err != net_error::ok;
            sock.events.enable(FD_CONNECT);
            note(sock, FD_CONNECT, to_wsa(err));
            if (err == net_error::ok) {
                sock.events.enable(FD_WRITE);
                note(sock, FD_WRITE);
            }
            break;
        case endpoint_event::close:
            // FD_CLOSE after the data: while unread data remains it waits for
            // the receive that takes the last byte.
            note_end(sock, err);
            break;
    }
}

void after_recv(wsp_socket& sock) {
    if (sock.closing) return;  // the endpoint is gone
    sock.events.arm(FD_READ);
    const bool unread = sock.io.has_unread_data();
    if (unread) note(sock, FD_READ);
    if (sock.events.after_read(unread)) signal_event(*sock.st, sock.events.event());
}

void after_send_would_block(wsp_socket& sock) { sock.events.arm(FD_WRITE); }

void after_accept(wsp_socket& listener) {
    if (listener.closing) return;
    listener.events.arm(FD_ACCEPT);
    if (listener.io.tcp()->pending_accepts() > 0) note(listener, FD_ACCEPT);
}

void inherit_event_select(const wsp_socket& listener, wsp_socket& accepted) {
    if (listener.events.active()) {
        accepted.events.select(listener.events.event(), listener.events.mask());
        accepted.nonblocking = true;
    }
    accepted.events.enable(FD_WRITE);  // owed to an accepted socket, selected or not
    record_current(accepted);          // what happened before the accept
}

// ---- entry points ------------------------------------------------------------

int WSPAPI WSPEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if ((lNetworkEvents & ~static_cast<long>(FD_ALL_EVENTS)) != 0) return fail(lpErrno, WSAEINVAL);
    if (lNetworkEvents != 0 && hEventObject == nullptr) return fail(lpErrno, WSAEINVAL);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    // The record (what happened and was not yet enumerated) is kept; a
    // selected event in it signals the new event object at once.  Nothing
    // is recorded again for a condition that still holds, but FD_WRITE owed
    // since the connect/accept (or a WSAEWOULDBLOCK) is recorded now.
    const bool signal_now = so.events.select(hEventObject, lNetworkEvents);
    if (lNetworkEvents == 0) return 0;
    so.nonblocking = true;  // WSPEventSelect makes the socket nonblocking
    if (can_send_now(so)) note(so, FD_WRITE);
    if (signal_now) signal_event(*so.st, so.events.event());
    return 0;
}

int WSPAPI WSPEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (lpNetworkEvents == nullptr) return fail(lpErrno, WSAEFAULT);
    // The event is reset before the record is taken (outside the core lock:
    // it is an upcall): an event recorded in between is in the record
    // returned, and one recorded after signals the event again.  The other
    // order could lose one — reset after it was signalled.
    if (hEventObject != nullptr) {
        const WSPUPCALLTABLE up = provider().settings().upcalls;
        int err = 0;
        if (up.lpWPUResetEvent && !up.lpWPUResetEvent(hEventObject, &err)) return fail(lpErrno, WSAEINVAL);
    }
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    so.events.enumerate(*lpNetworkEvents);
    return 0;
}

BOOL WSPAPI WSPGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer, BOOL fWait,
                                   LPDWORD lpdwFlags, LPINT lpErrno) {
    if (lpErrno == nullptr) return FALSE;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock); e != 0 && (e != WSAENETDOWN || !sock)) {
        *lpErrno = e;
        return FALSE;
    }
    if (lpOverlapped == nullptr || lpcbTransfer == nullptr || lpdwFlags == nullptr) {
        *lpErrno = WSAEFAULT;
        return FALSE;
    }
    // The socket's own stack (a stopped one included: a completion may have
    // happened before it stopped).
    stack& st = *sock->st;
    core_lock lk(st);
    if (lpOverlapped->Internal == WSS_OPERATION_IN_PROGRESS) {
        if (!fWait) {
            *lpErrno = WSA_IO_INCOMPLETE;
            return FALSE;
        }
        st.wait(lk, completion_cv(), [&] { return lpOverlapped->Internal != WSS_OPERATION_IN_PROGRESS; });
        if (lpOverlapped->Internal == WSS_OPERATION_IN_PROGRESS) {
            *lpErrno = WSAENETDOWN;
            return FALSE;
        }
    }
    *lpcbTransfer = static_cast<DWORD>(lpOverlapped->InternalHigh);
    *lpdwFlags = lpOverlapped->Offset;
    if (lpOverlapped->OffsetHigh != 0) {
        *lpErrno = static_cast<int>(lpOverlapped->OffsetHigh);
        return FALSE;
    }
    return TRUE;
}

}  // namespace lwsp::wsp
