// bench_lwsp — lwsp measured through its WSP API.
//
//   bench_lwsp --mode tx|rx|rr|crr [--tap lwsp0] [--mtu 1500] [--warmup S] [--seconds S]
//              [--count N] [--offload 0|1] [--busy-poll US] [--heap-cache BYTES]
//              [--inline-receive 0|1]
//       lwsp (192.0.2.1) on a TAP device against bench_kernel server at
//       192.0.2.2 in the same private namespace (scripts/bench sets it up).
//       --offload 0: plain frames (metrics tx_bps_plain, rx_bps_plain);
//       --busy-poll: the TAP port's busy polling (metrics rr_busy.*).
//       --heap-cache: stack::options::heap_cache (0: lwIP's blocks go
//       straight back to malloc).
//       --inline-receive 0: stack::options::inline_receive off (blocked
//       threads sleep until the TAP port's thread delivers; metrics
//       rr_noinline.*, crr_noinline_per_s).
//   bench_lwsp --mode flows [--count 100] [--warmup S] [--seconds S]
//       `count` bulk connections lwsp→kernel at once (one thread each):
//       the sum (flows_bps) and Jain's fairness index (flows_jain).
//   bench_lwsp --mode mem [--count 10000] [--greet 1]
//       opens `count` idle connections to the kernel (port 5005; with
//       --greet 1, port 5006, where the kernel sends one unread 1460-byte
//       segment on each) and reports heap and pool growth per connection
//       from stack::stats(), and the process's malloc growth.
//   bench_lwsp --mode shim [--bytes N]
//       the same loopback transfer (127.0.0.1, no port) through the WSP API
//       and through lwIP's raw API, in this one process.
//
// Results: RESULT lines (bench_common.hpp).  Sockets only through the WSP
// provider; no POSIX socket header in this translation unit.
#include <malloc.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"
#include "lwsp/tap_link.hpp"
#include "raw_loopback.hpp"

namespace {

WSPPROC_TABLE wsp;

sockaddr_in addr(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    std::memcpy(&a.sin_addr, lwsp::ipv4_address::parse(ip).value().bytes.data(), 4);
    const std::uint8_t be[2] = {std::uint8_t(port >> 8), std::uint8_t(port)};
    std::memcpy(&a.sin_port, be, 2);
    return a;
}

// `err` by reference: read after the call that sets it (in check(call(&e), e,
// ...) the order in which the arguments are evaluated is unspecified).
void check(int rc, const int& err, const char* what) {
    if (rc == SOCKET_ERROR) bench::fail(std::string(what) + " failed, WSA error " + std::to_string(err));
}

SOCKET tcp_socket() {
    int err = 0;
    SOCKET s = wsp.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) bench::fail("WSPSocket failed, WSA error " + std::to_string(err));
    return s;
}

SOCKET connect_to(const char* ip, std::uint16_t port) {
    SOCKET s = tcp_socket();
    sockaddr_in a = addr(ip, port);
    int err = 0;
    check(wsp.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr, &err), err,
          "WSPConnect");
    return s;
}

void nodelay(SOCKET s) {
    BOOL on = TRUE;
    int err = 0;
    check(wsp.lpWSPSetSockOpt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on), sizeof on, &err), err,
          "WSPSetSockOpt(TCP_NODELAY)");
}

void send_all(SOCKET s, const void* data, std::size_t n) {
    WSABUF b{static_cast<u_long>(n), static_cast<char*>(const_cast<void*>(data))};
    DWORD sent = 0;
    int err = 0;
    check(wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err), err, "WSPSend");
    if (sent != n) bench::fail("WSPSend: short send");
}

// One WSPRecv: bytes (0 = end of stream).
std::size_t recv_some(SOCKET s, void* buf, std::size_t n) {
    WSABUF b{static_cast<u_long>(n), static_cast<char*>(buf)};
    DWORD got = 0, flags = 0;
    int err = 0;
    check(wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err), err, "WSPRecv");
    return got;
}

