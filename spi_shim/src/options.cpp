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

int so_error_value(wsp_socket& s) {
    if (s.so_error_override != 0) {
        const int v = s.so_error_override;
        s.so_error_override = 0;
        return v;
    }
    if (s.tcp) return to_wsa(s.tcp->take_error());
    return 0;
}

int get_socket_level(wsp_socket& s, int optname, char* optval, LPINT optlen) {
    const bool tcp = s.tcp != nullptr;
    switch (optname) {
        case SO_ACCEPTCONN: return write_int(optval, optlen, tcp && s.tcp->is_listening() ? 1 : 0);
        case SO_BROADCAST: return write_int(optval, optlen, !tcp && s.udp->opts().broadcast ? 1 : 0);
        case SO_DEBUG: return write_int(optval, optlen, s.debug ? 1 : 0);
        case SO_DONTROUTE: return write_int(optval, optlen, s.dont_route ? 1 : 0);
        case SO_KEEPALIVE:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.tcp->opts().keepalive ? 1 : 0);
        case SO_OOBINLINE:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.oob_inline ? 1 : 0);
        case SO_REUSEADDR:
            return write_int(optval, optlen,
                             (tcp ? s.tcp->opts().reuse_address : s.udp->opts().reuse_address) ? 1 : 0);
        case SO_DONTLINGER:
            if (!tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, s.linger_opt.l_onoff == 0 ? 1 : 0);
        case SO_LINGER: {
            if (!tcp) return WSAENOPROTOOPT;
            if (*optlen < static_cast<int>(sizeof(struct linger))) return WSAEFAULT;
            std::memcpy(optval, &s.linger_opt, sizeof(struct linger));
            *optlen = sizeof(struct linger);
            return 0;
        }
        case SO_RCVBUF: return write_int(optval, optlen, s.recv_buffer);
        case SO_SNDBUF: return write_int(optval, optlen, s.send_buffer);
        case SO_RCVTIMEO: return write_int(optval, optlen, static_cast<int>(s.recv_timeout_ms));
        case SO_SNDTIMEO: return write_int(optval, optlen, static_cast<int>(s.send_timeout_ms));
        case SO_ERROR: {
            if (*optlen < k_int) return WSAEFAULT;
            return write_int(optval, optlen, so_error_value(s));
        }
        case SO_TYPE: return write_int(optval, optlen, s.type);
        case SO_MAX_MSG_SIZE:
            if (tcp) return WSAENOPROTOOPT;
            return write_int(optval, optlen, static_cast<int>(s.udp->max_datagram()));
        default: return WSAENOPROTOOPT;
    }
}

int set_socket_level(wsp_socket& s, int optname, const char* optval, int optlen) {
    const bool tcp = s.tcp != nullptr;
    bool b = false;
    int v = 0;
    switch (optname) {
        case SO_ACCEPTCONN:
        case SO_TYPE:
        case SO_MAX_MSG_SIZE: return WSAENOPROTOOPT;  // read-only
        case SO_BROADCAST: {
            if (int e = read_bool(optval, optlen, b)) return e;
            if (!tcp) {
                udp_endpoint::options o = s.udp->opts();
                o.broadcast = b;
                s.udp->set_options(o);
            }
            return 0;
        }
        case SO_DEBUG:
            if (int e = read_bool(optval, optlen, b)) return e;
            s.debug = b;
            return 0;
        case SO_DONTROUTE:
            if (int e = read_bool(optval, optlen, b)) return e;
            s.dont_route = b;
            return 0;
        case SO_KEEPALIVE: {
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            tcp_endpoint::options o = s.tcp->opts();
            o.keepalive = b;
            s.tcp->set_options(o);
            return 0;
        }
        case SO_OOBINLINE:
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            s.oob_inline = b;
            return 0;
        case SO_REUSEADDR: {
            if (int e = read_bool(optval, optlen, b)) return e;
            if (tcp) {
                tcp_endpoint::options o = s.tcp->opts();
                o.reuse_address = b;
                s.tcp->set_options(o);
            } else {
                udp_endpoint::options o = s.udp->opts();
                o.reuse_address = b;
                s.udp->set_options(o);
            }
            return 0;
        }
        case SO_DONTLINGER:
            // Only flips l_onoff; a later SO_DONTLINGER=FALSE brings the
            // previous l_linger back.
            if (!tcp) return WSAENOPROTOOPT;
            if (int e = read_bool(optval, optlen, b)) return e;
            s.linger_opt.l_onoff = b ? 0 : 1;
            return 0;
        case SO_LINGER:
            if (!tcp) return WSAENOPROTOOPT;
            if (optval == nullptr || optlen < static_cast<int>(sizeof(struct linger))) return WSAEFAULT;
            std::memcpy(&s.linger_opt, optval, sizeof(struct linger));
            return 0;
        case SO_RCVBUF:
            if (int e = read_int(optval, optlen, v)) return e;
            if (v < 0) return WSAEINVAL;
            s.recv_buffer = v;
            if (!tcp && v > 0) {
                udp_endpoint::options o = s.udp->opts();
                o.receive_buffer = static_cast<std::size_t>(v);
                s.udp->set_options(o);
            }
            return 0;
        case SO_SNDBUF:
            if (int e = read_int(optval, optlen, v)) return e;
            if (v < 0) return WSAEINVAL;
            s.send_buffer = v;
            return 0;
        case SO_RCVTIMEO:
            if (int e = read_int(optval, optlen, v)) return e;
            s.recv_timeout_ms = static_cast<DWORD>(v);
            return 0;
        case SO_SNDTIMEO:
            if (int e = read_int(optval, optlen, v)) return e;
            s.send_timeout_ms = static_cast<DWORD>(v);
            return 0;
        case SO_ERROR:
            if (int e = read_int(optval, optlen, v)) return e;
            s.so_error_override = v;
            return 0;
        default: return WSAENOPROTOOPT;
    }
}

}  // namespace

