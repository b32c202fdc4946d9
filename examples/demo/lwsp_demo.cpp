// lwsp_demo — the stack on a TAP device, the Linux kernel as its peer, and
// Windows CE's close semantics as they happen on the wire.
//
// Run it through scripts/demo, which builds it and starts it inside a
// private network namespace holding the TAP device (lwsp0, kernel side
// 192.0.2.2) — no packet leaves that namespace.  By hand, as root:
//     ip netns exec NS lwsp_demo --tap lwsp0 --pcap demo.pcap
//
// Sockets are used only through the WSP provider (WSPStartup's proc table);
// the kernel's sockets live in kernel_peer.cpp.
#include <cstdarg>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel_peer.hpp"
#include "lwsp/lwsp.h"
#include "lwsp/pcap_link.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/tap_link.hpp"

namespace {

WSPPROC_TABLE wsp;  // the provider's entry points

const char* k_stack_ip = "192.0.2.1";
const char* k_kernel_ip = "192.0.2.2";

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
    std::fflush(stdout);
}

// ---- what crossed the wire ---------------------------------------------------

std::string tcp_flags(std::uint8_t f) {
    std::string s;
    const char* names[] = {"FIN", "SYN", "RST", "PSH", "ACK"};
    for (int i = 0; i < 5; ++i)
        if (f & (1u << i)) s += std::string(s.empty() ? "" : ",") + names[i];
    return s;
}

// Prints handshake and teardown segments (SYN, FIN, RST) as they pass the
// capture; counts the rest.
struct wire_log {
    std::uint64_t data_segments = 0;
    void on_frame(lwsp::pcap_link::direction d, const std::uint8_t* f, std::size_t n) {
        if (n < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00) return;  // IPv4 only here
        const std::uint8_t* ip = f + 14;
        if (ip[9] != 6) return;
        const std::size_t ihl = (ip[0] & 0x0f) * 4u;
        const std::uint8_t* tcp = ip + ihl;
        if (14 + ihl + 20 > n) return;
        const std::uint8_t flags = tcp[13];
        const unsigned sport = (tcp[0] << 8) | tcp[1], dport = (tcp[2] << 8) | tcp[3];
        const std::size_t total = (ip[2] << 8) | ip[3];
        const std::size_t payload = total - ihl - ((tcp[12] >> 4) * 4u);
        if (!(flags & 0x07)) {
            if (payload > 0) ++data_segments;
            return;
        }
        const bool out = d == lwsp::pcap_link::direction::out;
        say("    wire: %-6s %s:%u > %s:%u [%s]%s", out ? "lwsp" : "kernel", out ? k_stack_ip : k_kernel_ip, sport,
            out ? k_kernel_ip : k_stack_ip, dport, tcp_flags(flags).c_str(),
            payload ? (" +" + std::to_string(payload) + " bytes").c_str() : "");
    }
};

// ---- WSP helpers ---------------------------------------------------------------

struct wsp_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// `err` by reference: read after the call that sets it (in check(call(&e), e,
// ...) the order in which the arguments are evaluated is unspecified).
void check(int rc, const int& err, const char* what) {
    if (rc == SOCKET_ERROR) throw wsp_failure(std::string(what) + " failed, WSA error " + std::to_string(err));
}

sockaddr_in addr(const char* dotted, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    unsigned b[4];
    std::sscanf(dotted, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
    const std::uint8_t raw[4] = {std::uint8_t(b[0]), std::uint8_t(b[1]), std::uint8_t(b[2]), std::uint8_t(b[3])};
    std::memcpy(&a.sin_addr, raw, 4);
    const std::uint8_t be[2] = {std::uint8_t(port >> 8), std::uint8_t(port)};
    std::memcpy(&a.sin_port, be, 2);
    return a;
}

SOCKET tcp_socket() {
    int err = 0;
    SOCKET s = wsp.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) throw wsp_failure("WSPSocket failed, WSA error " + std::to_string(err));
    return s;
}

void connect_to(SOCKET s, std::uint16_t port) {
    sockaddr_in a = addr(k_kernel_ip, port);
    int err = 0;
    check(wsp.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr, &err), err,
          "WSPConnect");
}

