// Moving data and asking about it: WSPSend, WSPSendTo, WSPRecv, WSPRecvFrom,
// WSPIoctl, WSPSelect (and __WSAFDIsSet for FD_ISSET).
#include <algorithm>
#include <cstring>
#include <vector>

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

// Overlapped I/O arrives with the asynchronous half of the shim.
bool is_overlapped(LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    return ov != nullptr || routine != nullptr;
}

// Gathers the buffers into one datagram.
std::vector<std::uint8_t> gather(LPWSABUF bufs, DWORD count, std::size_t total) {
    std::vector<std::uint8_t> out;
    out.reserve(total);
    for (DWORD i = 0; i < count; ++i)
        out.insert(out.end(), bufs[i].buf, bufs[i].buf + bufs[i].len);
    return out;
}

// Scatters `data` over the buffers.
void scatter(const std::uint8_t* data, std::size_t n, LPWSABUF bufs, DWORD count) {
    for (DWORD i = 0; i < count && n > 0; ++i) {
        const std::size_t k = std::min<std::size_t>(n, bufs[i].len);
        std::memcpy(bufs[i].buf, data, k);
        data += k;
        n -= k;
    }
}

int tcp_send(core_lock& lk, wsp_socket& sock, LPWSABUF bufs, DWORD count, std::size_t total, DWORD& sent) {
    tcp_endpoint& ep = *sock.tcp;
    std::size_t done = 0;
    DWORD index = 0;
    std::size_t offset = 0;
    while (done < total) {
        while (index < count && offset == bufs[index].len) {
            ++index;
            offset = 0;
        }
        const tcp_endpoint::io_result r = ep.send(bufs[index].buf + offset, bufs[index].len - offset);
        if (r.error == net_error::would_block) {
            if (sock.nonblocking) {
                if (done > 0) break;  // a nonblocking send may be partial
                return WSAEWOULDBLOCK;
            }
            const int e = block_on(lk, sock, [&] { return ep.writable(); }, sock.send_timeout_ms);
            if (e != 0) return e;
            continue;
        }
        if (r.error != net_error::ok) {
            if (done > 0 && sock.nonblocking) break;
            return to_wsa(r.error);
        }
        done += r.bytes;
        offset += r.bytes;
    }
    sent = static_cast<DWORD>(done);
    return 0;
}

// Receives into the buffers.  Returns 0 with `got` bytes (0 = end of
// stream), or an error; `got` may be set along with WSAEMSGSIZE.
int do_recv(core_lock& lk, wsp_socket& sock, LPWSABUF bufs, DWORD count, std::size_t total, DWORD flags,
            sock_address* from, DWORD& got) {
    const bool peek = (flags & MSG_PEEK) != 0;
    const bool wait_all = (flags & MSG_WAITALL) != 0 && sock.tcp && !sock.nonblocking && !peek;
    std::vector<std::uint8_t> staging;
    const bool direct = count == 1;
    if (!direct) staging.resize(total);
    std::size_t done = 0;
    for (;;) {
        std::uint8_t* dst = direct ? reinterpret_cast<std::uint8_t*>(bufs[0].buf) + done : staging.data() + done;
        net_error err;
        std::size_t n;
        if (sock.tcp) {
            const tcp_endpoint::io_result r = sock.tcp->recv(dst, total - done, peek);
            err = r.error;
            n = r.bytes;
        } else {
            if (!sock.udp->bound()) return WSAEINVAL;
            const udp_endpoint::io_result r = sock.udp->recv_from(dst, total, peek, from);
            err = r.error;
            n = r.bytes;
        }
        if (err == net_error::ok || err == net_error::message_size) {
            done += n;
            if (err == net_error::ok && wait_all && n > 0 && done < total) continue;  // MSG_WAITALL: keep filling
            if (!direct) scatter(staging.data(), done, bufs, count);
            got = static_cast<DWORD>(done);
            return err == net_error::ok ? 0 : WSAEMSGSIZE;
        }
        if (err != net_error::would_block) {
            if (done > 0) {  // report what arrived; the error comes next time
                if (!direct) scatter(staging.data(), done, bufs, count);
                got = static_cast<DWORD>(done);
                return 0;
            }
            return to_wsa(err);
        }
        if (sock.nonblocking) {
            if (done > 0) {
                if (!direct) scatter(staging.data(), done, bufs, count);
                got = static_cast<DWORD>(done);
                return 0;
            }
            return WSAEWOULDBLOCK;
        }
        auto ready = [&] {
            if (sock.tcp) return sock.tcp->readable() || sock.tcp->receive_shut();
            return sock.udp->readable() || sock.udp->receive_shut();
        };
        const int e = block_on(lk, sock, ready, sock.recv_timeout_ms);
        if (e != 0) return e;
    }
}

