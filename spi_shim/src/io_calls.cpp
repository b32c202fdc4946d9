// Moving data and asking about it: WSPSend, WSPSendTo, WSPRecv, WSPRecvFrom,
// WSPIoctl, WSPSelect (and __WSAFDIsSet for FD_ISSET).
#include <algorithm>
#include <cstring>
#include <vector>

#include "async.hpp"
#include "provider.hpp"
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

// Gathers the buffers into one datagram.
std::vector<std::uint8_t> gather(const WSABUF* bufs, DWORD count, std::size_t total) {
    std::vector<std::uint8_t> out;
    out.reserve(total);
    for (DWORD i = 0; i < count; ++i) out.insert(out.end(), bufs[i].buf, bufs[i].buf + bufs[i].len);
    return out;
}

// Scatters `data` over the buffers.
void scatter(const std::uint8_t* data, std::size_t n, const WSABUF* bufs, DWORD count) {
    for (DWORD i = 0; i < count && n > 0; ++i) {
        const std::size_t k = std::min<std::size_t>(n, bufs[i].len);
        std::memcpy(bufs[i].buf, data, k);
        data += k;
        n -= k;
    }
}

// Drops the first `n` bytes from a buffer list (MSG_WAITALL keeps filling).
void consume(std::vector<WSABUF>& view, std::size_t n) {
    while (n > 0 && !view.empty()) {
        const std::size_t k = std::min<std::size_t>(n, view.front().len);
        view.front().buf += k;
        view.front().len -= static_cast<u_long>(k);
        n -= k;
        if (view.front().len == 0) view.erase(view.begin());
    }
}

// Blocking-mode send: everything, waiting for send space (nonblocking: what
// fits, or WSAEWOULDBLOCK).
int tcp_send(core_lock& lk, wsp_socket& sock, LPWSABUF bufs, DWORD count, std::size_t total, DWORD& sent) {
    tcp_endpoint& ep = *sock.tcp;
    std::size_t done = 0;
    while (done < total) {
        DWORD n = 0;
        const int r = send_once(sock, bufs, count, total, done, nullptr, n);
        if (r == 0) {
            done += n;
            continue;
        }
        if (r == WSAEWOULDBLOCK) {
            if (sock.nonblocking) {
                after_send_would_block(sock);
                if (done > 0) break;  // a nonblocking send may be partial
                return WSAEWOULDBLOCK;
            }
            // A shutdown (SD_SEND) from another thread ends the wait too.
            const int e = block_on(lk, sock, [&] { return ep.writable() || ep.send_shut(); }, sock.send_timeout_ms);
            if (e != 0) return e;
            continue;
        }
        if (done > 0 && sock.nonblocking) break;
        return r;
    }
    sent = static_cast<DWORD>(done);
    return 0;
}

// Blocking-mode receive (nonblocking: what is there, or WSAEWOULDBLOCK).
int do_recv(core_lock& lk, wsp_socket& sock, LPWSABUF bufs, DWORD count, std::size_t total, DWORD flags,
            sock_address* from, DWORD& got) {
    const bool peek = (flags & MSG_PEEK) != 0;
    const bool wait_all = (flags & MSG_WAITALL) != 0 && sock.tcp && !sock.nonblocking && !peek;
    std::vector<WSABUF> view(bufs, bufs + count);
    std::size_t done = 0;
    for (;;) {
        DWORD n = 0;
        const int r = recv_once(sock, view.data(), static_cast<DWORD>(view.size()), total - done, peek, from, n);
        if (r == 0 || r == WSAEMSGSIZE) {
            done += n;
            if (r == 0 && wait_all && n > 0 && done < total) {  // MSG_WAITALL: keep filling
                consume(view, n);
                continue;
            }
            got = static_cast<DWORD>(done);
            return r;
        }
        // Bytes already taken are never dropped: they are returned now and
        // the error comes with the next call.
        if (r != WSAEWOULDBLOCK || sock.nonblocking) {
            if (done > 0) {
                got = static_cast<DWORD>(done);
                return 0;
            }
            return r;
        }
        auto ready = [&] {
            if (sock.tcp) return sock.tcp->readable() || sock.tcp->receive_shut();
            return sock.udp->readable() || sock.udp->receive_shut();
        };
        const int e = block_on(lk, sock, ready, sock.recv_timeout_ms);
        if (e != 0) {
            if (done > 0) {
                got = static_cast<DWORD>(done);
                return 0;
            }
            return e;
        }
    }
}

