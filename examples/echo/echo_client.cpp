// lwsp_echo_client — connects to a TCP echo server through lwsp (Winsock SPI
// only), sends a message, reads the echo, prints it and closes gracefully:
// WSPShutdown(SD_SEND) sends our FIN, WSPRecv drains until the server's FIN,
// then WSPCloseSocket.  Exit code 0 only if the echo equals the message.
//
// Usage: lwsp_echo_client HOST PORT [MESSAGE] [--tap NAME]
//   HOST is an IPv4 or IPv6 address (no names: lwsp has no resolver); the
//   family follows from the text, which WSPStringToAddress parses.
//
// Run it (as root, from the repository root; scripts/netns-run makes a
// private network namespace holding TAP device lwsp0, kernel side
// 192.0.2.2 / 2001:db8::2, and deletes it afterwards):
//   scripts/netns-run -- bash -c 'socat TCP6-LISTEN:7,ipv6only=0,fork EXEC:cat & trap "kill $!" EXIT; sleep 0.5;
//       build/release/examples/lwsp_echo_client 2001:db8::2 7 "hello, kernel"'
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "bringup.hpp"

namespace {

const DWORD k_timeout_ms = 10000;  // give up on a silent server after 10 s

int usage() {
    std::fprintf(stderr, "usage: lwsp_echo_client HOST PORT [MESSAGE] [--tap NAME]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string tap = examples::take_tap_option(argc, argv);
        if (argc < 3 || argc > 4) return usage();
        std::string host = argv[1];
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        char* end = nullptr;
        const long port = std::strtol(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || port < 1 || port > 65535) return usage();
        const std::string message = argc > 3 ? argv[3] : "hello from lwsp";

        examples::network net(tap);
        const WSPPROC_TABLE& wsp = net.wsp();
        int err = 0;

        // "192.0.2.2:7" or "[2001:db8::2]:7" -> sockaddr_in / sockaddr_in6.
        const bool v6 = host.find(':') != std::string::npos;
        const int af = v6 ? AF_INET6 : AF_INET;
        const std::string text = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
        SOCKADDR_STORAGE to{};
        int to_len = 0;
        if (!examples::to_sockaddr(wsp, text, af, to, to_len)) {
            std::fprintf(stderr, "lwsp_echo_client: %s is not an IPv4 or IPv6 address\n", host.c_str());
            return 2;
        }

        SOCKET s = wsp.lpWSPSocket(af, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
        if (s == INVALID_SOCKET) {
            std::fprintf(stderr, "WSPSocket: %s\n", examples::wsa_error(err).c_str());
            return 1;
        }
        const int timeout = static_cast<int>(k_timeout_ms);
        wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout), sizeof timeout, &err);

        if (wsp.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&to), to_len, nullptr, nullptr, nullptr, nullptr, &err) ==
            SOCKET_ERROR) {
            std::fprintf(stderr, "WSPConnect %s: %s\n", text.c_str(), examples::wsa_error(err).c_str());
            wsp.lpWSPCloseSocket(s, &err);
            return 1;
        }

        // Send the message (a blocking WSPSend may take part of it: loop),
        // then our FIN: the server echoes what it got and closes too.
        std::size_t off = 0;
        while (off < message.size()) {
            WSABUF b{static_cast<u_long>(message.size() - off), const_cast<char*>(message.data() + off)};
            DWORD sent = 0;
            if (wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) {
                std::fprintf(stderr, "WSPSend: %s\n", examples::wsa_error(err).c_str());
                wsp.lpWSPCloseSocket(s, &err);
                return 1;
            }
            off += sent;
        }
        if (wsp.lpWSPShutdown(s, SD_SEND, &err) == SOCKET_ERROR)
            std::fprintf(stderr, "WSPShutdown: %s\n", examples::wsa_error(err).c_str());

        // Read the echo until the server's FIN (WSPRecv returns 0 bytes).
        std::string echo;
        for (;;) {
            char buf[4096];
            WSABUF b{sizeof buf, buf};
            DWORD got = 0, flags = 0;
            if (wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) {
                std::fprintf(stderr, "WSPRecv: %s after %zu bytes\n", examples::wsa_error(err).c_str(), echo.size());
                wsp.lpWSPCloseSocket(s, &err);
                return 1;
            }
            if (got == 0) break;
            echo.append(buf, got);
        }
        wsp.lpWSPCloseSocket(s, &err);  // both FINs are exchanged: a clean close

        std::fwrite(echo.data(), 1, echo.size(), stdout);
        if (echo.empty() || echo.back() != '\n') std::fputc('\n', stdout);
        std::fflush(stdout);
        const bool same = echo == message;
        std::fprintf(stderr, "lwsp_echo_client: %s: sent %zu bytes, received %zu: %s\n", text.c_str(), message.size(),
                     echo.size(), same ? "the echo matches" : "the echo DIFFERS");
        return same ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lwsp_echo_client: %s\n", e.what());
        return 1;
    }
}
