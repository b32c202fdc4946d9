// The examples' shared bring-up: see bringup.hpp.
#include "bringup.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace examples {

std::string take_tap_option(int& argc, char** argv) {
    std::string name;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--tap") == 0) {
            if (i + 1 >= argc) throw std::runtime_error("--tap needs a device name");
            name = argv[++i];
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    argv[argc] = nullptr;
    if (name.empty()) {
        const char* env = std::getenv("LWSP_TAP");
        name = env != nullptr && *env != '\0' ? env : "lwsp0";
    }
    return name;
}

network::network(const std::string& tap_name) : tap_name_(tap_name) {
    // tap_link::open would create a missing device in whatever namespace we
    // run in; an example should rather say where it expected to run.
    // (/sys/class/net/NAME/tun_flags exists for TUN/TAP devices only.)
    if (!std::filesystem::exists("/sys/class/net/" + tap_name_ + "/tun_flags"))
        throw std::runtime_error("no TAP device '" + tap_name_ +
                                 "' here: run inside scripts/netns-run, which creates lwsp0 in a private network "
                                 "namespace (or pass --tap NAME of an existing TAP device)");
    lwsp::tap_link::options o;
    o.name = tap_name_;

    lwsp::interface_config cfg;
    cfg.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse(k_ipv4), *lwsp::ipv4_address::parse("255.255.255.0"),
                                 *lwsp::ipv4_address::parse("0.0.0.0")};
    cfg.ipv6 = {*lwsp::ipv6_address::parse(k_ipv6)};
    stack_.attach(lwsp::tap_link::open(o), cfg);  // the stack keeps the device open until it stops

    WSPDATA data{};
    WSPUPCALLTABLE upcalls{};  // zeroed: lwsp's own handles and upcalls
    if (int e = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp_))
        throw std::runtime_error("WSPStartup failed: " + wsa_error(e));
}

network::~network() {
    int err = 0;
    wsp_.lpWSPCleanup(&err);
    // Then stack_ is destroyed (stopped, tap_ detached), then tap_.
}

std::string wsa_error(int code) {
    struct entry {
        int code;
        const char* name;
    };
    static const entry names[] = {
        {WSAEINTR, "WSAEINTR"},
        {WSAEFAULT, "WSAEFAULT"},
        {WSAEINVAL, "WSAEINVAL"},
        {WSAEWOULDBLOCK, "WSAEWOULDBLOCK"},
        {WSAENOTSOCK, "WSAENOTSOCK"},
        {WSAEAFNOSUPPORT, "WSAEAFNOSUPPORT"},
        {WSAEADDRINUSE, "WSAEADDRINUSE"},
        {WSAEADDRNOTAVAIL, "WSAEADDRNOTAVAIL"},
        {WSAENETDOWN, "WSAENETDOWN"},
        {WSAENETUNREACH, "WSAENETUNREACH"},
        {WSAECONNABORTED, "WSAECONNABORTED"},
        {WSAECONNRESET, "WSAECONNRESET"},
        {WSAENOTCONN, "WSAENOTCONN"},
        {WSAESHUTDOWN, "WSAESHUTDOWN"},
        {WSAETIMEDOUT, "WSAETIMEDOUT"},
        {WSAECONNREFUSED, "WSAECONNREFUSED"},
        {WSAEHOSTUNREACH, "WSAEHOSTUNREACH"},
        {WSASYSNOTREADY, "WSASYSNOTREADY"},
    };
    for (const entry& e : names)
        if (e.code == code) return std::string(e.name) + " (" + std::to_string(code) + ")";
    return "WSA error " + std::to_string(code);
}

bool to_sockaddr(const WSPPROC_TABLE& wsp, const std::string& text, int af, SOCKADDR_STORAGE& out, int& len) {
    std::vector<WCHAR> wide(text.begin(), text.end());
    wide.push_back(0);
    len = sizeof out;
    int err = 0;
    return wsp.lpWSPStringToAddress(wide.data(), af, nullptr, reinterpret_cast<sockaddr*>(&out), &len, &err) == 0;
}

std::string address_text(const WSPPROC_TABLE& wsp, const SOCKADDR_STORAGE& a, int len) {
    WCHAR wide[80];
    DWORD n = 80;
    int err = 0;
    if (wsp.lpWSPAddressToString(reinterpret_cast<sockaddr*>(const_cast<SOCKADDR_STORAGE*>(&a)), len, nullptr, wide, &n,
                                 &err) != 0)
        return "?";
    std::string text;
    for (DWORD i = 0; i < n && wide[i] != 0; ++i) text += static_cast<char>(wide[i]);
    return text;
}

bool send_all(const WSPPROC_TABLE& wsp, SOCKET s, const char* data, std::size_t size, int& err) {
    while (size > 0) {
        WSABUF b{static_cast<u_long>(size), const_cast<char*>(data)};
        DWORD sent = 0;
        if (wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR) return false;
        data += sent;
        size -= sent;
    }
    return true;
}

bool parse_number(const char* text, long lo, long hi, long& out) {
    char* end = nullptr;
    out = std::strtol(text, &end, 10);
    return end != text && *end == '\0' && out >= lo && out <= hi;
}

bool parse_server_options(int argc, char** argv, server_options& opts) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--v6") {
            opts.v6 = true;
        } else if (arg == "--port" && i + 1 < argc) {
            if (!parse_number(argv[++i], 1, 65535, opts.port)) return false;
        } else if (arg == "--count" && i + 1 < argc) {
            if (!parse_number(argv[++i], 1, 1000000000, opts.count)) return false;
        } else {
            return false;
        }
    }
    return true;
}

SOCKET listen_on(const WSPPROC_TABLE& wsp, bool v6, long port, int backlog, std::string& local) {
    const int af = v6 ? AF_INET6 : AF_INET;
    int err = 0;
    SOCKET s = wsp.lpWSPSocket(af, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) {
        std::fprintf(stderr, "WSPSocket: %s\n", wsa_error(err).c_str());
        return INVALID_SOCKET;
    }
    local = (v6 ? "[::]:" : "0.0.0.0:") + std::to_string(port);
    SOCKADDR_STORAGE addr{};
    int addr_len = 0;
    if (!to_sockaddr(wsp, local, af, addr, addr_len) ||
        wsp.lpWSPBind(s, reinterpret_cast<sockaddr*>(&addr), addr_len, &err) == SOCKET_ERROR ||
        wsp.lpWSPListen(s, backlog, &err) == SOCKET_ERROR) {
        std::fprintf(stderr, "WSPBind/WSPListen %s: %s\n", local.c_str(), wsa_error(err).c_str());
        wsp.lpWSPCloseSocket(s, &err);
        return INVALID_SOCKET;
    }
    return s;
}

}  // namespace examples
