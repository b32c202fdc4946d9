// examples/common/bringup.hpp — what every example does before its first
// socket: start lwsp's stack, attach the TAP device with the example
// addresses, and take the provider's proc table from WSPStartup.
//
//     std::string tap = examples::take_tap_option(argc, argv);  // "--tap NAME"
//     ... parse the program's own arguments ...
//     examples::network net(tap);
//     const WSPPROC_TABLE& wsp = net.wsp();
//     int err;
//     SOCKET s = wsp.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
//
// The device is `--tap NAME`, else $LWSP_TAP, else "lwsp0"; it must exist
// already (scripts/netns-run creates lwsp0 in a private namespace, kernel
// side 192.0.2.2/24 and 2001:db8::2/64).  lwsp takes 192.0.2.1/24 and
// 2001:db8::1 (and the link-local address it always adds).
#pragma once

#include <memory>
#include <string>

#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"
#include "lwsp/tap_link.hpp"

namespace examples {

constexpr const char* k_ipv4 = "192.0.2.1";
constexpr const char* k_ipv6 = "2001:db8::1";

// Removes "--tap NAME" from argv (argc shrinks); returns NAME, else
// $LWSP_TAP, else "lwsp0".  Throws std::runtime_error if NAME is missing.
std::string take_tap_option(int& argc, char** argv);

class network {
public:
    // Throws std::exception (lwsp::tap_error when the device cannot be
    // opened) with a message meant for the user.
    explicit network(const std::string& tap_name);
    // WSPCleanup (closes any socket left open), then stops the stack.
    ~network();
    network(const network&) = delete;
    network& operator=(const network&) = delete;

    const WSPPROC_TABLE& wsp() const { return wsp_; }
    const std::string& tap_name() const { return tap_name_; }

private:
    std::string tap_name_;
    lwsp::stack stack_;  // owns the TAP link once attached; its destructor stops and releases it
    WSPPROC_TABLE wsp_{};
};

// "WSAECONNREFUSED (10061)" for the codes these examples can meet, else the number.
std::string wsa_error(int code);

// Small WSP helpers the examples share.
// "192.0.2.2:7" / "[2001:db8::2]:7" -> sockaddr, through the provider's own parser.
bool to_sockaddr(const WSPPROC_TABLE& wsp, const std::string& text, int af, SOCKADDR_STORAGE& out, int& len);
// sockaddr -> "192.0.2.2:40000" or "[2001:db8::2]:40000" ("?" if it cannot).
std::string address_text(const WSPPROC_TABLE& wsp, const SOCKADDR_STORAGE& a, int len);
// A blocking WSPSend may take less than everything: sends the rest.
bool send_all(const WSPPROC_TABLE& wsp, SOCKET s, const char* data, std::size_t size, int& err);
// A decimal number in [lo, hi].
bool parse_number(const char* text, long lo, long hi, long& out);

// The servers' command line: [--port N] [--v6] [--count N] (after
// take_tap_option).  False on anything else.
struct server_options {
    long port;
    long count = -1;  // connections to serve; -1: forever
    bool v6 = false;
};
bool parse_server_options(int argc, char** argv, server_options& opts);
// A TCP socket listening on the wildcard address of the family, or
// INVALID_SOCKET after printing why.  `local` receives "0.0.0.0:PORT" /
// "[::]:PORT".
SOCKET listen_on(const WSPPROC_TABLE& wsp, bool v6, long port, int backlog, std::string& local);

}  // namespace examples
