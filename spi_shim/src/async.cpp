// Overlapped I/O and network-event selection.
//
// Overlapped operations complete at once when they can (success, with the
// completion action still performed) or wait on the socket, oldest first, and
// make progress whenever the endpoint reports data or send space.  A
// completion writes the OVERLAPPED (Internal 0, InternalHigh bytes, Offset
// flags, OffsetHigh the error) under the core lock, then — after the lock is
// released (stack::defer) — signals hEvent through WPUSetEvent or queues the
// completion routine to the issuing thread through WPUQueueApc.
//
// WSPEventSelect records FD_* events following WSAEventSelect's re-enabling
// rules: an event, once recorded, is recorded again only after the call that
// re-enables it (recv for FD_READ, accept for FD_ACCEPT, a send that failed
// WSAEWOULDBLOCK for FD_WRITE); FD_CONNECT and FD_CLOSE happen once.  Events
// are recorded whether selected or not (a later registration reports them);
// a repeated registration keeps the record and records nothing again for a
// condition already reported, as Windows does (docs/design.md).
#include "async.hpp"

#include <cstring>

#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

struct apc_call {
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
    DWORD error;
    DWORD bytes;
    LPWSAOVERLAPPED ov;
    DWORD flags;
};

void CALLBACK run_completion_routine(DWORD_PTR context) {
    std::unique_ptr<apc_call> c(reinterpret_cast<apc_call*>(context));
    c->routine(c->error, c->bytes, c->ov, c->flags);
}

int fd_index(long bit) {
    int i = 0;
    while ((1L << i) != bit) ++i;
    return i;
}

void signal_event(stack& st, WSAEVENT ev) {
    if (ev == nullptr) return;
    const WSPUPCALLTABLE up = provider().upcalls;
    st.defer([up, ev] {
        int err = 0;
        if (up.lpWPUSetEvent) up.lpWPUSetEvent(ev, &err);
    });
}

void complete(stack& st, overlapped_op& op, int error, DWORD bytes, DWORD flags) {
    op.ov->Internal = 0;
    op.ov->InternalHigh = bytes;
    op.ov->Offset = flags;
    op.ov->OffsetHigh = static_cast<DWORD>(error);
    const WSPUPCALLTABLE up = provider().upcalls;
    if (op.routine != nullptr) {
        // With a completion routine hEvent is not signalled (as Windows).
        auto* call = new apc_call{op.routine, static_cast<DWORD>(error), bytes, op.ov, flags};
        const WSATHREADID thread = op.thread;
        const bool own = op.own_thread;
        st.defer([up, thread, call, own] {
            WSATHREADID t = thread;
            int err = 0;
            if (up.lpWPUQueueApc == nullptr ||
                up.lpWPUQueueApc(&t, &run_completion_routine, reinterpret_cast<DWORD_PTR>(call), &err) != 0)
                delete call;
            if (own && up.lpWPUCloseThread) up.lpWPUCloseThread(&t, &err);
        });
    } else {
        signal_event(st, op.ov->hEvent);
    }
    completion_cv().notify_all();
}

// An operation that fails at once never completes: the thread id opened
// for it (no lpThreadId given) is closed, after the core lock is released.
void release_thread(stack& st, overlapped_op& op) {
    if (!op.own_thread) return;
    op.own_thread = false;
    const WSPUPCALLTABLE up = provider().upcalls;
    const WSATHREADID thread = op.thread;
    st.defer([up, thread] {
        WSATHREADID t = thread;
        int err = 0;
        if (up.lpWPUCloseThread) up.lpWPUCloseThread(&t, &err);
    });
}

// Runs the oldest pending operations as far as the endpoint allows.
void progress(wsp_socket& sock) {
    while (!sock.recv_ops.empty()) {
        overlapped_op& op = *sock.recv_ops.front();
        sock_address from{};
        DWORD got = 0;
        const int r = recv_once(sock, op.buffers.data(), static_cast<DWORD>(op.buffers.size()), op.total, false,
                                op.from ? &from : nullptr, got);
        if (r == WSAEWOULDBLOCK) break;
        if ((r == 0 || r == WSAEMSGSIZE) && op.from != nullptr) to_sockaddr(from, op.from, op.fromlen);
        complete(*sock.st, op, r, got, r == WSAEMSGSIZE ? MSG_PARTIAL : 0);
        sock.recv_ops.pop_front();
        after_recv(sock);
    }
    while (!sock.send_ops.empty()) {
        overlapped_op& op = *sock.send_ops.front();
        DWORD sent = 0;
        // A zero-byte send completes in its turn (it has nothing to queue).
        const int r = !op.datagram.empty() ? WSAEWOULDBLOCK
                      : op.total == 0      ? 0
                                           : send_once(sock, op.buffers.data(), static_cast<DWORD>(op.buffers.size()),
                                                       op.total, op.done, nullptr, sent);
        if (r == WSAEWOULDBLOCK) break;
        if (r != 0) {
            complete(*sock.st, op, r, static_cast<DWORD>(op.done), 0);
            sock.send_ops.pop_front();
            continue;
        }
        op.done += sent;
        if (op.done < op.total) break;
        complete(*sock.st, op, 0, static_cast<DWORD>(op.done), 0);
        sock.send_ops.pop_front();
    }
    if (sock.fin_after_sends && sock.send_ops.empty() && sock.tcp) {
        sock.fin_after_sends = false;
        sock.tcp->shutdown(false, true);  // the FIN goes behind the last pending byte
    }
}

