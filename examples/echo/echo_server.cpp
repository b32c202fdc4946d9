// lwsp_echo_server — a TCP echo server on lwsp, written against the Winsock
// SPI only (the WSP* proc table from WSPStartup).  It accepts one
// connection at a time, sends back every byte it receives until the client
// closes its side, closes gracefully (FIN), and prints one line per
// connection.  --count N exits after N connections (default: forever).
//
// Usage: lwsp_echo_server [--port 7] [--v6] [--count N] [--tap NAME]
//   --v6  listen on [::] (2001:db8::1) instead of 0.0.0.0 (192.0.2.1)
//
// Run it (as root, from the repository root; scripts/netns-run makes a
// private network namespace holding TAP device lwsp0, kernel side
// 192.0.2.2, and deletes it afterwards):
//   scripts/netns-run -- bash -c 'build/release/examples/lwsp_echo_server --count 1 & sleep 1;
//       echo hello | socat -t 5 - TCP:192.0.2.1:7; wait'
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bringup.hpp"

namespace {

int usage() {
    std::fprintf(stderr, "usage: lwsp_echo_server [--port 7] [--v6] [--count N] [--tap NAME]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string tap = examples::take_tap_option(argc, argv);
        examples::server_options opts{7};
        if (!examples::parse_server_options(argc, argv, opts)) return usage();
        const long count = opts.count;
        const bool v6 = opts.v6;

        examples::network net(tap);
        const WSPPROC_TABLE& wsp = net.wsp();
        int err = 0;
        std::string local;
        const SOCKET listener = examples::listen_on(wsp, v6, opts.port, 8, local);
        if (listener == INVALID_SOCKET) return 1;
        std::printf("lwsp_echo_server: listening on %s (TAP %s; lwsp is %s)\n", local.c_str(), net.tap_name().c_str(),
                    v6 ? examples::k_ipv6 : examples::k_ipv4);
        std::fflush(stdout);

        for (long served = 0; count < 0 || served < count; ++served) {
            SOCKADDR_STORAGE peer{};
            int peer_len = sizeof peer;
            SOCKET c = wsp.lpWSPAccept(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len, nullptr, 0, &err);
            if (c == INVALID_SOCKET) {
                std::fprintf(stderr, "WSPAccept: %s\n", examples::wsa_error(err).c_str());
                return 1;
            }
            // Echo until WSPRecv reports 0 bytes: the client's FIN.
            unsigned long long echoed = 0;
            std::string outcome = "closed by the client";
            char buf[16384];
            for (;;) {
                WSABUF b{sizeof buf, buf};
                DWORD got = 0, flags = 0;
                if (wsp.lpWSPRecv(c, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) {
                    outcome = "WSPRecv: " + examples::wsa_error(err);
                    break;
                }
                if (got == 0) break;
                if (!examples::send_all(wsp, c, buf, got, err)) {
                    outcome = "WSPSend: " + examples::wsa_error(err);
                    break;
                }
                echoed += got;
            }
            // Default close (SO_DONTLINGER): the echoed data, then FIN.
            wsp.lpWSPCloseSocket(c, &err);
            std::printf("connection %ld from %s: %llu bytes echoed, %s\n", served + 1,
                        examples::address_text(wsp, peer, peer_len).c_str(), echoed, outcome.c_str());
            std::fflush(stdout);
        }
        wsp.lpWSPCloseSocket(listener, &err);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lwsp_echo_server: %s\n", e.what());
        return 1;
    }
}
