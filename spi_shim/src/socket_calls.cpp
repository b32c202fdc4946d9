// Creating, naming and connecting sockets: WSPSocket, WSPBind, WSPListen,
// WSPAccept, WSPConnect, WSPShutdown, WSPGetSockName, WSPGetPeerName.
#include <cstring>

#include "events.hpp"
#include "provider.hpp"
#include "requests.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

int sockaddr_size(int family) {
    return family == AF_INET6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
}

// Picks (type, protocol) for WSPSocket, or returns the Winsock error.
int resolve_triple(int af, int& type, int& protocol) {
    if (af == AF_UNSPEC) return WSAEINVAL;
    if (af != AF_INET && af != AF_INET6) return WSAEAFNOSUPPORT;
    if (type == 0) {
        if (protocol == 0 || protocol == IPPROTO_TCP)
            type = SOCK_STREAM;
        else if (protocol == IPPROTO_UDP)
            type = SOCK_DGRAM;
        else
            return WSAEPROTONOSUPPORT;
    }
    if (type == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP) return WSAEPROTONOSUPPORT;
        protocol = IPPROTO_TCP;
        return 0;
    }
    if (type == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP) return WSAEPROTONOSUPPORT;
        protocol = IPPROTO_UDP;
        return 0;
    }
    return WSAESOCKTNOSUPPORT;  // raw, RDM, seqpacket and unknown types
}

SOCKET fail_socket(LPINT lpErrno, int code) {
    *lpErrno = code;
    return INVALID_SOCKET;
}

}  // namespace

SOCKET WSPAPI WSPSocket(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g, DWORD dwFlags,
                        LPINT lpErrno) {
    if (lpErrno == nullptr) return INVALID_SOCKET;
    if (int e = check_entry()) return fail_socket(lpErrno, e);
    if (lpProtocolInfo != nullptr) {
        if (af == FROM_PROTOCOL_INFO) af = lpProtocolInfo->iAddressFamily;
        if (type == FROM_PROTOCOL_INFO) type = lpProtocolInfo->iSocketType;
        if (protocol == FROM_PROTOCOL_INFO) protocol = lpProtocolInfo->iProtocol;
    }
    if (int e = resolve_triple(af, type, protocol)) return fail_socket(lpErrno, e);
    if (g != 0) return fail_socket(lpErrno, WSAEINVAL);  // no socket groups
    auto sock = std::make_shared<wsp_socket>(the_stack(), af, type, protocol, dwFlags);
    wsp_socket& so = *sock;
    {
        core_lock lk(*so.st);
        so.io = transport(*so.st, af == AF_INET6, type, &so);
        if (type == SOCK_STREAM) {
            so.opts.recv_buffer = static_cast<int>(tcp_endpoint::receive_window_size());
            so.opts.send_buffer = static_cast<int>(tcp_endpoint::send_buffer_size());
        } else {
            so.events.enable(FD_WRITE);  // recorded once, at the first registration after a bind
            so.opts.recv_buffer = static_cast<int>(udp_endpoint::default_receive_buffer);
        }
    }
    int err = 0;
    const SOCKET s = register_socket(sock, err);
    if (s == INVALID_SOCKET) {
        core_lock lk(*so.st);  // the endpoint goes back to lwIP under the lock
        so.io.reset();
        return fail_socket(lpErrno, err);
    }
    return s;
}

int WSPAPI WSPBind(SOCKET s, const struct sockaddr* name, int namelen, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    sock_address local;
    if (int e = from_sockaddr(name, namelen, so.family, local)) return fail(lpErrno, e);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    net_error r;
    if (tcp_endpoint* tcp = so.io.tcp()) {
        if (tcp->current_state() != tcp_endpoint::state::fresh || so.connect_pending) return fail(lpErrno, WSAEINVAL);
        r = tcp->bind(local);
    } else {
        r = so.io.udp()->bind(local);
    }
    if (r != net_error::ok) return fail(lpErrno, to_wsa(r));
    return 0;
}