// Records an occurrence whether or not the event is selected now (a later
// registration that selects it sees it); only a selected one signals.
void record(wsp_socket& s, long bit, int error) {
    if ((s.armed & bit) == 0) return;
    // FD_WRITE not selected stays owed: the registration that selects it
    // records it if the socket can still send.
    if (bit == FD_WRITE && (s.select_mask & FD_WRITE) == 0) return;
    s.armed &= ~bit;
    s.recorded |= bit;
    s.event_errors[fd_index(bit)] = error;
    if ((s.select_mask & bit) != 0) signal_event(*s.st, s.select_event);
}

int close_error(net_error why) {
    switch (why) {
        case net_error::ok: return 0;
        case net_error::connection_reset: return WSAECONNRESET;
        case net_error::connection_aborted: return WSAECONNABORTED;
        default: return to_wsa(why);
    }
}

bool has_unread_data(wsp_socket& s) {
    return s.tcp ? s.tcp->bytes_readable() > 0 : s.udp->readable();
}

// Records what is true now (used at registration and after re-enabling).
void record_current(wsp_socket& s) {
    if (s.tcp) {
        tcp_endpoint& ep = *s.tcp;
        if (ep.is_listening()) {
            if (ep.pending_accepts() > 0) record(s, FD_ACCEPT, 0);
            return;
        }
        if (ep.bytes_readable() > 0) record(s, FD_READ, 0);
        if (ep.current_state() == tcp_endpoint::state::connected && ep.writable()) record(s, FD_WRITE, 0);
        const bool ended = ep.eof() || ep.current_state() == tcp_endpoint::state::closed;
        // Ended before the registration with data still unread: FD_CLOSE
        // follows the receive that takes the last byte (after_recv).
        if (ended && ep.bytes_readable() > 0 && !s.close_reported && (ep.eof() || ep.fate() != net_error::ok)) {
            s.close_pending = true;
            s.close_reason = ep.eof() ? net_error::ok : ep.fate();
        }
        if (ended && ep.bytes_readable() == 0 && !s.close_reported && (s.close_pending || ep.eof() || ep.fate() != net_error::ok)) {
            s.close_reported = true;
            s.armed |= FD_CLOSE;
            record(s, FD_CLOSE, close_error(ep.eof() ? net_error::ok : ep.fate()));
        }
    } else {
        if (s.udp->readable()) record(s, FD_READ, 0);
        record(s, FD_WRITE, 0);
    }
}

}  // namespace

std::condition_variable& completion_cv() {
    static std::condition_variable* cv = new std::condition_variable;  // lives as long as the provider
    return *cv;
}

void on_socket_event(wsp_socket& sock, endpoint_event ev, net_error err) {
    sock.wake();
    if (sock.closing) return;  // nothing is reported after close
    progress(sock);
    switch (ev) {
        case endpoint_event::readable:
            if (sock.tcp && sock.tcp->is_listening()) {
                if (sock.tcp->pending_accepts() > 0) record(sock, FD_ACCEPT, 0);
            } else if (has_unread_data(sock)) {
                record(sock, FD_READ, 0);
            }
            break;
        case endpoint_event::accept:
            if (sock.tcp->pending_accepts() > 0) record(sock, FD_ACCEPT, 0);
            break;
        case endpoint_event::writable:
            if (sock.tcp && sock.tcp->current_state() == tcp_endpoint::state::connected && sock.tcp->writable())
                record(sock, FD_WRITE, 0);
            break;
        case endpoint_event::connect:
            sock.connect_failed = err != net_error::ok;
            sock.armed |= FD_CONNECT;
            record(sock, FD_CONNECT, to_wsa(err));
            if (err == net_error::ok) {
                sock.armed |= FD_WRITE;
                record(sock, FD_WRITE, 0);
            }
            break;
        case endpoint_event::close:
            if (sock.close_reported) break;
            // FD_CLOSE after the data: while unread data remains it waits
            // for the receive that takes the last byte.
            if (has_unread_data(sock)) {
                sock.close_pending = true;
                sock.close_reason = err;
                break;
            }
            sock.close_reported = true;
            sock.armed |= FD_CLOSE;
            record(sock, FD_CLOSE, close_error(err));
            break;
    }
}

