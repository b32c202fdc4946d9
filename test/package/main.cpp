// A program using lwsp the way an application outside this repository does.
// The package tests (test/package/CMakeLists.txt) build it against the
// installed CMake package, with nothing but lwsp.pc, and with lwsp's source
// tree as a subproject, then run it.
//
// It brings a stack up on a memlink (a port), takes the provider from
// WSPStartup, sends a UDP datagram from one socket to another and checks
// what arrives, then sends one to a neighbour on the link, which must put an
// ARP request for it on the wire.  Prints OK and exits 0, or says what went
// wrong and exits 1.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>

#include "lwsp/lwsp.h"
#include "lwsp/memlink.hpp"
#include "lwsp/stack.hpp"

// lwIP and the libraries' private headers are not part of the interface:
// none of them may be reachable from here.  (Debian's liblwip-dev installs
// /usr/include/lwip/, where "lwip/opt.h" does not resolve.)
#if defined(__has_include)
#if __has_include("lwip/opt.h") || __has_include("lwipopts.h") || __has_include("lwsp_hooks.h")
#error "lwIP's headers or lwsp's lwIP port headers are visible to a consumer"
#endif
#if __has_include("stack_impl.hpp") || __has_include("tx_offload.hpp") || __has_include("provider.hpp")
#error "a private header of lwsp's libraries is visible to a consumer"
#endif
#endif

namespace {

int fail(const char* what, long detail) {
    std::fprintf(stderr, "consumer: %s (%ld)\n", what, detail);
    return 1;
}

sockaddr_in ipv4(const unsigned char (&addr)[4], std::uint16_t port) {
    sockaddr_in a;
    std::memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    const unsigned char be_port[2] = {static_cast<unsigned char>(port >> 8), static_cast<unsigned char>(port & 0xff)};
    std::memcpy(&a.sin_port, be_port, sizeof be_port);
    std::memcpy(&a.sin_addr, addr, sizeof addr);
    return a;
}

sockaddr* sa(sockaddr_in& a) { return reinterpret_cast<sockaddr*>(&a); }

const unsigned char own_addr[4] = {192, 0, 2, 1};
const unsigned char neighbour_addr[4] = {192, 0, 2, 2};

int run() {
    lwsp::stack st;  // a steady clock; the stack's driver thread runs lwIP
    auto link = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"));
    lwsp::interface_config cfg;
    cfg.ipv4 = lwsp::ipv4_config{lwsp::ipv4_address{{192, 0, 2, 1}}, lwsp::ipv4_address{{255, 255, 255, 0}},
                                 lwsp::ipv4_address{}};
    st.attach(link, cfg);

    WSPDATA data;
    WSPPROC_TABLE wsp;
    WSPUPCALLTABLE upcalls;  // zeroed: lwsp's own handles
    std::memset(&data, 0, sizeof data);
    std::memset(&wsp, 0, sizeof wsp);
    std::memset(&upcalls, 0, sizeof upcalls);
    if (int e = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp)) return fail("WSPStartup", e);

    int err = 0;
    const SOCKET rx = wsp.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
    const SOCKET tx = wsp.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
    if (rx == INVALID_SOCKET || tx == INVALID_SOCKET) return fail("WSPSocket", err);
    sockaddr_in rx_addr = ipv4(own_addr, 7000);
    if (wsp.lpWSPBind(rx, sa(rx_addr), sizeof rx_addr, &err) != 0) return fail("WSPBind", err);
    sockaddr_in tx_addr = ipv4(own_addr, 0);
    if (wsp.lpWSPBind(tx, sa(tx_addr), sizeof tx_addr, &err) != 0) return fail("WSPBind", err);
    int len = sizeof tx_addr;
    if (wsp.lpWSPGetSockName(tx, sa(tx_addr), &len, &err) != 0) return fail("WSPGetSockName", err);
    const DWORD timeout_ms = 10000;  // a bound, should the datagram never come
    if (wsp.lpWSPSetSockOpt(rx, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout_ms), sizeof timeout_ms,
                            &err) != 0)
        return fail("WSPSetSockOpt(SO_RCVTIMEO)", err);

    // 1. tx -> rx: the stack loops a datagram to its own address back.
    char message[] = "hello from a consumer of lwsp";
    WSABUF out = {static_cast<u_long>(sizeof message), message};
    DWORD sent = 0;
    if (wsp.lpWSPSendTo(tx, &out, 1, &sent, 0, sa(rx_addr), sizeof rx_addr, nullptr, nullptr, nullptr, &err) != 0)
        return fail("WSPSendTo", err);
    if (sent != sizeof message) return fail("WSPSendTo sent another length", static_cast<long>(sent));

    char buf[256];
    WSABUF in = {sizeof buf, buf};
    DWORD got = 0, flags = 0;
    sockaddr_in from;
    int from_len = sizeof from;
    if (wsp.lpWSPRecvFrom(rx, &in, 1, &got, &flags, sa(from), &from_len, nullptr, nullptr, nullptr, &err) != 0)
        return fail("WSPRecvFrom", err);
    if (got != sizeof message || std::memcmp(buf, message, got) != 0)
        return fail("WSPRecvFrom returned other bytes", static_cast<long>(got));
    if (std::memcmp(&from.sin_addr, &tx_addr.sin_addr, sizeof from.sin_addr) != 0 || from.sin_port != tx_addr.sin_port)
        return fail("WSPRecvFrom reported another sender", 0);

    // 2. tx -> a neighbour on the memlink: lwIP asks for its MAC first.
    sockaddr_in neighbour = ipv4(neighbour_addr, 9);
    if (wsp.lpWSPSendTo(tx, &out, 1, &sent, 0, sa(neighbour), sizeof neighbour, nullptr, nullptr, nullptr, &err) != 0)
        return fail("WSPSendTo (neighbour)", err);
    bool asked = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!asked && std::chrono::steady_clock::now() < give_up) {
        link->wait_for(1, std::chrono::milliseconds(500));
        for (const auto& f : link->take()) {
            // Ethernet type ARP, operation request, target 192.0.2.2.
            asked = asked || (f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 1 &&
                              std::memcmp(&f[38], neighbour_addr, 4) == 0);
        }
    }
    if (!asked) return fail("no ARP request for 192.0.2.2 on the memlink", static_cast<long>(link->frames_sent()));

    if (wsp.lpWSPCloseSocket(rx, &err) != 0 || wsp.lpWSPCloseSocket(tx, &err) != 0) return fail("WSPCloseSocket", err);
    if (wsp.lpWSPCleanup(&err) != 0) return fail("WSPCleanup", err);
    st.stop();
    std::puts("OK");
    return 0;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
}