void recv_exact(SOCKET s, void* buf, std::size_t n) {
    char* c = static_cast<char*>(buf);
    while (n > 0) {
        std::size_t k = recv_some(s, c, n);
        if (k == 0) bench::fail("WSPRecv: early end of stream");
        c += k;
        n -= k;
    }
}

void close_socket(SOCKET s) {
    int err = 0;
    check(wsp.lpWSPCloseSocket(s, &err), err, "WSPCloseSocket");
}

// Closes with SO_LINGER {1, 0}: a reset.
void abort_socket(SOCKET s) {
    struct linger l {
        1, 0
    };
    int err = 0;
    check(wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err), err,
          "WSPSetSockOpt(SO_LINGER)");
    close_socket(s);
}

void startup() {
    WSPDATA data{};
    if (WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &wsp) != 0) bench::fail("WSPStartup");
}

void cleanup() {
    int err = 0;
    wsp.lpWSPCleanup(&err);
}

std::size_t malloc_in_use() { return mallinfo2().uordblks; }

// ---- over TAP -----------------------------------------------------------------

int run_tap(const bench::args& a) {
    const std::string mode = a.str("mode", "tx");
    const std::uint64_t count = a.num("count", 1000);
    const char* kernel = "192.0.2.2";

    lwsp::stack::options so;
    so.heap_cache = a.num("heap-cache", lwsp::stack::options::default_heap_cache);
    so.inline_receive = a.num("inline-receive", 1) != 0;
    lwsp::stack st(so);
    lwsp::tap_link::options o;
    o.name = a.str("tap", "lwsp0");
    o.mtu = a.num("mtu", 1500);
    o.offload = a.num("offload", 1) != 0;
    o.busy_poll = std::chrono::microseconds(a.num("busy-poll", 0));
    const std::string plain = o.offload ? "" : "_plain";
    std::shared_ptr<lwsp::tap_link> tap = lwsp::tap_link::open(o);
    lwsp::interface_config cfg;
    cfg.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                                 *lwsp::ipv4_address::parse("0.0.0.0")};
    st.attach(tap, cfg);
    startup();

    if (mode == "tx") {  // steady state: --warmup, then --seconds (bench_common.hpp)
        SOCKET s = connect_to(kernel, bench::port_sink);
        std::vector<char> chunk(256 * 1024, 'x');
        bench::steady_meter meter = bench::meter_from(a);
        do send_all(s, chunk.data(), chunk.size());
        while (meter.add(chunk.size()));
        int err = 0;
        check(wsp.lpWSPShutdown(s, SD_SEND, &err), err, "WSPShutdown");
        char ack;
        recv_exact(s, &ack, 1);  // the kernel read everything
        meter.report("tx_bps" + plain);
        close_socket(s);
    } else if (mode == "rx") {
        // The kernel is asked for more than will be read; the measured
        // interval over, the connection is reset.
        SOCKET s = connect_to(kernel, bench::port_source);
        unsigned char be[8] = {0x40};  // 2^62 bytes
        std::vector<char> buf(256 * 1024);
        send_all(s, be, 8);
        bench::steady_meter meter = bench::meter_from(a);
        for (std::size_t k; (k = recv_some(s, buf.data(), buf.size())) > 0;)
            if (!meter.add(k)) break;
        if (!meter.over()) bench::fail("rx: the kernel ended the stream early");
        meter.report("rx_bps" + plain);
        abort_socket(s);
    } else if (mode == "rr") {
        SOCKET s = connect_to(kernel, bench::port_echo);
        nodelay(s);
        std::vector<double> us;
        us.reserve(count);
        char b = 'r';
        for (std::uint64_t i = 0; i < count + count / 10; ++i) {
            const auto t0 = bench::clock::now();
            send_all(s, &b, 1);
            recv_exact(s, &b, 1);
            if (i >= count / 10) us.push_back(bench::seconds_since(t0) * 1e6);
        }
        close_socket(s);
        const std::string samples = a.str("samples", "");
        if (!samples.empty())
            if (FILE* f = std::fopen(samples.c_str(), "w")) {
                for (double v : us) std::fprintf(f, "%.3f\n", v);
                std::fclose(f);
            }
        bench::report_rtt(o.busy_poll.count() > 0 ? "rr_busy" : so.inline_receive ? "rr" : "rr_noinline", us);
    } else if (mode == "crr") {
        const auto t0 = bench::clock::now();
        for (std::uint64_t i = 0; i < count; ++i) {
            SOCKET s = connect_to(kernel, bench::port_crr);
            nodelay(s);
            char b = 'c';
            send_all(s, &b, 1);
            recv_exact(s, &b, 1);
            close_socket(s);
        }
        bench::result(so.inline_receive ? "crr_per_s" : "crr_noinline_per_s",
                      static_cast<double>(count) / bench::seconds_since(t0));
    } else if (mode == "mem") {
        // Idle connections: handshake done, nothing queued either way.  With
        // --greet the kernel sends one full segment on each, left unread.
        const bool greet = a.num("greet", 0) != 0;
        const std::uint16_t port = greet ? bench::port_greet : bench::port_hold;
        // One connection first, so lazily created state (ARP entry, the TCP
        // timer) is not counted per connection.
        SOCKET warm = connect_to(kernel, bench::port_hold);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        const lwsp::stack_stats s0 = st.stats();
        const std::size_t m0 = malloc_in_use();
        std::vector<SOCKET> socks;
        socks.reserve(count);
        for (std::uint64_t i = 0; i < count; ++i) socks.push_back(connect_to(kernel, port));
        // Let delayed ACKs and greetings settle.
        lwsp::stack_stats s1 = st.stats();
        for (int i = 0; i < 50; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            lwsp::stack_stats s2 = st.stats();
            const bool stable = s2.heap_bytes == s1.heap_bytes && s2.pbufs == s1.pbufs;
            s1 = s2;
            if (stable && (!greet || s1.pbufs >= s0.pbufs + count)) break;
        }
        const std::size_t m1 = malloc_in_use();
        const double n = static_cast<double>(count);
        const std::string k = greet ? "mem_buf" : "mem_idle";
        // What the idle connections cost while nothing moves: lwIP's TCP
        // timer walks every pcb (5 times a second), nothing else should run.
        const bench::cpu_times c0 = bench::cpu_times::now();
        const auto idle_from = bench::clock::now();
        std::this_thread::sleep_for(std::chrono::seconds(2));
        const double idle_s = bench::seconds_since(idle_from);
        bench::result(k + ".idle_cpu_percent", (bench::cpu_times::now().process - c0.process) / idle_s * 100);
        bench::result(k + ".heap_per_conn",
                      (static_cast<double>(s1.heap_bytes) - static_cast<double>(s0.heap_bytes)) / n);
        bench::result(k + ".pcbs_per_conn", (static_cast<double>(s1.tcp_pcbs) - static_cast<double>(s0.tcp_pcbs)) / n);
        bench::result(k + ".pbufs_per_conn", (static_cast<double>(s1.pbufs) - static_cast<double>(s0.pbufs)) / n);
        bench::result(k + ".segs_per_conn",
                      (static_cast<double>(s1.tcp_segments) - static_cast<double>(s0.tcp_segments)) / n);
        bench::result(k + ".malloc_per_conn", (static_cast<double>(m1) - static_cast<double>(m0)) / n);
        bench::result("tcp_pcb_size", static_cast<double>(bench::raw_tcp_pcb_size()));
        for (SOCKET s : socks) abort_socket(s);
        close_socket(warm);
    } else if (mode == "flows") {
        // `count` bulk connections at once, one sending thread each, at
        // steady state: the sum, and how evenly it is shared (Jain's index:
        // 1 when every flow gets the same, 1/n when one gets everything).
        const std::size_t n = static_cast<std::size_t>(count);
        std::vector<SOCKET> socks;
        for (std::size_t i = 0; i < n; ++i) socks.push_back(connect_to(kernel, bench::port_sink));
        const std::vector<char> chunk(64 * 1024, 'f');
        const bench::flows_meter meter = bench::run_flows(a, n, [&](std::size_t i) {
            send_all(socks[i], chunk.data(), chunk.size());
            return chunk.size();
        });
        for (SOCKET s : socks) {
            int err = 0;
            check(wsp.lpWSPShutdown(s, SD_SEND, &err), err, "WSPShutdown");
            char ack;
            recv_exact(s, &ack, 1);
            close_socket(s);
        }
        meter.report("flows");
    } else {
        bench::fail("unknown mode " + mode);
    }
    cleanup();
    st.stop();
    return 0;
}