int recv_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (is_overlapped(lpOverlapped, lpCompletionRoutine)) return fail(lpErrno, WSAEOPNOTSUPP);
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if (lpNumberOfBytesRecvd == nullptr || lpFlags == nullptr) return fail(lpErrno, WSAEFAULT);
    const DWORD flags = *lpFlags;
    if (flags & ~static_cast<DWORD>(MSG_PEEK | MSG_OOB | MSG_WAITALL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (flags & MSG_OOB) return fail(lpErrno, WSAEOPNOTSUPP);  // lwIP has no urgent data
    const bool want_from = lpFrom != nullptr && sock->udp;
    if (want_from) {
        const int need = sock->v6() ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
        if (lpFromlen == nullptr || *lpFromlen < need) return fail(lpErrno, WSAEFAULT);  // nothing consumed
    }
    sock_address from{};
    DWORD got = 0;
    int e;
    {
        core_lock lk(the_stack());
        if (sock->tcp && sock->tcp->is_listening()) return fail(lpErrno, WSAENOTCONN);
        e = do_recv(lk, *sock, lpBuffers, dwBufferCount, total, flags, want_from ? &from : nullptr, got);
    }
    if (e != 0 && e != WSAEMSGSIZE) return fail(lpErrno, e);
    *lpNumberOfBytesRecvd = got;
    *lpFlags = 0;
    if (want_from) to_sockaddr(from, lpFrom, lpFromlen);
    return e == 0 ? 0 : fail(lpErrno, e);
}

int send_common(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                const struct sockaddr* lpTo, int iTolen, bool sendto, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPINT lpErrno) {
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (is_overlapped(lpOverlapped, lpCompletionRoutine)) return fail(lpErrno, WSAEOPNOTSUPP);
    std::size_t total = 0;
    if (int e = check_buffers(lpBuffers, dwBufferCount, total)) return fail(lpErrno, e);
    if (lpNumberOfBytesSent == nullptr) return fail(lpErrno, WSAEFAULT);
    if (dwFlags & ~static_cast<DWORD>(MSG_OOB | MSG_DONTROUTE | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (dwFlags & (MSG_OOB | MSG_PARTIAL)) return fail(lpErrno, WSAEOPNOTSUPP);
    sock_address to{};
    const bool have_to = sendto && sock->udp && lpTo != nullptr;
    if (have_to) {
        if (int e = from_sockaddr(lpTo, iTolen, sock->family, to)) return fail(lpErrno, e);
    }
    DWORD sent = 0;
    {
        core_lock lk(the_stack());
        if (sock->tcp) {
            if (int e = tcp_send(lk, *sock, lpBuffers, dwBufferCount, total, sent)) return fail(lpErrno, e);
        } else {
            if (!have_to && !sock->udp->connected())
                return fail(lpErrno, sendto ? WSAEDESTADDRREQ : WSAENOTCONN);
            const std::vector<std::uint8_t> datagram = gather(lpBuffers, dwBufferCount, total);
            const udp_endpoint::io_result r =
                sock->udp->send_to(datagram.data(), datagram.size(), have_to ? &to : nullptr);
            if (r.error != net_error::ok) return fail(lpErrno, to_wsa(r.error));
            sent = static_cast<DWORD>(r.bytes);
        }
    }
    *lpNumberOfBytesSent = sent;
    return 0;
}

}  // namespace

int WSPAPI WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                   LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                   LPWSATHREADID, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, nullptr, 0, false, lpOverlapped,
                       lpCompletionRoutine, lpErrno);
}