std::size_t send_all(SOCKET s, const std::string& data) {
    WSABUF b{static_cast<u_long>(data.size()), const_cast<char*>(data.data())};
    DWORD sent = 0;
    int err = 0;
    check(wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err), err, "WSPSend");
    return sent;
}

std::string recv_some(SOCKET s, std::size_t max) {
    std::string buf(max, '\0');
    WSABUF b{static_cast<u_long>(max), buf.data()};
    DWORD got = 0, flags = 0;
    int err = 0;
    check(wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err), err, "WSPRecv");
    buf.resize(got);
    return buf;
}

void set_linger(SOCKET s, u_short on, u_short seconds) {
    struct linger l {
        on, seconds
    };
    int err = 0;
    check(wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err), err,
          "WSPSetSockOpt(SO_LINGER)");
}

void set_nonblocking(SOCKET s, bool on) {
    u_long v = on;
    DWORD ret = 0;
    int err = 0;
    check(wsp.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err), err,
          "WSPIoctl(FIONBIO)");
}

int close_socket(SOCKET s) {
    int err = 0;
    return wsp.lpWSPCloseSocket(s, &err) == 0 ? 0 : err;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return s;
}

// ---- the steps -----------------------------------------------------------------

void step_transfer_and_graceful_close() {
    say("\n== 1. lwsp connects to the kernel and both send data ==");
    const int lfd = kernel_peer::listen_tcp(k_kernel_ip, 7000);
    SOCKET s = tcp_socket();
    connect_to(s, 7000);
    const int kfd = kernel_peer::accept_one(lfd, 5000);
    if (kfd < 0) throw wsp_failure("the kernel did not accept");
    say("  WSPConnect(%s:7000) = 0; the kernel accepted the connection", k_kernel_ip);

    const std::string big = pattern(1 << 20);
    std::thread sender([&] { send_all(s, big); });
    kernel_peer::read_result got = kernel_peer::read_some(kfd, 1, 5000);
    while (got.data.size() < big.size()) {
        kernel_peer::read_result more = kernel_peer::read_some(kfd, 1 << 20, 5000);
        if (more.data.empty()) break;
        got.data += more.data;
    }
    sender.join();
    say("  lwsp -> kernel: WSPSend of %zu bytes; the kernel read %zu bytes, %s", big.size(), got.data.size(),
        got.data == big ? "identical" : "DIFFERENT");
    const std::string reply = pattern(300000);
    kernel_peer::write_all(kfd, reply);
    std::string in;
    while (in.size() < reply.size()) in += recv_some(s, 65536);
    say("  kernel -> lwsp: the kernel wrote %zu bytes; WSPRecv got %zu bytes, %s", reply.size(), in.size(),
        in == reply ? "identical" : "DIFFERENT");

    say("\n== 2. graceful close (SO_DONTLINGER, the default) ==");
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = close_socket(s);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    say("  WSPCloseSocket = %d, returned after %.1f ms", rc, ms);
    kernel_peer::read_result r = kernel_peer::read_to_end(kfd, 0, 5000);
    say("  kernel read(): %s", r.eof     ? "0 bytes: end of stream (the FIN arrived)"
                               : r.error ? kernel_peer::error_name(r.error).c_str()
                                         : "timed out");
    kernel_peer::close_fd(kfd);
    kernel_peer::close_fd(lfd);
}

void step_abortive_close() {
    say("\n== 3. abortive close (SO_LINGER on, l_linger 0) of a connection lwsp accepted ==");
    SOCKET lst = tcp_socket();
    sockaddr_in a = addr(k_stack_ip, 8000);
    int err = 0;
    check(wsp.lpWSPBind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a, &err), err, "WSPBind");
    check(wsp.lpWSPListen(lst, 4, &err), err, "WSPListen");
    const int kfd = kernel_peer::connect_tcp(k_stack_ip, 8000, 5000);
    if (kfd < 0) throw wsp_failure("the kernel could not connect");
    SOCKET s = wsp.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    if (s == INVALID_SOCKET) throw wsp_failure("WSPAccept failed");
    say("  the kernel connected to %s:8000; WSPAccept returned a socket", k_stack_ip);
    kernel_peer::write_all(kfd, "ping");
    say("  kernel wrote \"ping\"; WSPRecv got \"%s\"", recv_some(s, 16).c_str());
    set_linger(s, 1, 0);
    say("  WSPCloseSocket = %d", close_socket(s));
    kernel_peer::read_result r = kernel_peer::read_to_end(kfd, 0, 5000);
    say("  kernel read(): %s", r.error ? kernel_peer::error_name(r.error).c_str()
                               : r.eof ? "EOF (unexpected)"
                                       : "timed out");
    kernel_peer::close_fd(kfd);
    close_socket(lst);
}