// ---- shim cost: loopback, WSP vs raw API ----------------------------------------

double wsp_loopback_transfer(std::uint64_t bytes, std::uint16_t port) {
    SOCKET l = tcp_socket();
    sockaddr_in a = addr("127.0.0.1", port);
    int err = 0;
    check(wsp.lpWSPBind(l, reinterpret_cast<sockaddr*>(&a), sizeof a, &err), err, "WSPBind");
    check(wsp.lpWSPListen(l, 1, &err), err, "WSPListen");
    SOCKET c = connect_to("127.0.0.1", port);
    SOCKET srv = wsp.lpWSPAccept(l, nullptr, nullptr, nullptr, 0, &err);
    if (srv == INVALID_SOCKET) bench::fail("WSPAccept");
    nodelay(c);  // as the raw half: no Nagle wait for the last partial segment
    std::vector<char> chunk(256 * 1024, 'w');
    std::uint64_t got = 0;
    const auto t0 = bench::clock::now();
    std::thread receiver([&] {
        std::vector<char> buf(256 * 1024);
        while (got < bytes) {
            std::size_t k = recv_some(srv, buf.data(), buf.size());
            if (k == 0) break;
            got += k;
        }
    });
    for (std::uint64_t off = 0; off < bytes; off += chunk.size())
        send_all(c, chunk.data(), std::min<std::uint64_t>(chunk.size(), bytes - off));
    receiver.join();
    const double t = bench::seconds_since(t0);
    close_socket(c);
    close_socket(srv);
    close_socket(l);
    return got == bytes ? t : -1;
}

