// The one request path (requests.hpp): queueing, running, completing and
// cancelling every send and receive, and the overlapped completion action.
//
// A completion writes the OVERLAPPED (Internal 0, InternalHigh bytes, Offset
// flags, OffsetHigh the error) under the core lock, then — after the lock is
// released (stack::defer) — signals hEvent through WPUSetEvent or queues the
// completion routine to the issuing thread through WPUQueueApc (hEvent is
// then not signalled, as on Windows).
#include "requests.hpp"

#include <algorithm>

#include "events.hpp"
#include "provider.hpp"

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

// Writes the OVERLAPPED and queues the completion action.
void complete_overlapped(stack& st, io_request& r, int error, DWORD bytes, DWORD flags) LWSP_REQUIRES(st.core()) {
    r.ov->Internal = 0;
    r.ov->InternalHigh = bytes;
    r.ov->Offset = flags;
    r.ov->OffsetHigh = static_cast<DWORD>(error);
    if ((error == 0 || error == WSAEMSGSIZE) && r.from_out != nullptr && r.got_from)
        to_sockaddr(r.from, r.from_out, r.fromlen_out);
    const WSPUPCALLTABLE up = provider().settings().upcalls;
    if (r.routine != nullptr) {
        auto* call = new apc_call{r.routine, static_cast<DWORD>(error), bytes, r.ov, flags};
        const WSATHREADID thread = r.thread;
        const bool own = r.own_thread;
        r.own_thread = false;
        st.defer([up, thread, call, own] {
            WSATHREADID t = thread;
            int err = 0;
            if (up.lpWPUQueueApc == nullptr ||
                up.lpWPUQueueApc(&t, &run_completion_routine, reinterpret_cast<DWORD_PTR>(call), &err) != 0)
                delete call;
            if (own && up.lpWPUCloseThread) up.lpWPUCloseThread(&t, &err);
        });
    } else {
        signal_event(st, r.ov->hEvent);
    }
    completion_cv().notify_all();
}

// An operation that fails in its call never completes: the thread id opened
// for it is closed, after the core lock is released.
void release_thread(stack& st, io_request& r) LWSP_REQUIRES(st.core()) {
    if (!r.own_thread) return;
    r.own_thread = false;
    const WSPUPCALLTABLE up = provider().settings().upcalls;
    const WSATHREADID thread = r.thread;
    st.defer([up, thread] {
        WSATHREADID t = thread;
        int err = 0;
        if (up.lpWPUCloseThread) up.lpWPUCloseThread(&t, &err);
    });
}

// One attempt at the request at the head of its queue.  True when it has
// finished (r.error holds the result), false when it waits for the
// transport (data or send space).
bool attempt(wsp_socket& s, io_request& r) LWSP_REQUIRES(s.st->core()) {
    while (r.is_recv) {
        DWORD got = 0;
        sock_address from{};
        const int e = s.io.receive(r.bufs, r.count, r.total, r.done, r.peek, r.want_from ? &from : nullptr, got);
        if (e == WSAEWOULDBLOCK) {
            if (r.may_wait) return false;
            r.error = r.done > 0 ? 0 : WSAEWOULDBLOCK;
            return true;
        }
        if (e == 0 || e == WSAEMSGSIZE) {
            if (r.want_from && !r.got_from) {
                r.from = from;
                r.got_from = true;
            }
            r.done += got;
            // MSG_WAITALL keeps filling until the buffers are full or the
            // stream ends.  It asks again at once: the end of the stream (or
            // an error) may have arrived with the bytes just taken, and then
            // no later event would come to finish it.
            if (e == 0 && r.wait_all && got > 0 && r.done < r.total) continue;
            r.error = e;
            return true;
        }
        // Bytes already taken are never dropped: they are returned now and
        // the error comes with the next call.
        r.error = r.done > 0 ? 0 : e;
        return true;
    }
    // A zero-byte send on a stream completes in its turn (it has nothing to
    // queue); a zero-byte datagram is sent.
    if (r.total == 0 && s.io.stream()) {
        r.error = 0;
        return true;
    }
    DWORD sent = 0;
    const int e = s.io.send(r.bufs, r.count, r.total, r.done, r.has_to ? &r.to : nullptr, sent);
    if (e == 0) {
        r.done += sent;
        // Partly taken: the send buffer is full.  A nonblocking send may be
        // partial; the others wait for space.
        if (r.done < r.total && r.may_wait) return false;
        r.error = 0;
        return true;
    }
    if (e == WSAEWOULDBLOCK) {
        if (r.may_wait) return false;
        r.error = r.done > 0 ? 0 : WSAEWOULDBLOCK;
        return true;
    }
    // A nonblocking send reports what it queued and the error next time; a
    // blocking or overlapped one reports the error (with r.done bytes).
    r.error = r.done > 0 && !r.may_wait ? 0 : e;
    return true;
}

// Marks a request finished (already out of its queue) and tells whoever
// waits for it.
void finish(wsp_socket& s, io_request& r) LWSP_REQUIRES(s.st->core()) {
    r.finished = true;
    if (r.is_recv)
        after_recv(s);  // a receive re-enables FD_READ, whatever its result
    else if (r.error == WSAEWOULDBLOCK)
        after_send_would_block(s);
    if (r.owned && !r.submitting) {
        complete_overlapped(*s.st, r, r.error, static_cast<DWORD>(r.done), r.error == WSAEMSGSIZE ? MSG_PARTIAL : 0);
        delete &r;
    }
    s.wake();
}

