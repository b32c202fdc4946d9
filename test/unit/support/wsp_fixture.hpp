// wsp_fixture.hpp — the WSP provider on the memlink fixture: the stack, a
// scripted peer, and the proc table returned by WSPStartup, plus helpers
// that set up the usual connections so a test states only what it checks.
#pragma once

#include <string>

#include "fixture.hpp"
#include "lwsp/lwsp.h"

namespace lwsp::test {

class wsp_env : public lan {
public:
    explicit wsp_env(bool manual_clock = true, const WSPUPCALLTABLE* upcalls = nullptr, const link_wrapper& wrap = {});
    explicit wsp_env(const lwsp::stack::options& opts, const WSPUPCALLTABLE* upcalls = nullptr,
                     const link_wrapper& wrap = {});
    ~wsp_env();

    WSPPROC_TABLE p{};
    WSPDATA data{};
    int startup_result = -1;

    // WSPSocket that must succeed.
    SOCKET socket(int af = AF_INET, int type = SOCK_STREAM, int protocol = 0);
    static sockaddr_in addr4(const char* ip, std::uint16_t port);
    static sockaddr_in6 addr6(const char* ip, std::uint16_t port);

    // A listening socket on the stack's `port` (any address of `v6`'s family).
    SOCKET listener(std::uint16_t port, bool v6 = false, int backlog = 5);
    // The peer connects to `lst` through `conn` (a tcp_script towards the
    // listener's port); returns the socket WSPAccept gives.
    SOCKET accept_from_peer(SOCKET lst, tcp_script& conn);
    // The stack, bound to `conn.remote_port()`, connects to the peer's
    // `conn.local_port()`; the peer answers.  Returns the connected socket
    // (blocking mode).
    SOCKET connect_to_peer(tcp_script& conn, bool v6 = false);

    // WSPSend of the whole string; returns the bytes sent or -WSAE code.
    long send(SOCKET s, const std::string& data, DWORD flags = 0);
    // One WSPRecv into a buffer of `max` bytes; returns the text, sets err.
    std::string recv(SOCKET s, std::size_t max, int& err, DWORD flags = 0);
    int close(SOCKET s);  // WSPCloseSocket: 0 or the WSAE code
    int set_linger(SOCKET s, u_short on, u_short seconds);
    int set_nonblocking(SOCKET s, bool on);
    // Is the handle still known to the provider? (WSPGetSockOpt SO_TYPE)
    bool handle_valid(SOCKET s);
};

}  // namespace lwsp::test
