#include "wsp_fixture.hpp"

#include <catch2/catch.hpp>
#include <cstring>

namespace lwsp::test {

wsp_env::wsp_env(bool manual_clock, const WSPUPCALLTABLE* upcalls, const link_wrapper& wrap)
    : wsp_env(
          [manual_clock] {
              lwsp::stack::options o;
              o.manual_clock = manual_clock;
              return o;
          }(),
          upcalls, wrap) {}

wsp_env::wsp_env(const lwsp::stack::options& opts, const WSPUPCALLTABLE* upcalls, const link_wrapper& wrap)
    : lan(opts, {}, wrap) {
    WSPUPCALLTABLE none{};
    startup_result = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls ? *upcalls : none, &p);
    REQUIRE(startup_result == 0);
}

wsp_env::~wsp_env() {
    int err = 0;
    if (startup_result == 0) p.lpWSPCleanup(&err);
}

SOCKET wsp_env::socket(int af, int type, int protocol) {
    int err = 0;
    SOCKET s = p.lpWSPSocket(af, type, protocol, nullptr, 0, 0, &err);
    REQUIRE(s != INVALID_SOCKET);
    return s;
}

sockaddr_in wsp_env::addr4(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    const ip_addr parsed = ip_addr::parse(ip);
    std::memcpy(&a.sin_addr, parsed.data(), 4);
    const std::uint8_t be[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    std::memcpy(&a.sin_port, be, 2);
    return a;
}

sockaddr_in6 wsp_env::addr6(const char* ip, std::uint16_t port) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    const ip_addr parsed = ip_addr::parse(ip);
    std::memcpy(&a.sin6_addr, parsed.data(), 16);
    const std::uint8_t be[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    std::memcpy(&a.sin6_port, be, 2);
    return a;
}

SOCKET wsp_env::listener(std::uint16_t port, bool v6, int backlog) {
    SOCKET s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
    int err = 0;
    if (v6) {
        sockaddr_in6 a = addr6("::", port);
        REQUIRE(p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&a), sizeof a, &err) == 0);
    } else {
        sockaddr_in a = addr4("0.0.0.0", port);
        REQUIRE(p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&a), sizeof a, &err) == 0);
    }
    REQUIRE(p.lpWSPListen(s, backlog, &err) == 0);
    return s;
}

SOCKET wsp_env::accept_from_peer(SOCKET lst, tcp_script& conn) {
    REQUIRE(handshake(*this, conn));
    int err = 0;
    SOCKET s = p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    INFO("WSPAccept error " << err);
    REQUIRE(s != INVALID_SOCKET);
    return s;
}

SOCKET wsp_env::connect_to_peer(tcp_script& conn, bool v6) {
    SOCKET s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
    int err = 0;
    // Bind first, so that the script's 4-tuple is known before the SYN.
    if (v6) {
        sockaddr_in6 local = addr6("2001:db8::1", conn.remote_port());
        REQUIRE(p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&local), sizeof local, &err) == 0);
    } else {
        sockaddr_in local = addr4("192.0.2.1", conn.remote_port());
        REQUIRE(p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&local), sizeof local, &err) == 0);
    }
    REQUIRE(set_nonblocking(s, true) == 0);
    int r;
    if (v6) {
        sockaddr_in6 a = addr6("2001:db8::2", conn.local_port());
        r = p.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr, &err);
    } else {
        sockaddr_in a = addr4("192.0.2.2", conn.local_port());
        r = p.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr, &err);
    }
    REQUIRE(r == SOCKET_ERROR);
    REQUIRE(err == WSAEWOULDBLOCK);
    bool answered = false;
    for (parsed_frame& f : pump()) {
        if (f.tcp && f.tcp->has(tcp_syn) && !f.tcp->has(tcp_ack) && conn.accept(f)) {
            conn.send_syn_ack();
            answered = true;
        }
    }
    REQUIRE(answered);
    for (parsed_frame& f : pump()) conn.accept(f);  // the handshake's final ACK
    REQUIRE(set_nonblocking(s, false) == 0);
    return s;
}

long wsp_env::send(SOCKET s, const std::string& text, DWORD flags) {
    WSABUF b{static_cast<u_long>(text.size()), const_cast<char*>(text.data())};
    DWORD sent = 0;
    int err = 0;
    if (p.lpWSPSend(s, &b, 1, &sent, flags, nullptr, nullptr, nullptr, &err) != 0) return -err;
    return static_cast<long>(sent);
}

std::string wsp_env::recv(SOCKET s, std::size_t max, int& err, DWORD flags) {
    std::string buf(max, '\0');
    WSABUF b{static_cast<u_long>(max), buf.data()};
    DWORD got = 0;
    err = 0;
    if (p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0) return {};
    buf.resize(got);
    return buf;
}

int wsp_env::close(SOCKET s) {
    int err = 0;
    return p.lpWSPCloseSocket(s, &err) == 0 ? 0 : err;
}

int wsp_env::set_linger(SOCKET s, u_short on, u_short seconds) {
    struct linger l {
        on, seconds
    };
    int err = 0;
    return p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) == 0 ? 0
                                                                                                               : err;
}

int wsp_env::set_nonblocking(SOCKET s, bool on) {
    u_long v = on ? 1 : 0;
    DWORD ret = 0;
    int err = 0;
    return p.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
}

bool wsp_env::handle_valid(SOCKET s) {
    int type = 0, len = sizeof type, err = 0;
    return p.lpWSPGetSockOpt(s, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len, &err) == 0;
}

}  // namespace lwsp::test