void step_linger_timeout() {
    say("\n== 4. linger timeout (SO_LINGER on, l_linger 2 s) while the kernel reads nothing ==");
    // A small receive buffer that is never read: the kernel's window closes.
    const int lfd = kernel_peer::listen_tcp(k_kernel_ip, 9000, 4096);
    SOCKET s = tcp_socket();
    connect_to(s, 9000);
    const int kfd = kernel_peer::accept_one(lfd, 5000);
    set_nonblocking(s, true);
    std::size_t queued = 0;
    const std::string chunk = pattern(16384);
    for (int i = 0; i < 64; ++i) {
        WSABUF b{static_cast<u_long>(chunk.size()), const_cast<char*>(chunk.data())};
        DWORD sent = 0;
        int err = 0;
        if (wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) != 0) break;  // WSAEWOULDBLOCK: full
        queued += sent;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    set_nonblocking(s, false);
    set_linger(s, 1, 2);
    say("  %zu bytes sent or queued; the kernel's window is closed", queued);
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = close_socket(s);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    say("  WSPCloseSocket = %d after %.2f s (blocked until the linger deadline, then reset)", rc, secs);
    kernel_peer::read_result r = kernel_peer::read_to_end(kfd, 1 << 24, 5000);
    say("  kernel read(): %zu bytes that had arrived, then %s", r.data.size(),
        r.error ? kernel_peer::error_name(r.error).c_str()
        : r.eof ? "EOF"
                : "timed out");
    kernel_peer::close_fd(kfd);
    kernel_peer::close_fd(lfd);
}

}  // namespace

int main(int argc, char** argv) {
    std::string tap_name = "lwsp0", pcap_path = "lwsp-demo.pcap";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--tap") == 0) tap_name = argv[i + 1];
        if (std::strcmp(argv[i], "--pcap") == 0) pcap_path = argv[i + 1];
    }
    // The log outlives the stack: frames are recorded until the stack stops
    // (the stack owns the capture and the TAP link once attached, so their
    // order does not matter).
    wire_log log;
    try {
        lwsp::stack st;
        lwsp::tap_link::options o;
        o.name = tap_name;
        auto capture = std::make_shared<lwsp::pcap_link>(
            lwsp::tap_link::open(o), pcap_path,
            [&log](lwsp::pcap_link::direction d, const std::uint8_t* f, std::size_t n) { log.on_frame(d, f, n); });
        lwsp::interface_config cfg;
        cfg.ipv4 =
            lwsp::ipv4_config{*lwsp::ipv4_address::parse(k_stack_ip), *lwsp::ipv4_address::parse("255.255.255.0"),
                              *lwsp::ipv4_address::parse("0.0.0.0")};
        st.attach(capture, cfg);
        say("lwsp demo: stack %s on TAP device %s, the Linux kernel at %s; capture in %s", k_stack_ip, tap_name.c_str(),
            k_kernel_ip, pcap_path.c_str());
        WSPDATA data{};
        WSPUPCALLTABLE upcalls{};
        if (int e = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp)) {
            say("WSPStartup failed: %d", e);
            return 1;  // the stack stops (and releases the device) as it goes out of scope
        }
        say("WSPStartup: Winsock SPI %d.%d", LOBYTE(data.wVersion), HIBYTE(data.wVersion));

        step_transfer_and_graceful_close();
        step_abortive_close();
        step_linger_timeout();

        int err = 0;
        wsp.lpWSPCleanup(&err);
        say("\n%llu data segments were not listed; %llu frames are in %s (open it with tshark -r or Wireshark)",
            static_cast<unsigned long long>(log.data_segments),
            static_cast<unsigned long long>(capture->frames_recorded()), pcap_path.c_str());
        st.stop();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lwsp demo: %s\n", e.what());
        return 1;
    }
}