int recv_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    const bool overlapped = lpOverlapped != nullptr;
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if ((lpNumberOfBytesRecvd == nullptr && !overlapped) || lpFlags == nullptr) return fail(lpErrno, WSAEFAULT);
    const DWORD flags = *lpFlags;
    if (flags & ~static_cast<DWORD>(MSG_PEEK | MSG_OOB | MSG_WAITALL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (flags & MSG_OOB) return fail(lpErrno, WSAEOPNOTSUPP);  // lwIP has no urgent data
    if (overlapped && (flags & (MSG_PEEK | MSG_WAITALL))) return fail(lpErrno, WSAEOPNOTSUPP);
    const bool want_from = lpFrom != nullptr && sock->udp;
    if (want_from) {
        const int need = sock->v6() ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
        if (lpFromlen == nullptr || *lpFromlen < need) return fail(lpErrno, WSAEFAULT);  // nothing consumed
    }
    sock_address from{};
    DWORD got = 0;
    int e;
    {
        core_lock lk(*sock->st);
        if (sock->tcp && sock->tcp->is_listening()) return fail(lpErrno, WSAENOTCONN);
        if (sock->udp && !sock->udp->bound()) return fail(lpErrno, WSAEINVAL);
        if (overlapped) {
            std::unique_ptr<overlapped_op> op;
            if (int me = make_overlapped_op(true, lpBuffers, dwBufferCount, total, lpOverlapped, lpCompletionRoutine, lpThreadId, op))
                return fail(lpErrno, me);
            if (want_from) {
                op->from = lpFrom;
                op->fromlen = lpFromlen;
            }
            e = submit_overlapped(lk, *sock, std::move(op), nullptr, lpNumberOfBytesRecvd);
            if (e == 0) *lpFlags = 0;
            return e == 0 ? 0 : fail(lpErrno, e);
        }
        e = do_recv(lk, *sock, lpBuffers, dwBufferCount, total, flags, want_from ? &from : nullptr, got);
        after_recv(*sock);
    }
    if (e != 0 && e != WSAEMSGSIZE) return fail(lpErrno, e);
    *lpNumberOfBytesRecvd = got;
    *lpFlags = 0;
    if (want_from) to_sockaddr(from, lpFrom, lpFromlen);
    return e == 0 ? 0 : fail(lpErrno, e);
}

int send_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                const struct sockaddr* lpTo, int iTolen, bool sendto, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    const bool overlapped = lpOverlapped != nullptr;
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if (lpNumberOfBytesSent == nullptr && !overlapped) return fail(lpErrno, WSAEFAULT);
    if (dwFlags & ~static_cast<DWORD>(MSG_OOB | MSG_DONTROUTE | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (dwFlags & (MSG_OOB | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    sock_address to{};
    const bool have_to = sendto && sock->udp && lpTo != nullptr;
    if (have_to) {
        if (int e = from_sockaddr(lpTo, iTolen, sock->family, to)) return fail(lpErrno, e);
    }
    DWORD sent = 0;
    {
        core_lock lk(*sock->st);
        if (sock->udp && !have_to && !sock->udp->connected())
            return fail(lpErrno, sendto ? WSAEDESTADDRREQ : WSAENOTCONN);
        if (sock->fin_after_sends) return fail(lpErrno, WSAESHUTDOWN);  // SD_SEND waiting for pending sends
        if (overlapped) {
            std::unique_ptr<overlapped_op> op;
            if (int me = make_overlapped_op(false, lpBuffers, dwBufferCount, total, lpOverlapped, lpCompletionRoutine, lpThreadId, op))
                return fail(lpErrno, me);
            const int e = submit_overlapped(lk, *sock, std::move(op), have_to ? &to : nullptr, lpNumberOfBytesSent);
            return e == 0 ? 0 : fail(lpErrno, e);
        }
        if (sock->tcp) {
            if (int e = tcp_send(lk, *sock, lpBuffers, dwBufferCount, total, sent)) return fail(lpErrno, e);
        } else {
            if (int e = send_once(*sock, lpBuffers, dwBufferCount, total, 0, have_to ? &to : nullptr, sent))
                return fail(lpErrno, e);
        }
    }
    *lpNumberOfBytesSent = sent;
    return 0;
}

}  // namespace

int recv_once(wsp_socket& sock, const WSABUF* bufs, DWORD count, std::size_t total, bool peek, sock_address* from,
              DWORD& got) {
    // One buffer is filled directly; several through a staging copy.
    std::vector<std::uint8_t> staging;
    const bool direct = count == 1;
    if (!direct) staging.resize(total);
    std::uint8_t* dst = direct ? reinterpret_cast<std::uint8_t*>(bufs[0].buf) : staging.data();
    net_error err;
    std::size_t n;
    if (sock.tcp) {
        const tcp_endpoint::io_result r = sock.tcp->recv(dst, total, peek);
        err = r.error;
        n = r.bytes;
    } else {
        if (!sock.udp->bound()) return WSAEINVAL;
        const udp_endpoint::io_result r = sock.udp->recv_from(dst, total, peek, from);
        err = r.error;
        n = r.bytes;
    }
    if (err != net_error::ok && err != net_error::message_size) return to_wsa(err);
    if (!direct) scatter(staging.data(), n, bufs, count);
    got = static_cast<DWORD>(n);
    return err == net_error::ok ? 0 : WSAEMSGSIZE;
}

int send_once(wsp_socket& sock, const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset,
              const sock_address* to, DWORD& sent) {
    if (sock.udp) {
        const std::vector<std::uint8_t> datagram = gather(bufs, count, total);
        const udp_endpoint::io_result r = sock.udp->send_to(datagram.data(), datagram.size(), to);
        if (r.error != net_error::ok) return to_wsa(r.error);
        sent = static_cast<DWORD>(r.bytes);
        return 0;
    }
    std::size_t done = 0;
    net_error last = net_error::ok;
    for (DWORD i = 0; i < count; ++i) {
        std::size_t len = bufs[i].len;
        const char* p = bufs[i].buf;
        if (offset >= len) {
            offset -= len;
            continue;
        }
        p += offset;
        len -= offset;
        offset = 0;
        const tcp_endpoint::io_result r = sock.tcp->send(p, len);
        done += r.bytes;
        last = r.error;
        if (r.error != net_error::ok || r.bytes < len) break;
    }
    if (done > 0) {  // an error after some bytes comes with the next call
        sent = static_cast<DWORD>(done);
        return 0;
    }
    return to_wsa(last == net_error::ok ? net_error::would_block : last);
}

int WSPAPI WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                   LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                   LPWSATHREADID lpThreadId, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, nullptr, 0, false, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPSendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
                     DWORD dwFlags, const struct sockaddr* lpTo, int iTolen, LPWSAOVERLAPPED lpOverlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
                     LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen, true, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
                   LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
                   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
                   LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, nullptr, nullptr, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

int WSPAPI WSPRecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
                       LPDWORD lpFlags, struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
                       LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen, lpOverlapped,
                       lpCompletionRoutine, lpThreadId, lpErrno);
}

namespace {

// The ioctls; each completes at once.  Returns 0 or the error.
int do_ioctl(wsp_socket& so, DWORD code, LPVOID in, DWORD cb_in, LPVOID out, DWORD cb_out, DWORD& returned) {
    switch (code) {
        case FIONBIO: {
            if (in == nullptr || cb_in < sizeof(u_long)) return WSAEFAULT;
            u_long value;
            std::memcpy(&value, in, sizeof value);
            // Event selection keeps a socket nonblocking.
            if (value == 0 && so.select_mask != 0) return WSAEINVAL;
            so.nonblocking = value != 0;
            returned = 0;
            return 0;
        }
        case FIONREAD: {
            if (out == nullptr || cb_out < sizeof(u_long)) return WSAEFAULT;
            const std::size_t n =
                so.tcp ? (so.tcp->is_listening() ? 0 : so.tcp->bytes_readable()) : so.udp->bytes_queued();
            const u_long value = static_cast<u_long>(std::min<std::size_t>(n, 0xffffffffu));
            std::memcpy(out, &value, sizeof value);
            returned = sizeof value;
            return 0;
        }
        case SIOCATMARK: {
            if (out == nullptr || cb_out < sizeof(BOOL)) return WSAEFAULT;
            if (!so.tcp) return WSAEINVAL;
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
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
                    LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (lpcbBytesReturned == nullptr && lpOverlapped == nullptr) return fail(lpErrno, WSAEFAULT);
    DWORD returned = 0;
    core_lock lk(*sock->st);
    const int e = do_ioctl(*sock, dwIoControlCode, lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer, returned);
    if (e != 0) return fail(lpErrno, e);  // no completion indication for a failed call
    if (lpcbBytesReturned != nullptr) *lpcbBytesReturned = returned;
    if (lpOverlapped != nullptr) {  // these ioctls complete at once
        std::unique_ptr<overlapped_op> op;
        if (int me = make_overlapped_op(false, nullptr, 0, 0, lpOverlapped, lpCompletionRoutine, lpThreadId, op))
            return fail(lpErrno, me);
        complete_at_once(*sock, *op, returned);
    }
    return 0;
}

// ---- WSPSelect ----------------------------------------------------------------

namespace {

struct select_entry {
    SOCKET handle;
    std::shared_ptr<wsp_socket> sock;
};

bool ready_read(wsp_socket& s) {
    if (s.closing) return true;
    if (s.tcp) {
        if (s.tcp->is_listening()) return s.tcp->pending_accepts() > 0;
        if (s.tcp->current_state() == tcp_endpoint::state::fresh) return false;  // a failed connect is not readable
        return s.tcp->readable();  // not for our own SD_RECEIVE (Windows, SPI reference)
    }
    return s.udp->readable();
}

bool connect_failed(wsp_socket& s) {
    // Until the next connect: reading SO_ERROR does not end it, and a
    // blocking connect that failed counts too.
    return s.tcp && s.connect_failed && s.tcp->current_state() == tcp_endpoint::state::fresh;
}

bool ready_write(wsp_socket& s) {
    if (s.closing) return true;
    if (s.tcp) return !connect_failed(s) && s.tcp->writable();
    return true;
}

bool ready_except(wsp_socket& s) { return connect_failed(s); }

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
            if (find_socket(sets[k]->fd_array[i], sock) != 0) return fail(lpErrno, WSAENOTSOCK);  // sets untouched
            lists[k].push_back({sets[k]->fd_array[i], std::move(sock)});
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
    stack& st = the_stack();
    core_lock lk(st);
    bool (*const tests[3])(wsp_socket&) = {ready_read, ready_write, ready_except};
    auto count_ready = [&] {
        int n = 0;
        for (int k = 0; k < 3; ++k)
            for (auto& e : lists[k]) n += tests[k](*e.sock) ? 1 : 0;
        return n;
    };
    if (count_ready() == 0 && (forever || timeout_ms > 0)) {
        std::condition_variable cv;
        for (auto& list : lists)
            for (auto& e : list) e.sock->watchers.push_back(&cv);
        std::optional<millis> deadline;
        if (!forever) deadline = st.now() + millis(static_cast<millis::rep>(timeout_ms));
        const stack::wait_status ws = st.wait(lk, cv, [&] { return count_ready() > 0; }, deadline);
        for (auto& list : lists)
            for (auto& e : list) {
                auto& w = e.sock->watchers;
                w.erase(std::find(w.begin(), w.end(), &cv));
            }
        if (ws == stack::wait_status::stopped) return fail(lpErrno, WSAENETDOWN);
    }
    int total = 0;
    for (int k = 0; k < 3; ++k) {
        if (sets[k] == nullptr) continue;
        u_int out = 0;
        for (auto& e : lists[k]) {
            if (!tests[k](*e.sock)) continue;
            bool dup = false;
            for (u_int j = 0; j < out; ++j) dup = dup || sets[k]->fd_array[j] == e.handle;
            if (dup) continue;
            sets[k]->fd_array[out++] = e.handle;
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
        if (set->fd_array[i] == fd) return 1;
    return 0;
}