int WSPAPI WSPSendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
                     DWORD dwFlags, const struct sockaddr* lpTo, int iTolen, LPWSAOVERLAPPED lpOverlapped,
                     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return send_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen, true, lpOverlapped,
                       lpCompletionRoutine, lpErrno);
}

int WSPAPI WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
                   LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
                   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, nullptr, nullptr, lpOverlapped,
                       lpCompletionRoutine, lpErrno);
}

int WSPAPI WSPRecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
                       LPDWORD lpFlags, struct sockaddr* lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    return recv_common(s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen, lpOverlapped,
                       lpCompletionRoutine, lpErrno);
}

int WSPAPI WSPIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer, LPVOID lpvOutBuffer,
                    DWORD cbOutBuffer, LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (is_overlapped(lpOverlapped, lpCompletionRoutine)) return fail(lpErrno, WSAEOPNOTSUPP);
    if (lpcbBytesReturned == nullptr) return fail(lpErrno, WSAEFAULT);
    core_lock lk(the_stack());
    switch (dwIoControlCode) {
        case FIONBIO: {
            if (lpvInBuffer == nullptr || cbInBuffer < sizeof(u_long)) return fail(lpErrno, WSAEFAULT);
            u_long value;
            std::memcpy(&value, lpvInBuffer, sizeof value);
            sock->nonblocking = value != 0;
            *lpcbBytesReturned = 0;
            return 0;
        }
        case FIONREAD: {
            if (lpvOutBuffer == nullptr || cbOutBuffer < sizeof(u_long)) return fail(lpErrno, WSAEFAULT);
            std::size_t n = sock->tcp ? (sock->tcp->is_listening() ? 0 : sock->tcp->bytes_readable())
                                      : sock->udp->bytes_queued();
            const u_long value = static_cast<u_long>(std::min<std::size_t>(n, 0xffffffffu));
            std::memcpy(lpvOutBuffer, &value, sizeof value);
            *lpcbBytesReturned = sizeof value;
            return 0;
        }
        case SIOCATMARK: {
            if (lpvOutBuffer == nullptr || cbOutBuffer < sizeof(BOOL)) return fail(lpErrno, WSAEFAULT);
            if (!sock->tcp) return fail(lpErrno, WSAEINVAL);
            const BOOL at_mark = TRUE;  // urgent data never arrives (lwIP delivers none)
            std::memcpy(lpvOutBuffer, &at_mark, sizeof at_mark);
            *lpcbBytesReturned = sizeof at_mark;
            return 0;
        }
        default:
            return fail(lpErrno, WSAEINVAL);
    }
}

// ---- WSPSelect ----------------------------------------------------------------

namespace {

struct select_entry {
    SOCKET handle;
    std::shared_ptr<wsp_socket> sock;
};

bool ready_read(wsp_socket& s) {
    if (s.closing) return true;
    if (s.tcp) return s.tcp->is_listening() ? s.tcp->pending_accepts() > 0 : s.tcp->readable() || s.tcp->receive_shut();
    return s.udp->readable();
}

bool connect_failed(wsp_socket& s) {
    return s.tcp && s.connect_pending && s.tcp->current_state() == tcp_endpoint::state::fresh &&
           s.tcp->pending_error() != net_error::ok;
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
    DWORD timeout_ms = 0;
    const bool forever = timeout == nullptr;
    if (timeout != nullptr) {
        const unsigned long long ms =
            static_cast<unsigned long long>(timeout->tv_sec) * 1000ull + static_cast<unsigned long long>(timeout->tv_usec + 999) / 1000ull;
        timeout_ms = static_cast<DWORD>(std::min<unsigned long long>(ms, 0xfffffffeull));
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
        if (!forever) deadline = st.now() + millis(timeout_ms);
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