int run_shim(const bench::args& a) {
    const std::uint64_t bytes = a.num("bytes", 64ull << 20);
    lwsp::stack st;
    startup();
    // Warm both paths once (page faults, first allocations), then measure
    // in the order given by --order so repeats alternate which goes first.
    std::uint16_t port = 6000;
    if (bench::raw_loopback_transfer(st, 1 << 20, port++) < 0) bench::fail("raw loopback warm-up");
    if (wsp_loopback_transfer(1 << 20, port++) < 0) bench::fail("WSP loopback warm-up");
    // Wall time, and the CPU time of the whole process (every thread): the
    // WSP transfer runs sender and receiver on two threads, which can overlap
    // on two cores, while the raw-API transfer runs on one; CPU time is the
    // cost, wall time what a user waits.
    auto cpu_now = [] {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    };
    double raw = 0, w = 0, raw_cpu = 0, w_cpu = 0;
    auto run_raw = [&] {
        const double c0 = cpu_now();
        raw = bench::raw_loopback_transfer(st, bytes, port++);
        raw_cpu = cpu_now() - c0;
    };
    auto run_wsp = [&] {
        const double c0 = cpu_now();
        w = wsp_loopback_transfer(bytes, port++);
        w_cpu = cpu_now() - c0;
    };
    if (a.num("order", 0) % 2 == 0) {
        run_raw();
        run_wsp();
    } else {
        run_wsp();
        run_raw();
    }
    if (raw < 0 || w < 0) bench::fail("loopback transfer failed");
    bench::result("shim.raw_s", raw);
    bench::result("shim.wsp_s", w);
    bench::result("shim.raw_cpu_s", raw_cpu);
    bench::result("shim.wsp_cpu_s", w_cpu);
    bench::result("shim.raw_bps", static_cast<double>(bytes) * 8 / raw);
    bench::result("shim.wsp_bps", static_cast<double>(bytes) * 8 / w);
    cleanup();
    st.stop();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bench::args a(argc, argv);
    try {
        if (a.str("mode", "") == "shim") return run_shim(a);
        return run_tap(a);
    } catch (const std::exception& e) {
        bench::fail(e.what());
    }
}