void after_recv(wsp_socket& sock) {
    if (sock.closing) return;  // the endpoint is gone
    sock.armed |= FD_READ;
    sock.recorded &= ~FD_READ;  // re-enabled: what it recorded is stale
    if (has_unread_data(sock)) record(sock, FD_READ, 0);
    if (sock.close_pending && !has_unread_data(sock) && !sock.close_reported) {
        sock.close_reported = true;
        sock.armed |= FD_CLOSE;
        record(sock, FD_CLOSE, close_error(sock.close_reason));
    }
}

void after_send_would_block(wsp_socket& sock) {
    sock.armed |= FD_WRITE;
    sock.recorded &= ~FD_WRITE;
}

void after_accept(wsp_socket& listener) {
    if (listener.closing) return;
    listener.armed |= FD_ACCEPT;
    listener.recorded &= ~FD_ACCEPT;
    if (listener.tcp->pending_accepts() > 0) record(listener, FD_ACCEPT, 0);
}

void inherit_event_select(const wsp_socket& listener, wsp_socket& accepted) {
    if (listener.select_mask != 0) {
        accepted.select_event = listener.select_event;
        accepted.select_mask = listener.select_mask;
        accepted.nonblocking = true;
    }
    accepted.armed |= FD_WRITE;  // owed to an accepted socket, selected or not
    record_current(accepted);    // what happened before the accept
}

void clear_event_select(wsp_socket& sock) {
    sock.select_event = nullptr;
    sock.select_mask = 0;
    sock.recorded = 0;
}

int submit_overlapped(core_lock& lk, wsp_socket& sock, std::unique_ptr<overlapped_op> op, const sock_address* to,
                      LPDWORD bytes) {
    (void)lk;
    op->ov->Internal = WSS_OPERATION_IN_PROGRESS;
    op->ov->InternalHigh = 0;
    if (op->is_recv) {
        if (sock.recv_ops.empty()) {
            sock_address from{};
            DWORD got = 0;
            const int r = recv_once(sock, op->buffers.data(), static_cast<DWORD>(op->buffers.size()), op->total,
                                    false, op->from ? &from : nullptr, got);
            if (r == 0) {
                if (op->from != nullptr) to_sockaddr(from, op->from, op->fromlen);
                if (bytes) *bytes = got;
                complete(*sock.st, *op, 0, got, 0);
                after_recv(sock);
                return 0;
            }
            if (r != WSAEWOULDBLOCK) {
                op->ov->Internal = 0;
                release_thread(*sock.st, *op);
                if (r == WSAEMSGSIZE && bytes) *bytes = got;
                after_recv(sock);
                return r;  // no completion indication
            }
        }
        sock.recv_ops.push_back(std::move(op));
        return WSA_IO_PENDING;
    }
    // Sends.
    if (sock.udp) {  // a datagram goes at once or not at all
        DWORD sent = 0;
        const int r = send_once(sock, op->buffers.data(), static_cast<DWORD>(op->buffers.size()), op->total, 0, to,
                                sent);
        if (r != 0) {
            op->ov->Internal = 0;
            release_thread(*sock.st, *op);
            return r;
        }
        if (bytes) *bytes = sent;
        complete(*sock.st, *op, 0, sent, 0);
        return 0;
    }
    if (sock.send_ops.empty()) {
        DWORD sent = 0;
        const int r = op->total == 0 ? 0
                                     : send_once(sock, op->buffers.data(), static_cast<DWORD>(op->buffers.size()),
                                                 op->total, 0, nullptr, sent);
        if (r != 0 && r != WSAEWOULDBLOCK) {
            op->ov->Internal = 0;
            release_thread(*sock.st, *op);
            return r;
        }
        if (r == WSAEWOULDBLOCK) after_send_would_block(sock);
        op->done = sent;
        if (op->done == op->total) {
            if (bytes) *bytes = static_cast<DWORD>(op->done);
            complete(*sock.st, *op, 0, static_cast<DWORD>(op->done), 0);
            return 0;
        }
    }
    sock.send_ops.push_back(std::move(op));
    return WSA_IO_PENDING;
}