void run(wsp_socket& s, request_queue& q) LWSP_REQUIRES(s.st->core()) {
    while (!q.empty() && s.io.open()) {
        io_request& r = *q.front();
        if (!attempt(s, r)) break;
        q.pop_front();
        finish(s, r);
    }
}

void remove(request_queue& q, const io_request& r) {
    const auto it = std::find(q.begin(), q.end(), &r);
    if (it != q.end()) q.erase(it);
}

}  // namespace

platform::condvar& completion_cv() {
    static platform::condvar* cv = new platform::condvar;  // lives as long as the provider
    return *cv;
}

int set_overlapped(io_request& r, LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
                   LPWSATHREADID thread) {
    r.ov = ov;
    r.routine = routine;
    if (routine == nullptr) return 0;
    if (thread != nullptr) {
        r.thread = *thread;  // a copy, not the pointer (ws2's rule)
        return 0;
    }
    const WSPUPCALLTABLE up = provider().settings().upcalls;
    int err = 0;
    if (up.lpWPUOpenCurrentThread == nullptr || up.lpWPUOpenCurrentThread(&r.thread, &err) != 0) return WSAEINVAL;
    r.own_thread = true;
    return 0;
}

void pump(wsp_socket& s) {
    // lwIP may call back into the socket from inside a send or receive (an
    // ACK, a window update): the outer run picks up what changed.
    if (s.pumping) {
        s.pump_again = true;
        return;
    }
    s.pumping = true;
    do {
        s.pump_again = false;
        run(s, s.recv_q);
        run(s, s.send_q);
        if (s.fin_after_sends && s.send_q.empty() && s.io.stream()) {
            s.fin_after_sends = false;
            s.io.shutdown(false, true);  // the FIN goes behind the last queued byte
        }
    } while (s.pump_again);
    s.pumping = false;
}

int perform(core_lock& lk, wsp_socket& s, io_request& r, DWORD timeout_ms) {
    request_queue& q = r.is_recv ? s.recv_q : s.send_q;
    if (!r.may_wait && !q.empty()) {
        // Nonblocking behind queued requests: it would have to wait its turn.
        r.error = WSAEWOULDBLOCK;
        r.finished = true;
        if (r.is_recv)
            after_recv(s);
        else
            after_send_would_block(s);
        return WSAEWOULDBLOCK;
    }
    q.push_back(&r);
    r.submitting = true;
    pump(s);
    r.submitting = false;
    if (r.finished) return r.error;
    const int e = block_on(
        lk, s, [&r] { return r.finished; }, timeout_ms);
    if (r.finished) return r.error;
    // Interrupted, timed out or the stack stopped: the request leaves its
    // queue, and the ones behind it move on.
    remove(q, r);
    if (!s.closing) pump(s);
    if (r.is_recv && r.done > 0) return 0;  // MSG_WAITALL: the bytes taken are the caller's
    return e != 0 ? e : WSAEINTR;
}

int submit_overlapped(wsp_socket& s, std::unique_ptr<io_request> req, LPDWORD bytes, LPDWORD flags) {
    io_request& r = *req;
    r.owned = true;
    r.ov->Internal = WSS_OPERATION_IN_PROGRESS;
    r.ov->InternalHigh = 0;
    request_queue& q = r.is_recv ? s.recv_q : s.send_q;
    q.push_back(req.release());
    r.submitting = true;
    pump(s);
    r.submitting = false;
    if (!r.finished) return WSA_IO_PENDING;
    std::unique_ptr<io_request> done(&r);  // out of the queue: the call completes it
    if (r.error != 0) {
        r.ov->Internal = 0;
        release_thread(*s.st, r);
        if (r.error == WSAEMSGSIZE) {
            // A truncated datagram was taken: the call reports it as a
            // receive does, sender included, and the OVERLAPPED says the same
            // to WSPGetOverlappedResult; still no completion indication.
            if (bytes != nullptr) *bytes = static_cast<DWORD>(r.done);
            r.ov->InternalHigh = r.done;
            r.ov->Offset = MSG_PARTIAL;
            r.ov->OffsetHigh = WSAEMSGSIZE;
            if (r.from_out != nullptr && r.got_from) to_sockaddr(r.from, r.from_out, r.fromlen_out);
        }
        return r.error;  // no completion indication
    }
    if (bytes != nullptr) *bytes = static_cast<DWORD>(r.done);
    if (flags != nullptr) *flags = 0;
    complete_overlapped(*s.st, r, 0, static_cast<DWORD>(r.done), 0);
    return 0;
}

void complete_at_once(wsp_socket& s, io_request& r, DWORD bytes) { complete_overlapped(*s.st, r, 0, bytes, 0); }

bool end_blocked_sends(wsp_socket& s) {
    for (auto it = s.send_q.begin(); it != s.send_q.end();) {
        io_request& r = **it;
        if (r.owned) {
            ++it;
            continue;
        }
        it = s.send_q.erase(it);
        r.error = WSAESHUTDOWN;
        finish(s, r);
    }
    return !s.send_q.empty();
}

void cancel_requests(wsp_socket& s, int error) {
    for (request_queue* q : {&s.recv_q, &s.send_q}) {
        request_queue pending;
        pending.swap(*q);
        for (io_request* r : pending) {
            if (!r->owned) continue;  // its caller sees the socket closing (WSAEINTR)
            r->finished = true;
            r->error = error;
            complete_overlapped(*s.st, *r, error, static_cast<DWORD>(r->done), 0);
            delete r;
        }
    }
    s.wake();
}

}  // namespace lwsp::wsp
