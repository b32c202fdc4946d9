// WSPGetSockOpt and WSPSetSockOpt.  Levels: SOL_SOCKET, IPPROTO_TCP,
// IPPROTO_IP, IPPROTO_IPV6; an unknown level fails WSAEINVAL, an unknown
// option of a known level WSAENOPROTOOPT.  Values round-trip exactly as set
// (SO_RCVBUF 4096 reads 4096); booleans read back as 0 or 1.
#include <cstring>

#include "provider.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

constexpr int k_int = static_cast<int>(sizeof(int));

// Reads a boolean option value: Winsock accepts a short buffer (one byte).
int read_bool(const char* optval, int optlen, bool& out) {
    if (optval == nullptr || optlen < 1) return WSAEFAULT;
    if (optlen >= k_int) {
        int v;
        std::memcpy(&v, optval, sizeof v);
        out = v != 0;
    } else {
        out = optval[0] != 0;
    }
    return 0;
}

int read_int(const char* optval, int optlen, int& out) {
    if (optval == nullptr || optlen < k_int) return WSAEFAULT;
    std::memcpy(&out, optval, sizeof out);
    return 0;
}

int write_int(char* optval, LPINT optlen, int value) {
    if (*optlen < k_int) return WSAEFAULT;
    std::memcpy(optval, &value, sizeof value);
    *optlen = k_int;
    return 0;
}

int so_error_value(wsp_socket& s) LWSP_REQUIRES(s.st->core()) {
    if (s.opts.so_error_override != 0) {
        const int v = s.opts.so_error_override;
        s.opts.so_error_override = 0;
        return v;
    }
    if (s.io.stream()) return to_wsa(s.io.tcp()->take_error());
    return 0;
}

int get_socket_level(wsp_socket& s, int optname, char* optval, LPINT optlen) LWSP_REQUIRES(s.st->core()) {
    const bool tcp = s.io.stream();
    switch (optname) {
        case SO_ACCEPTCONN: return write_int(optval, optlen, tcp && s.io.tcp()->is_listening() ? 1 : 0);
        case SO_BROADCAST: return write_int(optval, optlen, !tcp && s.io.udp()->opts().broadcast ? 1 : 0);
        case SO_DEBUG: return write_int(optval, optlen, s.opts.debug ? 1 : 0);
        case SO_DONTROUTE: return write_int(optval, optlen, s.opts.dont_route ? 1 : 0);
        case SO_KEEPALIVE:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.io.tcp()->opts().keepalive ? 1 : 0);
        case SO_OOBINLINE:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.opts.oob_inline ? 1 : 0);
        case SO_REUSEADDR:
            return write_int(optval, optlen,
                             (tcp ? s.io.tcp()->opts().reuse_address : s.io.udp()->opts().reuse_address) ? 1 : 0);
        case SO_DONTLINGER:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.opts.linger.l_onoff == 0 ? 1 : 0);
        case SO_LINGER: {
            if (!tcp) return WSAENOPROTOOPT;
            if (*optlen < static_cast<int>(sizeof(struct linger))) return WSAEFAULT;
            std::memcpy(optval, &s.opts.linger, sizeof(struct linger));
            *optlen = sizeof(struct linger);
            return 0;
        }
        case SO_RCVBUF: return write_int(optval, optlen, s.opts.recv_buffer);
        case SO_SNDBUF: return write_int(optval, optlen, s.opts.send_buffer);
        case SO_RCVTIMEO: return write_int(optval, optlen, static_cast<int>(s.opts.recv_timeout_ms));
        case SO_SNDTIMEO: return write_int(optval, optlen, static_cast<int>(s.opts.send_timeout_ms));
        case SO_ERROR: {
            if (*optlen < k_int) return WSAEFAULT;
            return write_int(optval, optlen, so_error_value(s));
        }
        case SO_TYPE: return write_int(optval, optlen, s.type);
        case SO_MAX_MSG_SIZE:
            if (tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, static_cast<int>(s.io.udp()->max_datagram()));
        default: return WSAENOPROTOOPT;
    }
}

int set_socket_level(wsp_socket& s, int optname, const char* optval, int optlen) LWSP_REQUIRES(s.st->core()) {
    const bool tcp = s.io.stream();
    bool b = false;
    int v = 0;
    switch (optname) {
        case SO_ACCEPTCONN:
        case SO_TYPE:
        case SO_MAX_MSG_SIZE: return WSAENOPROTOOPT;  // read-only
        case SO_BROADCAST: {
            if (int e = read_bool(optval, optlen, b)) return e;
            if (!tcp) {
                udp_endpoint::options o = s.io.udp()->opts();
                o.broadcast = b;
                s.io.udp()->set_options(o);
            }
            return 0;
        }
        case SO_DEBUG:
            if (int e = read_bool(optval, optlen, b)) return e;
            s.opts.debug = b;
            return 0;
        case SO_DONTROUTE:
            if (int e = read_bool(optval, optlen, b)) return e;
            s.opts.dont_route = b;
            return 0;
        case SO_KEEPALIVE: {
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            tcp_endpoint::options o = s.io.tcp()->opts();
            o.keepalive = b;
            s.io.tcp()->set_options(o);
            return 0;
        }
        case SO_OOBINLINE:
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            s.opts.oob_inline = b;
            return 0;
        case SO_REUSEADDR: {
            if (int e = read_bool(optval, optlen, b)) return e;
            if (tcp) {
                tcp_endpoint::options o = s.io.tcp()->opts();
                o.reuse_address = b;
                s.io.tcp()->set_options(o);
            } else {
                udp_endpoint::options o = s.io.udp()->opts();
                o.reuse_address = b;
                s.io.udp()->set_options(o);
            }
            return 0;
        }
        case SO_DONTLINGER:
            // Only flips l_onoff; a later SO_DONTLINGER=FALSE brings the
            // previous l_linger back.
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            s.opts.linger.l_onoff = b ? 0 : 1;
            return 0;
        case SO_LINGER:
            if (!tcp) return WSAENOPROTOOPT;
            if (optval == nullptr || optlen < static_cast<int>(sizeof(struct linger))) return WSAEFAULT;
            std::memcpy(&s.opts.linger, optval, sizeof(struct linger));
            return 0;
        case SO_RCVBUF:
            if (int e = read_int(optval, optlen, v)) return e;
            if (v < 0) return WSAEINVAL;
            s.opts.recv_buffer = v;
            if (!tcp && v > 0) {
                udp_endpoint::options o = s.io.udp()->opts();
                o.receive_buffer = static_cast<std::size_t>(v);
                s.io.udp()->set_options(o);
            }
            return 0;
        case SO_SNDBUF:
            if (int e = read_int(optval, optlen, v)) return e;
            if (v < 0) return WSAEINVAL;
            s.opts.send_buffer = v;
            return 0;
        case SO_RCVTIMEO:
            if (int e = read_int(optval, optlen, v)) return e;
            s.opts.recv_timeout_ms = static_cast<DWORD>(v);
            return 0;
        case SO_SNDTIMEO:
            if (int e = read_int(optval, optlen, v)) return e;
            s.opts.send_timeout_ms = static_cast<DWORD>(v);
            return 0;
        case SO_ERROR:
            if (int e = read_int(optval, optlen, v)) return e;
            s.opts.so_error_override = v;
            return 0;
        default: return WSAENOPROTOOPT;
    }
}

}  // namespace

