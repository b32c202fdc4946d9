// lwsp_tunnel_service — the WSP service of the lwsp firmware
// (examples/service: TCP and UDP echo on port 7, the control port 9000) on
// a host, Linux or Windows, over the UDP tunnel port (ports/udp_tunnel):
// Ethernet frames one per UDP datagram, the convention of QEMU's
// -netdev dgram.  No device and no privileges needed.
//
//   lwsp_tunnel_service --remote HOST:PORT [--local HOST:PORT] [--mtu N]
//
// The stack takes 192.0.2.1/24 and 2001:db8::1 with MAC 02:4c:57:53:50:01,
// like the firmware; the peer is whatever sits at the tunnel's other end —
// in the tests (test/firmware/fw_test.sh, kinds tunnel and wine) a socat
// bridge to TAP device lwsp0 inside a private network namespace, the
// kernel at 192.0.2.2 / 2001:db8::2:
//
//   socat TUN:,tun-type=tap,tun-name=lwsp0,iff-no-pi,iff-up
//         UDP-DATAGRAM:127.0.0.1:47001,bind=127.0.0.1:47002 &
//   lwsp_tunnel_service --local 127.0.0.1:47001 --remote 127.0.0.1:47002
//
// Everything goes through WSPStartup's proc table, with lwsp's own upcalls
// (lwsp_default_upcalls, the lwsp::upcalls library): no ws2 loads this
// provider, on Linux or on Windows.  The console (stdout, one flushed line at a time)
// ends its start-up with "lwsp-tunnel: ready".  SIGINT or SIGTERM stops it
// (within a second); it then prints the tunnel's counters.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"
#include "lwsp/udp_tunnel.hpp"
#include "lwsp/upcalls.h"
#include "wsp_service.hpp"

namespace {

constexpr const char* k_name = "lwsp-tunnel";
volatile std::sig_atomic_t g_stop = 0;
lwsp::udp_tunnel* g_tunnel = nullptr;  // the stack owns it; valid while the service runs

void on_signal(int) { g_stop = 1; }

void console_print(const char* line) {
    std::fputs(line, stdout);
    std::fflush(stdout);  // a file or a pipe: the harness waits for lines
}

unsigned long long millis() {
    using namespace std::chrono;
    return static_cast<unsigned long long>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

std::string counters_text() {
    const lwsp::udp_tunnel::counters c = g_tunnel->stats();
    const auto u = [](std::uint64_t v) { return std::to_string(v); };
    return "frames_in " + u(c.frames_in) + " bytes_in " + u(c.bytes_in) + " frames_out " + u(c.frames_out) +
           " bytes_out " + u(c.bytes_out) + " queued " + u(c.queued) + " dropped " + u(c.dropped) + " rx_runt " +
           u(c.rx_runt) + " rx_oversize " + u(c.rx_oversize) + " rx_foreign " + u(c.rx_foreign) + " rx_errors " +
           u(c.rx_errors);
}

void tunnel_stats(char* out, std::size_t size) { std::snprintf(out, size, "%s", counters_text().c_str()); }

bool keep_running() { return g_stop == 0; }

int usage(const char* why) {
    std::fprintf(stderr,
                 "%s\nusage: lwsp_tunnel_service --remote HOST:PORT [--local HOST:PORT] [--mtu N]\n"
                 "  frames go to --remote, one per UDP datagram, from --local (default 127.0.0.1:0);\n"
                 "  numeric addresses only, IPv6 as [addr]:port\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    lwsp::udp_tunnel::options o;
    o.mac = {{0x02, 0x4c, 0x57, 0x53, 0x50, 0x01}};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage(("missing value after " + arg).c_str());
        if (arg == "--remote") {
            o.remote = argv[++i];
        } else if (arg == "--local") {
            o.local = argv[++i];
        } else if (arg == "--mtu") {
            char* end = nullptr;
            o.mtu = std::strtoul(argv[++i], &end, 10);
            if (*end != '\0') return usage("--mtu takes a number");
        } else {
            return usage(("unknown argument " + arg).c_str());
        }
    }
    if (o.remote.empty()) return usage("--remote is required");

    std::printf("%s: lwsp on lwIP over a UDP tunnel, WSP calls only\n", k_name);
    try {
        lwsp::stack st;
        std::shared_ptr<lwsp::udp_tunnel> tunnel = lwsp::udp_tunnel::open(o);
        g_tunnel = tunnel.get();
        std::printf("%s: tunnel %s -> %s, MAC %s\n", k_name, tunnel->local().c_str(), tunnel->remote().c_str(),
                    o.mac.to_string().c_str());
        lwsp::interface_config cfg;
        cfg.ipv4 =
            lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                              *lwsp::ipv4_address::parse("0.0.0.0")};
        cfg.ipv6 = {*lwsp::ipv6_address::parse("2001:db8::1")};
        st.attach(tunnel, cfg);
        std::printf("%s: 192.0.2.1/24, 2001:db8::1, MTU %lu\n", k_name, static_cast<unsigned long>(o.mtu));
        std::fflush(stdout);

        // The provider, with lwsp's own upcalls (events, APCs, handles).
        WSPDATA data{};
        WSPUPCALLTABLE upcalls{};
        lwsp_default_upcalls(&upcalls);
        WSPPROC_TABLE wsp{};
        if (const int e = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp)) {
            std::printf("%s: WSPStartup failed: %d\n", k_name, e);
            return 1;
        }
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);

        wsp_service::hooks hooks;
        hooks.name = k_name;
        hooks.print = console_print;
        hooks.millis = millis;
        hooks.stats = tunnel_stats;
        hooks.keep_running = keep_running;
        const bool served = wsp_service::serve(wsp, hooks);
        int err = 0;
        wsp.lpWSPCleanup(&err);
        std::printf("%s: %s; tunnel: %s\n", k_name, served ? "stopped" : "the servers did not start",
                    counters_text().c_str());
        g_tunnel = nullptr;
        return served ? 0 : 1;
    } catch (const std::exception& e) {
        std::printf("%s: %s\n", k_name, e.what());
        return 1;
    }
}