int WSPAPI WSPGetSockOpt(SOCKET s, int level, int optname, char* optval, LPINT optlen, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    if (int e = find_socket(s, sock)) return fail(lpErrno, e);
    if (level != SOL_SOCKET && level != IPPROTO_TCP && level != IPPROTO_IP && level != IPPROTO_IPV6)
        return fail(lpErrno, WSAEINVAL);
    if (optval == nullptr || optlen == nullptr) return fail(lpErrno, WSAEFAULT);
    core_lock lk(*sock->st);
    wsp_socket& so = *sock;
    int e;
    switch (level) {
        case SOL_SOCKET: e = get_socket_level(so, optname, optval, optlen); break;
        case IPPROTO_TCP:
            if (!so.tcp || optname != TCP_NODELAY)
                e = WSAENOPROTOOPT;
            else
                e = write_int(optval, optlen, so.tcp->opts().nodelay ? 1 : 0);
            break;
        case IPPROTO_IP:
            if (so.v6() || optname != IP_TTL) {
                e = WSAENOPROTOOPT;
            } else {
                const std::uint8_t ttl = so.tcp ? so.tcp->opts().ttl : so.udp->opts().ttl;
                e = write_int(optval, optlen, ttl != 0 ? ttl : 255);  // lwIP's default IP_DEFAULT_TTL
            }
            break;
        default:  // IPPROTO_IPV6
            if (!so.v6()) {
                e = WSAENOPROTOOPT;
            } else if (optname == IPV6_V6ONLY) {
                e = write_int(optval, optlen, 1);
            } else if (optname == IPV6_UNICAST_HOPS) {
                const std::uint8_t ttl = so.tcp ? so.tcp->opts().ttl : so.udp->opts().ttl;
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
    if (level != SOL_SOCKET && level != IPPROTO_TCP && level != IPPROTO_IP && level != IPPROTO_IPV6)
        return fail(lpErrno, WSAEINVAL);
    core_lock lk(*sock->st);
    wsp_socket& so = *sock;
    int e;
    int v = 0;
    bool b = false;
    switch (level) {
        case SOL_SOCKET: e = set_socket_level(so, optname, optval, optlen); break;
        case IPPROTO_TCP:
            if (!so.tcp || optname != TCP_NODELAY) {
                e = WSAENOPROTOOPT;
            } else if ((e = read_bool(optval, optlen, b)) == 0) {
                tcp_endpoint::options o = so.tcp->opts();
                o.nodelay = b;
                so.tcp->set_options(o);
            }
            break;
        default: {  // IP_TTL / IPV6_UNICAST_HOPS (IPV6_V6ONLY: only TRUE, dual-stack sockets are not offered)
            const bool ttl_opt = level == IPPROTO_IP ? !so.v6() && optname == IP_TTL
                                                     : so.v6() && optname == IPV6_UNICAST_HOPS;
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
            if (so.tcp) {
                tcp_endpoint::options o = so.tcp->opts();
                o.ttl = static_cast<std::uint8_t>(v);
                so.tcp->set_options(o);
            } else {
                udp_endpoint::options o = so.udp->opts();
                o.ttl = static_cast<std::uint8_t>(v);
                so.udp->set_options(o);
            }
            break;
        }
    }
    return e == 0 ? 0 : fail(lpErrno, e);
}

}  // namespace lwsp::wsp