int WSPAPI WSPGetSockOpt(SOCKET s, int level, int optname, char* optval, LPINT optlen, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (level != SOL_SOCKET && level != IPPROTO_TCP && level != IPPROTO_IP && level != IPPROTO_IPV6)
        return fail(lpErrno, WSAEINVAL);
    if (optval == nullptr || optlen == nullptr) return fail(lpErrno, WSAEFAULT);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    int e;
    switch (level) {
        case SOL_SOCKET: e = get_socket_level(so, optname, optval, optlen); break;
        case IPPROTO_TCP:
            if (!so.io.stream() || optname != TCP_NODELAY)
                e = WSAENOPROTOOPT;
            else
                e = write_int(optval, optlen, so.io.tcp()->opts().nodelay ? 1 : 0);
            break;
        case IPPROTO_IP:
            if (so.v6() || optname != IP_TTL) {
                e = WSAENOPROTOOPT;
            } else {
                const std::uint8_t ttl = so.io.stream() ? so.io.tcp()->opts().ttl : so.io.udp()->opts().ttl;
                e = write_int(optval, optlen, ttl != 0 ? ttl : 255);  // lwIP's default IP_DEFAULT_TTL
            }
            break;
        default:  // IPPROTO_IPV6
            if (so.v6() && optname == IPV6_V6ONLY) {
                e = write_int(optval, optlen, 1);
            } else if (so.v6() && optname == IPV6_UNICAST_HOPS) {
                const std::uint8_t ttl = so.io.stream() ? so.io.tcp()->opts().ttl : so.io.udp()->opts().ttl;
                e = write_int(optval, optlen, ttl != 0 ? ttl : 255);
            } else {
                e = WSAENOPROTOOPT;
            }
            break;
    }
    return e == 0 ? 0 : fail(lpErrno, e);
}

int WSPAPI WSPSetSockOpt(SOCKET s, int level, int optname, const char* optval, int optlen, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    if (level != SOL_SOCKET && level != IPPROTO_TCP && level != IPPROTO_IP && level != IPPROTO_IPV6)
        return fail(lpErrno, WSAEINVAL);
    core_lock lk(*so.st);
    if (so.closing) return fail(lpErrno, WSAENOTSOCK);  // closed by another thread meanwhile
    int e;
    int v = 0;
    bool b = false;
    switch (level) {
        case SOL_SOCKET: e = set_socket_level(so, optname, optval, optlen); break;
        case IPPROTO_TCP:
            if (!so.io.stream() || optname != TCP_NODELAY) {
                e = WSAENOPROTOOPT;
            } else if ((e = read_bool(optval, optlen, b)) == 0) {
                tcp_endpoint::options o = so.io.tcp()->opts();
                o.nodelay = b;
                so.io.tcp()->set_options(o);
            }
            break;
        default: {  // IP_TTL / IPV6_UNICAST_HOPS (IPV6_V6ONLY: only TRUE, dual-stack sockets are not offered)
            const bool ttl_opt =
                level == IPPROTO_IP ? !so.v6() && optname == IP_TTL : so.v6() && optname == IPV6_UNICAST_HOPS;
            if (level == IPPROTO_IPV6 && so.v6() && optname == IPV6_V6ONLY) {
                if ((e = read_bool(optval, optlen, b)) == 0 && !b) e = WSAEINVAL;
                break;
            }
            if (!ttl_opt) {
                e = WSAENOPROTOOPT;
                break;
            }
            if ((e = read_int(optval, optlen, v)) != 0) break;
            if (v < 1 || v > 255) {
                e = WSAEINVAL;
                break;
            }
            if (so.io.stream()) {
                tcp_endpoint::options o = so.io.tcp()->opts();
                o.ttl = static_cast<std::uint8_t>(v);
                so.io.tcp()->set_options(o);
            } else {
                udp_endpoint::options o = so.io.udp()->opts();
                o.ttl = static_cast<std::uint8_t>(v);
                so.io.udp()->set_options(o);
            }
            break;
        }
    }
    return e == 0 ? 0 : fail(lpErrno, e);
}

}  // namespace lwsp::wsp
