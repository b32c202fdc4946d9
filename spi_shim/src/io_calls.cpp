// Moving data and asking about it: WSPSend, WSPSendTo, WSPRecv, WSPRecvFrom,
// WSPIoctl, WSPSelect (and __WSAFDIsSet for FD_ISSET).
#include <algorithm>
#include <cstring>
#include <vector>

#include "events.hpp"
#include "fd_entries.hpp"
#include "provider.hpp"
#include "requests.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

// Checks a WSABUF array; returns 0 or WSAEINVAL (no buffers) / WSAEFAULT.
int check_buffers(LPWSABUF bufs, DWORD count, std::size_t& total) {
    if (count == 0) return WSAEINVAL;
    if (bufs == nullptr) return WSAEFAULT;
    total = 0;
    for (DWORD i = 0; i < count; ++i) {
        if (bufs[i].buf == nullptr && bufs[i].len > 0) return WSAEFAULT;
        total += bufs[i].len;
    }
    return 0;
}

// Fills the request's buffers and, for an overlapped call, its completion
// target (the WSABUF array is captured: the caller may reuse it at once).
int describe(io_request& r, LPWSABUF bufs, DWORD count, std::size_t total, LPWSAOVERLAPPED ov,
             LPWSAOVERLAPPED_COMPLETION_ROUTINE routine, LPWSATHREADID thread) {
    r.total = total;
    if (ov == nullptr) {
        r.bufs = bufs;
        r.count = count;
        return 0;
    }
    r.own_bufs.assign(bufs, bufs + count);
    r.bufs = r.own_bufs.data();
    r.count = count;
    return set_overlapped(r, ov, routine, thread);
}