int make_overlapped_op(bool is_recv, const WSABUF* bufs, DWORD count, std::size_t total, LPWSAOVERLAPPED ov,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE routine, LPWSATHREADID thread,
                       std::unique_ptr<overlapped_op>& out) {
    auto op = std::make_unique<overlapped_op>();
    op->is_recv = is_recv;
    if (bufs != nullptr) op->buffers.assign(bufs, bufs + count);
    op->total = total;
    op->ov = ov;
    op->routine = routine;
    if (routine != nullptr) {
        if (thread != nullptr) {
            op->thread = *thread;  // a copy, not the pointer (ws2's rule)
        } else {
            const WSPUPCALLTABLE& up = provider().upcalls;
            int err = 0;
            if (up.lpWPUOpenCurrentThread == nullptr || up.lpWPUOpenCurrentThread(&op->thread, &err) != 0)
                return WSAEINVAL;
            op->own_thread = true;
        }
    }
    out = std::move(op);
    return 0;
}

void complete_at_once(wsp_socket& sock, overlapped_op& op, DWORD bytes) { complete(*sock.st, op, 0, bytes, 0); }

void cancel_overlapped(wsp_socket& sock, int error) {
    for (auto& op : sock.recv_ops) complete(*sock.st, *op, error, 0, 0);
    for (auto& op : sock.send_ops) complete(*sock.st, *op, error, static_cast<DWORD>(op->done), 0);
    sock.recv_ops.clear();
    sock.send_ops.clear();
}

// ---- entry points ------------------------------------------------------------

int WSPAPI WSPEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if ((lNetworkEvents & ~static_cast<long>(FD_ALL_EVENTS)) != 0) return fail(lpErrno, WSAEINVAL);
    if (lNetworkEvents != 0 && hEventObject == nullptr) return fail(lpErrno, WSAEINVAL);
    core_lock lk(*sock->st);
    wsp_socket& so = *sock;
    so.select_event = lNetworkEvents != 0 ? hEventObject : nullptr;
    so.select_mask = lNetworkEvents;
    if (lNetworkEvents == 0) return 0;
    so.nonblocking = true;  // WSPEventSelect makes the socket nonblocking
    // Nothing is recorded again for a condition that still holds; the record
    // (events that happened and were not yet enumerated) is kept, and a
    // selected event in it signals the new event object at once.
    // FD_WRITE, owed since the connect/accept (or WSAEWOULDBLOCK), if the
    // socket can send; a bound UDP socket once (its sends never block).
    if (so.tcp ? so.tcp->current_state() == tcp_endpoint::state::connected && so.tcp->writable() : so.udp->bound())
        record(so, FD_WRITE, 0);
    // The registration re-enables FD_READ/FD_ACCEPT/FD_OOB for what arrives
    // next (Wine's test_read_events / test_accept_events, as Windows).
    so.armed |= FD_READ | FD_ACCEPT | FD_OOB;
    if ((so.recorded & lNetworkEvents) != 0) signal_event(*so.st, so.select_event);
    return 0;
}

int WSPAPI WSPEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents,
                                LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (lpNetworkEvents == nullptr) return fail(lpErrno, WSAEFAULT);
    {
        core_lock lk(*sock->st);
        wsp_socket& so = *sock;
        const long report = so.recorded & so.select_mask;  // the rest stays recorded
        lpNetworkEvents->lNetworkEvents = report;
        for (int i = 0; i < FD_MAX_EVENTS; ++i)
            if (report & (1L << i)) lpNetworkEvents->iErrorCode[i] = so.event_errors[i];
        so.recorded &= ~report;
    }
    if (hEventObject != nullptr) {  // reset outside the core lock: it is an upcall
        const WSPUPCALLTABLE up = provider().upcalls;
        int err = 0;
        if (up.lpWPUResetEvent && !up.lpWPUResetEvent(hEventObject, &err)) return fail(lpErrno, WSAEINVAL);
    }
    return 0;
}

BOOL WSPAPI WSPGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer, BOOL fWait,
                                   LPDWORD lpdwFlags, LPINT lpErrno) {
    if (lpErrno == nullptr) return FALSE;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock); e != 0 && e != WSAENETDOWN) {
        *lpErrno = e;
        return FALSE;
    }
    if (lpOverlapped == nullptr || lpcbTransfer == nullptr || lpdwFlags == nullptr) {
        *lpErrno = WSAEFAULT;
        return FALSE;
    }
    stack* st = stack::current();
    if (st == nullptr) {
        *lpErrno = WSAENETDOWN;
        return FALSE;
    }
    core_lock lk(*st);
    if (lpOverlapped->Internal == WSS_OPERATION_IN_PROGRESS) {
        if (!fWait) {
            *lpErrno = WSA_IO_INCOMPLETE;
            return FALSE;
        }
        st->wait(lk, completion_cv(), [&] { return lpOverlapped->Internal != WSS_OPERATION_IN_PROGRESS; });
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