int WSPAPI WSPListen(SOCKET s, int backlog, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (!so.is_stream()) return fail(lpErrno, WSAEOPNOTSUPP);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    const net_error r = so.io.tcp()->listen(backlog);
    if (r != net_error::ok) return fail(lpErrno, to_wsa(r));
    return 0;
}

SOCKET WSPAPI WSPAccept(SOCKET s, struct sockaddr* addr, LPINT addrlen, LPCONDITIONPROC lpfnCondition,
                        DWORD_PTR dwCallbackData, LPINT lpErrno) {
    if (lpErrno == nullptr) return INVALID_SOCKET;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail_socket(lpErrno, e);
    wsp_socket& so = *sock;
    if (!so.is_stream()) return fail_socket(lpErrno, WSAEOPNOTSUPP);
    if (addr != nullptr && (addrlen == nullptr || *addrlen < sockaddr_size(so.family)))
        return fail_socket(lpErrno, WSAEFAULT);
    core_lock lk(*so.st);
    if (so.closing) return fail_socket(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    tcp_endpoint& listener = *so.io.tcp();
    if (!listener.is_listening()) return fail_socket(lpErrno, WSAEINVAL);
    std::unique_ptr<tcp_endpoint> child;
    while (!child) {
        if (listener.pending_accepts() == 0) {
            if (so.nonblocking) return fail_socket(lpErrno, WSAEWOULDBLOCK);
            const int e = block_on(
                lk, so, [&] { return !listener.is_listening() || listener.pending_accepts() > 0; }, 0);
            if (e != 0) return fail_socket(lpErrno, e);
            if (!listener.is_listening()) return fail_socket(lpErrno, WSAEINVAL);
            continue;
        }
        if (lpfnCondition != nullptr) {
            sock_address peer{}, local{};
            listener.pending_peer(peer);
            listener.local_address(local);
            SOCKADDR_STORAGE caller{}, callee{};
            int caller_len = sizeof caller, callee_len = sizeof callee;
            to_sockaddr(peer, reinterpret_cast<sockaddr*>(&caller), &caller_len);
            to_sockaddr(local, reinterpret_cast<sockaddr*>(&callee), &callee_len);
            WSABUF caller_id{static_cast<u_long>(caller_len), reinterpret_cast<char*>(&caller)};
            WSABUF callee_id{static_cast<u_long>(callee_len), reinterpret_cast<char*>(&callee)};
            GROUP g = 0;
            // Application code runs without the core lock.
            lk.unlock();
            const int verdict =
                lpfnCondition(&caller_id, nullptr, nullptr, nullptr, &callee_id, nullptr, &g, dwCallbackData);
            lk.lock();
            if (so.closing) return fail_socket(lpErrno, WSAEINTR);
            if (!listener.is_listening()) return fail_socket(lpErrno, WSAEINVAL);
            if (verdict == CF_REJECT) {
                listener.reject_pending();
                return fail_socket(lpErrno, WSAECONNREFUSED);
            }
            if (verdict == CF_DEFER) return fail_socket(lpErrno, WSATRY_AGAIN);
            if (verdict != CF_ACCEPT) return fail_socket(lpErrno, WSAEINVAL);
        }
        child = listener.accept();  // null if the queued connection died meanwhile
    }
    // An accepted socket inherits the listener's properties.
    auto accepted = std::make_shared<wsp_socket>(*so.st, so.family, so.type, so.protocol, so.flags);
    wsp_socket& acc = *accepted;
    acc.st->assert_core_held();  // the listener's stack: its lock is held
    acc.nonblocking = so.nonblocking;
    acc.opts = so.opts;
    acc.opts.so_error_override = 0;
    acc.io = transport(std::move(child), accepted.get());
    inherit_event_select(so, acc);
    after_accept(so);
    sock_address peer{};
    acc.io.peer_address(peer);
    int err = 0;
    const SOCKET ns = register_socket(accepted, err);
    if (ns == INVALID_SOCKET) {
        acc.io.detach();
        acc.io.tcp()->abort();
        return fail_socket(lpErrno, err);
    }
    if (addr != nullptr) to_sockaddr(peer, addr, addrlen);
    return ns;
}

int WSPAPI WSPConnect(SOCKET s, const struct sockaddr* name, int namelen, LPWSABUF lpCallerData, LPWSABUF lpCalleeData,
                      LPQOS lpSQOS, LPQOS lpGQOS, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    sock_address remote;
    if (int e = from_sockaddr(name, namelen, so.family, remote)) {
        // UDP: AF_UNSPEC dissolves the association.
        if (!(!so.is_stream() && name != nullptr && namelen >= 2 && name->sa_family == AF_UNSPEC))
            return fail(lpErrno, e);
        remote = sock_address::any(so.v6());
    }
    if ((lpCallerData != nullptr && lpCallerData->len > 0) || lpCalleeData != nullptr)
        return fail(lpErrno, WSAEPROTONOSUPPORT);  // no connect data on TCP/IP
    if (lpSQOS != nullptr || lpGQOS != nullptr) return fail(lpErrno, WSAEOPNOTSUPP);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    if (udp_endpoint* udp = so.io.udp()) {
        const net_error r = udp->connect(remote);
        return r == net_error::ok ? 0 : fail(lpErrno, to_wsa(r));
    }
    tcp_endpoint& ep = *so.io.tcp();
    if (ep.current_state() == tcp_endpoint::state::connecting) return fail(lpErrno, WSAEALREADY);
    so.connect_pending = false;
    so.connect_failed = false;
    const net_error r = ep.connect(remote);
    if (r != net_error::in_progress) return fail(lpErrno, to_wsa(r));
    if (so.nonblocking) {
        so.connect_pending = true;
        return fail(lpErrno, WSAEWOULDBLOCK);
    }
    const int e = block_on(
        lk, so, [&] { return ep.current_state() != tcp_endpoint::state::connecting; }, 0);
    if (e != 0) return fail(lpErrno, e);
    if (ep.current_state() == tcp_endpoint::state::connected) return 0;
    // The call reports the failure itself: nothing stays pending for SO_ERROR.
    const net_error why = ep.take_error();
    return fail(lpErrno, why != net_error::ok ? to_wsa(why) : WSAECONNREFUSED);
}

int WSPAPI WSPShutdown(SOCKET s, int how, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (how != SD_RECEIVE && how != SD_SEND && how != SD_BOTH) return fail(lpErrno, WSAEINVAL);
    const bool rd = how != SD_SEND;
    bool wr = how != SD_RECEIVE;
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    // Blocked sends end with WSAESHUTDOWN; queued overlapped ones go first
    // and the FIN follows them (requests.cpp).
    if (wr && so.io.stream() && !so.io.send_shut() && end_blocked_sends(so)) {
        so.fin_after_sends = true;
        wr = false;
    }
    const net_error r = so.io.shutdown(rd, wr);
    pump(so);  // queued receives after SD_RECEIVE finish with WSAESHUTDOWN
    so.wake();
    return r == net_error::ok ? 0 : fail(lpErrno, to_wsa(r));
}

namespace {

// WSPGetSockName / WSPGetPeerName: the state check first (`missing` when the
// socket has no such address), then the buffer (WSAEFAULT).
int name_call(SOCKET s, struct sockaddr* name, LPINT namelen, LPINT lpErrno, bool peer, int missing) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    sock_address a;
    {
        core_lock lk(*so.st);
        if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
        const bool known = peer ? so.io.peer_address(a) : so.io.local_address(a);
        if (!known) return fail(lpErrno, missing);
    }
    if (int e = to_sockaddr(a, name, namelen)) return fail(lpErrno, e);
    return 0;
}

}  // namespace

int WSPAPI WSPGetSockName(SOCKET s, struct sockaddr* name, LPINT namelen, LPINT lpErrno) {
    return name_call(s, name, namelen, lpErrno, false, WSAEINVAL);
}

int WSPAPI WSPGetPeerName(SOCKET s, struct sockaddr* name, LPINT namelen, LPINT lpErrno) {
    return name_call(s, name, namelen, lpErrno, true, WSAENOTCONN);
}

}  // namespace lwsp::wsp