int recv_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    const bool overlapped = lpOverlapped != nullptr;
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if ((lpNumberOfBytesRecvd == nullptr && !overlapped) || lpFlags == nullptr) return fail(lpErrno, WSAEFAULT);
    const DWORD flags = *lpFlags;
    if (flags & ~static_cast<DWORD>(MSG_PEEK | MSG_OOB | MSG_WAITALL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (flags & MSG_OOB) return fail(lpErrno, WSAEOPNOTSUPP);  // lwIP has no urgent data
    if (overlapped && (flags & (MSG_PEEK | MSG_WAITALL))) return fail(lpErrno, WSAEOPNOTSUPP);
    const bool want_from = lpFrom != nullptr && !so.is_stream();
    if (want_from) {
        const int need = so.v6() ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
        if (lpFromlen == nullptr || *lpFromlen < need) return fail(lpErrno, WSAEFAULT);  // nothing consumed
    }
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    if (so.io.listening()) return fail(lpErrno, WSAENOTCONN);
    if (so.io.udp() != nullptr && !so.io.udp()->bound()) return fail(lpErrno, WSAEINVAL);
    if (overlapped) {
        auto r = std::make_unique<io_request>();
        r->want_from = want_from;
        r->from_out = want_from ? lpFrom : nullptr;
        r->fromlen_out = lpFromlen;
        if (int e = describe(*r, lpBuffers, dwBufferCount, total, lpOverlapped, lpCompletionRoutine, lpThreadId))
            return fail(lpErrno, e);
        const int e = submit_overlapped(so, std::move(r), lpNumberOfBytesRecvd, lpFlags);
        return e == 0 ? 0 : fail(lpErrno, e);
    }
    io_request r;
    describe(r, lpBuffers, dwBufferCount, total, nullptr, nullptr, nullptr);
    r.may_wait = !so.nonblocking;
    r.peek = (flags & MSG_PEEK) != 0;
    r.wait_all = (flags & MSG_WAITALL) != 0 && so.is_stream() && r.may_wait && !r.peek;
    r.want_from = want_from;
    const int e = perform(lk, so, r, so.opts.recv_timeout_ms);
    if (e != 0 && e != WSAEMSGSIZE) return fail(lpErrno, e);
    *lpNumberOfBytesRecvd = static_cast<DWORD>(r.done);
    *lpFlags = 0;
    if (want_from && r.got_from) to_sockaddr(r.from, lpFrom, lpFromlen);
    return e == 0 ? 0 : fail(lpErrno, e);
}

int send_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                const struct sockaddr* lpTo, int iTolen, bool sendto, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    const bool overlapped = lpOverlapped != nullptr;
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if (lpNumberOfBytesSent == nullptr && !overlapped) return fail(lpErrno, WSAEFAULT);
    if (dwFlags & ~static_cast<DWORD>(MSG_OOB | MSG_DONTROUTE | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (dwFlags & (MSG_OOB | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    sock_address to{};
    const bool have_to = sendto && !so.is_stream() && lpTo != nullptr;
    if (have_to) {
        if (int e = from_sockaddr(lpTo, iTolen, so.family, to)) return fail(lpErrno, e);
    }
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    if (so.io.udp() != nullptr && !have_to && !so.io.udp()->connected())
        return fail(lpErrno, sendto ? WSAEDESTADDRREQ : WSAENOTCONN);
    if (so.fin_after_sends) return fail(lpErrno, WSAESHUTDOWN);  // SD_SEND waiting for queued sends
    if (overlapped) {
        auto r = std::make_unique<io_request>();
        r->is_recv = false;
        r->has_to = have_to;
        r->to = to;
        if (int e = describe(*r, lpBuffers, dwBufferCount, total, lpOverlapped, lpCompletionRoutine, lpThreadId))
            return fail(lpErrno, e);
        const int e = submit_overlapped(so, std::move(r), lpNumberOfBytesSent, nullptr);
        return e == 0 ? 0 : fail(lpErrno, e);
    }
    io_request r;
    r.is_recv = false;
    describe(r, lpBuffers, dwBufferCount, total, nullptr, nullptr, nullptr);
    r.may_wait = !so.nonblocking;
    r.has_to = have_to;
    r.to = to;
    if (int e = perform(lk, so, r, so.opts.send_timeout_ms)) return fail(lpErrno, e);
    *lpNumberOfBytesSent = static_cast<DWORD>(r.done);
    return 0;
}

}  // namespace

int WSPAPI WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                   LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                   LPWSATHREADID lpThreadId, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, nullptr, 0, false, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPSendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                     const struct sockaddr* lpTo, int iTolen, LPWSAOVERLAPPED lpOverlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen, true, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                   LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                   LPWSATHREADID lpThreadId, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, nullptr, nullptr, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPRecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                       struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
                       LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

namespace {

// The ioctls; each completes at once.  Returns 0 or the error.
int do_ioctl(wsp_socket& so, DWORD code, LPVOID in, DWORD cb_in, LPVOID out, DWORD cb_out, DWORD& returned)
    LWSP_REQUIRES(so.st->core()) {
    switch (code) {
        case FIONBIO: {
            if (in == nullptr || cb_in < sizeof(u_long)) return WSAEFAULT;
            u_long value;
            std::memcpy(&value, in, sizeof value);
            // Event selection keeps a socket nonblocking.
            if (value == 0 && so.events.active()) return WSAEINVAL;
            so.nonblocking = value != 0;
            returned = 0;
            return 0;
        }
        case FIONREAD: {
            if (out == nullptr || cb_out < sizeof(u_long)) return WSAEFAULT;
            const std::size_t n = so.io.bytes_readable();
            const u_long value = static_cast<u_long>(std::min<std::size_t>(n, 0xffffffffu));
            std::memcpy(out, &value, sizeof value);
            returned = sizeof value;
            return 0;
        }
        case SIOCATMARK: {
            if (out == nullptr || cb_out < sizeof(BOOL)) return WSAEFAULT;
            if (!so.io.stream()) return WSAEINVAL;
            const BOOL at_mark = TRUE;  // urgent data never arrives (lwIP delivers none)
            std::memcpy(out, &at_mark, sizeof at_mark);
            returned = sizeof at_mark;
            return 0;
        }
        default: return WSAEINVAL;
    }
}

}  // namespace

int WSPAPI WSPIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer, LPVOID lpvOutBuffer,
                    DWORD cbOutBuffer, LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (lpcbBytesReturned == nullptr && lpOverlapped == nullptr) return fail(lpErrno, WSAEFAULT);
    DWORD returned = 0;
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    const int e = do_ioctl(so, dwIoControlCode, lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer, returned);
    if (e != 0) return fail(lpErrno, e);  // no completion indication for a failed call
    if (lpcbBytesReturned != nullptr) *lpcbBytesReturned = returned;
    if (lpOverlapped != nullptr) {  // these ioctls complete at once
        io_request r;
        if (int me = set_overlapped(r, lpOverlapped, lpCompletionRoutine, lpThreadId)) return fail(lpErrno, me);
        complete_at_once(so, r, returned);
    }
    return 0;
}

// ---- WSPSelect ----------------------------------------------------------------

namespace {

struct select_entry {
    SOCKET handle;
    std::shared_ptr<wsp_socket> sock;
};

bool ready_read(wsp_socket& s) LWSP_REQUIRES(s.st->core()) { return s.closing || s.io.readable(); }

bool connect_failed(wsp_socket& s) LWSP_REQUIRES(s.st->core()) {
    // Until the next connect: reading SO_ERROR does not end it, and a
    // blocking connect that failed counts too.
    return s.io.stream() && s.connect_failed && s.io.tcp()->current_state() == tcp_endpoint::state::fresh;
}

bool ready_write(wsp_socket& s) LWSP_REQUIRES(s.st->core()) {
    return s.closing || (!connect_failed(s) && s.io.writable());
}

bool ready_except(wsp_socket& s) LWSP_REQUIRES(s.st->core()) { return connect_failed(s); }

}  // namespace

int WSPAPI WSPSelect(int, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, const struct timeval* timeout,
                     LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    if (int e = check_entry()) return fail(lpErrno, e);
    fd_set* sets[3] = {readfds, writefds, exceptfds};
    std::size_t entries = 0;
    for (fd_set* set : sets)
        if (set != nullptr) entries += set->fd_count;
    if (entries == 0) return fail(lpErrno, WSAEINVAL);
    if (timeout != nullptr && (timeout->tv_sec < 0 || timeout->tv_usec < 0)) return fail(lpErrno, WSAEINVAL);
    std::vector<select_entry> lists[3];
    for (int k = 0; k < 3; ++k) {
        if (sets[k] == nullptr) continue;
        for (u_int i = 0; i < sets[k]->fd_count; ++i) {
            std::shared_ptr<wsp_socket> sock;
            if (int e = find_socket(fd_entries(sets[k])[i], sock))  // sets untouched
                return fail(lpErrno, e == WSAENETDOWN ? WSAENETDOWN : WSAENOTSOCK);
            lists[k].push_back({fd_entries(sets[k])[i], std::move(sock)});
        }
    }
    // The timeout in ms, rounded up; so long that no deadline could express
    // it (beyond ~292 million years), it is no deadline at all.  Computed in
    // unsigned arithmetic: tv_sec * 1000 and tv_usec + 999 overflow a long.
    std::uint64_t timeout_ms = 0;
    bool forever = timeout == nullptr;
    if (timeout != nullptr) {
        constexpr std::uint64_t max_ms = std::uint64_t{1} << 62;
        const auto sec = static_cast<std::uint64_t>(timeout->tv_sec);
        const auto usec = static_cast<std::uint64_t>(timeout->tv_usec);
        if (sec > max_ms / 1000)
            forever = true;
        else
            timeout_ms = sec * 1000 + usec / 1000 + (usec % 1000 != 0 ? 1 : 0);
    }
    // The sockets' own stack: only the running one's sockets get this far,
    // so all of them share it.
    stack& st = *(lists[0].empty() ? lists[1].empty() ? lists[2] : lists[1] : lists[0]).front().sock->st;
    core_lock lk(st);
    bool (*const tests[3])(wsp_socket&) = {ready_read, ready_write, ready_except};
    auto count_ready = [&] {
        int n = 0;
        for (int k = 0; k < 3; ++k)
            for (auto& e : lists[k]) n += tests[k](*e.sock) ? 1 : 0;
        return n;
    };
    if (count_ready() == 0 && (forever || timeout_ms > 0)) {
        platform::condvar cv;
        for (auto& list : lists)
            for (auto& e : list) {
                e.sock->st->assert_core_held();  // every socket here is on `st`
                e.sock->watchers.push_back(&cv);
            }
        std::optional<millis> deadline;
        if (!forever) deadline = st.now() + millis(static_cast<millis::rep>(timeout_ms));
        // A blocking call like any other: the blocking hook runs, and
        // WSPCancelBlockingCall ends it (WSAEINTR).
        const int e = block_on(
            lk, st, cv, [] { return false; }, [&] { return count_ready() > 0; }, deadline);
        for (auto& list : lists)
            for (auto& entry : list) {
                entry.sock->st->assert_core_held();
                auto& w = entry.sock->watchers;
                w.erase(std::find(w.begin(), w.end(), &cv));
            }
        if (e != 0 && e != WSAETIMEDOUT) return fail(lpErrno, e);
    }
    int total = 0;
    for (int k = 0; k < 3; ++k) {
        if (sets[k] == nullptr) continue;
        u_int out = 0;
        for (auto& e : lists[k]) {
            if (!tests[k](*e.sock)) continue;
            bool dup = false;
            for (u_int j = 0; j < out; ++j) dup = dup || fd_entries(sets[k])[j] == e.handle;
            if (dup) continue;
            fd_entries(sets[k])[out++] = e.handle;
        }
        sets[k]->fd_count = out;
        total += static_cast<int>(out);
    }
    return total;
}

}  // namespace lwsp::wsp

extern "C" int WSAAPI __WSAFDIsSet(SOCKET fd, fd_set* set) {
    if (set == nullptr) return 0;
    for (u_int i = 0; i < set->fd_count; ++i)
        if (lwsp::wsp::fd_entries(set)[i] == fd) return 1;
    return 0;
}
