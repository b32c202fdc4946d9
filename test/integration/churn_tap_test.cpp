// Connection churn against the Linux kernel over TAP (issue 10): the
// loopback churn of test/unit/churn_test.cpp with a real, independent TCP
// as the peer — the kernel's segments, timings and resets, not lwIP's own.
// Connections open both ways (lwsp connects to the kernel, the kernel
// connects to lwsp), carry a request and a reply checked byte for byte, and
// end every way CE's close table knows, from either side: graceful close,
// abortive close, lingering close, close with unread data, shutdown(SD_SEND),
// the kernel's FIN and the kernel's RST.  Afterwards, once TIME_WAIT has
// passed on lwsp's clock, lwsp holds exactly what it held before: pcbs,
// segments, pbufs, lwIP heap, provider handles, process heap.
//
// lwsp's clock is manual but follows real time (clock_ticker: the kernel
// needs retransmissions and delayed ACKs on time), so the test can jump
// past TIME_WAIT at the end.  LWSP_CHURN_TAP_CYCLES (default 1000) and
// LWSP_CHURN_SEED set the size and the cycles.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "kernel_peer.hpp"
#include "loop_env.hpp"  // test/unit/support: resources, pattern, clock_ticker, watchdog
#include "lwsp/lwsp.h"
#include "lwsp/pcap_link.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/tap_link.hpp"

namespace kp = kernel_peer;
using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

const char* k_kernel4 = "192.0.2.2";
const char* k_kernel6 = "2001:db8::2";
const char* k_lwsp4 = "192.0.2.1";
const char* k_lwsp6 = "2001:db8::1";
constexpr std::uint16_t k_kernel_port = 6100;  // the kernel listens here
constexpr std::uint16_t k_lwsp_port = 6101;    // lwsp listens here

lwsp::stack::options manual() {
    lwsp::stack::options o;
    o.manual_clock = true;
    return o;
}

SOCKADDR_STORAGE make_addr(const char* ip, std::uint16_t port, int& len) {
    SOCKADDR_STORAGE ss{};
    const std::uint8_t be[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    if (std::strchr(ip, ':') != nullptr) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        std::memcpy(&a->sin6_addr, lwsp::ipv6_address::parse(ip).value().bytes.data(), 16);
        std::memcpy(&a->sin6_port, be, 2);
        len = sizeof(sockaddr_in6);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        std::memcpy(&a->sin_addr, lwsp::ipv4_address::parse(ip).value().bytes.data(), 4);
        std::memcpy(&a->sin_port, be, 2);
        len = sizeof(sockaddr_in);
    }
    return ss;
}

// lwsp on the namespace's TAP device, on a manual clock that follows real
// time, with the provider started.
struct tap_churn_env {
    lwsp::stack st{manual()};
    WSPPROC_TABLE p{};
    std::unique_ptr<clock_ticker> ticker;

    tap_churn_env() {
        const char* dev = std::getenv("LWSP_TAP");
        REQUIRE(dev != nullptr);  // set by scripts/netns-run
        lwsp::tap_link::options o;
        o.name = dev;
        lwsp::interface_config cfg;
        cfg.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse(k_lwsp4), *lwsp::ipv4_address::parse("255.255.255.0"),
                                     *lwsp::ipv4_address::parse("0.0.0.0")};
        cfg.ipv6 = {*lwsp::ipv6_address::parse(k_lwsp6)};
        // LWSP_CHURN_PCAP=FILE keeps every frame lwsp sent and received.
        std::shared_ptr<lwsp::link> l = lwsp::tap_link::open(o);
        if (const char* pcap = std::getenv("LWSP_CHURN_PCAP")) l = std::make_shared<lwsp::pcap_link>(l, pcap);
        st.attach(l, cfg);
        ticker = std::make_unique<clock_ticker>(st);
        WSPDATA data{};
        REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &p) == 0);
    }
    ~tap_churn_env() {
        int err = 0;
        p.lpWSPCleanup(&err);
        ticker.reset();
        st.stop();
    }

    SOCKET socket(bool v6) {
        int err = 0;
        return p.lpWSPSocket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    }
    int connect(SOCKET s, const char* ip, std::uint16_t port) {
        int len = 0, err = 0;
        SOCKADDR_STORAGE a = make_addr(ip, port, len);
        return p.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), len, nullptr, nullptr, nullptr, nullptr, &err) == 0
                   ? 0
                   : err;
    }
    int bind_listen(SOCKET s, const char* ip, std::uint16_t port) {
        int len = 0, err = 0;
        SOCKADDR_STORAGE a = make_addr(ip, port, len);
        if (p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&a), len, &err) != 0) return err;
        return p.lpWSPListen(s, 8, &err) == 0 ? 0 : err;
    }
    long send(SOCKET s, const void* data, std::size_t n) {
        WSABUF b{static_cast<u_long>(n), static_cast<char*>(const_cast<void*>(data))};
        DWORD sent = 0;
        int err = 0;
        if (p.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) != 0) return -err;
        return static_cast<long>(sent);
    }
    long recv(SOCKET s, void* buf, std::size_t n, DWORD flags = 0) {
        WSABUF b{static_cast<u_long>(n), static_cast<char*>(buf)};
        DWORD got = 0;
        int err = 0;
        if (p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0) return -err;
        return static_cast<long>(got);
    }
    int set_linger(SOCKET s, bool on, u_short secs) {
        struct linger l {
            static_cast<u_short>(on ? 1 : 0), secs
        };
        int err = 0;
        return p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) == 0
                   ? 0
                   : err;
    }
    int shutdown(SOCKET s, int how) {
        int err = 0;
        return p.lpWSPShutdown(s, how, &err) == 0 ? 0 : err;
    }
    int close(SOCKET s) {
        int err = 0;
        return p.lpWSPCloseSocket(s, &err) == 0 ? 0 : err;
    }
    long readable(SOCKET s) {
        u_long n = 0;
        DWORD ret = 0;
        int err = 0;
        if (p.lpWSPIoctl(s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, nullptr, nullptr, nullptr, &err) != 0)
            return -err;
        return static_cast<long>(n);
    }
};

enum class ending {
    lwsp_graceful,    // lwsp sends, closes (SO_DONTLINGER): the kernel reads everything, then EOF
    lwsp_abortive,    // SO_LINGER {1, 0}: the kernel's read fails ECONNRESET
    lwsp_linger,      // SO_LINGER {1, 5}, blocking: returns once acknowledged; the kernel reads it all
    lwsp_unread,      // lwsp closes with the kernel's last data unread: RST
    lwsp_shutdown,    // SD_SEND: the kernel sees EOF, answers and closes; lwsp reads it all
    kernel_graceful,  // the kernel closes first: lwsp reads EOF, then closes
    kernel_reset,     // the kernel resets: WSPRecv fails WSAECONNRESET
    count
};

const char* name_of(ending e) {
    switch (e) {
        case ending::lwsp_graceful: return "lwsp closes gracefully";
        case ending::lwsp_abortive: return "lwsp closes abortively";
        case ending::lwsp_linger: return "lwsp lingers";
        case ending::lwsp_unread: return "lwsp closes with unread data";
        case ending::lwsp_shutdown: return "lwsp shuts down sending";
        case ending::kernel_graceful: return "the kernel closes first";
        case ending::kernel_reset: return "the kernel resets";
        case ending::count: break;
    }
    return "?";
}

struct tap_churn {
    tap_churn_env& env;
    std::mt19937_64 rng;
    std::uint64_t seed;
    std::uint64_t stream = 0;
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(64 * 1024);
    std::size_t bytes = 0;

    std::size_t size() { return rng() % 4 == 0 ? 1 + rng() % (32 * 1024) : 1 + rng() % 1400; }
    std::uint64_t next_id() { return ++stream ^ (seed << 20); }

    // lwsp -> kernel: n bytes, read back exactly by the kernel.
    void to_kernel(SOCKET s, int kfd, std::size_t n) {
        const std::uint64_t id = next_id();
        fill_pattern(buf.data(), n, 0, id);
        REQUIRE(env.send(s, buf.data(), n) == static_cast<long>(n));
        std::string got;
        while (got.size() < n) {
            const kp::read_result r = kp::read_some(kfd, n - got.size(), 5000);
            INFO("kernel read after " << got.size() << " of " << n << " bytes: error " << kp::error_name(r.error)
                                      << (r.eof ? ", EOF" : "") << (r.timed_out ? ", timed out" : ""));
            REQUIRE(!r.data.empty());
            got += r.data;
        }
        CHECK(check_pattern(reinterpret_cast<const std::uint8_t*>(got.data()), n, 0, id) == n);
        bytes += n;
    }
    // kernel -> lwsp: n bytes, received whole by lwsp.
    void from_kernel(int kfd, SOCKET s, std::size_t n) {
        const std::uint64_t id = next_id();
        fill_pattern(buf.data(), n, 0, id);
        REQUIRE(kp::write_all(kfd, buf.data(), n));
        receive(s, n, id);
    }
    void receive(SOCKET s, std::size_t n, std::uint64_t id) {
        std::size_t got = 0;
        while (got < n) {
            const long r = env.recv(s, buf.data() + got, n - got, MSG_WAITALL);
            INFO("WSPRecv after " << got << " of " << n << " bytes");
            REQUIRE(r > 0);
            got += static_cast<std::size_t>(r);
        }
        CHECK(check_pattern(buf.data(), n, 0, id) == n);
        bytes += n;
    }

    void cycle(std::size_t i, SOCKET lst4, SOCKET lst6, int klst4, int klst6) {
        const bool v6 = rng() % 2 == 0;
        const bool lwsp_connects = rng() % 2 == 0;
        const ending how = static_cast<ending>(rng() % static_cast<unsigned>(ending::count));
        INFO("cycle " << i << " (" << (v6 ? "IPv6" : "IPv4") << ", " << (lwsp_connects ? "lwsp" : "the kernel")
                      << " connects, seed " << seed << "): " << name_of(how));
        SOCKET s = INVALID_SOCKET;
        int kfd = -1;
        if (lwsp_connects) {
            s = env.socket(v6);
            REQUIRE(s != INVALID_SOCKET);
            REQUIRE(env.connect(s, v6 ? k_kernel6 : k_kernel4, k_kernel_port) == 0);
            kfd = kp::accept_one(v6 ? klst6 : klst4, 5000);
        } else {
            int err = 0;
            kfd = kp::connect_tcp(v6 ? k_lwsp6 : k_lwsp4, k_lwsp_port, 5000, &err);
            INFO("kernel connect: " << kp::error_name(err));
            REQUIRE(kfd >= 0);
            s = env.p.lpWSPAccept(v6 ? lst6 : lst4, nullptr, nullptr, nullptr, 0, &err);
            INFO("WSPAccept: " << err);
            REQUIRE(s != INVALID_SOCKET);
        }
        REQUIRE(kfd >= 0);
        to_kernel(s, kfd, size());
        from_kernel(kfd, s, size());
        char b[16];
        switch (how) {
            case ending::lwsp_graceful:
            case ending::lwsp_linger: {
                const std::size_t n = size();
                const std::uint64_t id = next_id();
                fill_pattern(buf.data(), n, 0, id);
                REQUIRE(env.send(s, buf.data(), n) == static_cast<long>(n));
                if (how == ending::lwsp_linger) REQUIRE(env.set_linger(s, true, 5) == 0);
                REQUIRE(env.close(s) == 0);
                const kp::read_result r = kp::read_to_end(kfd, n + 1, 5000);
                CHECK(r.eof);
                CHECK(r.error == 0);
                REQUIRE(r.data.size() == n);
                CHECK(check_pattern(reinterpret_cast<const std::uint8_t*>(r.data.data()), n, 0, id) == n);
                bytes += n;
                break;
            }
            case ending::lwsp_abortive: {
                REQUIRE(env.set_linger(s, true, 0) == 0);
                REQUIRE(env.close(s) == 0);
                const kp::read_result r = kp::read_to_end(kfd, 16, 5000);
                CHECK(r.error == ECONNRESET);
                break;
            }
            case ending::lwsp_unread: {
                const std::size_t n = size();
                fill_pattern(buf.data(), n, 0, next_id());
                REQUIRE(kp::write_all(kfd, buf.data(), n));
                REQUIRE(eventually([&] { return env.readable(s) == static_cast<long>(n); }));
                REQUIRE(env.close(s) == 0);  // unread data: RST
                const kp::read_result r = kp::read_to_end(kfd, 16, 5000);
                CHECK(r.error == ECONNRESET);
                break;
            }
            case ending::lwsp_shutdown: {
                REQUIRE(env.shutdown(s, SD_SEND) == 0);
                const kp::read_result eof = kp::read_to_end(kfd, 16, 5000);
                CHECK(eof.eof);
                CHECK(eof.data.empty());
                const std::size_t n = size();
                const std::uint64_t id = next_id();
                fill_pattern(buf.data(), n, 0, id);
                REQUIRE(kp::write_all(kfd, buf.data(), n));
                kp::close_fd(kfd);
                kfd = -1;
                receive(s, n, id);
                CHECK(env.recv(s, b, sizeof b) == 0);
                REQUIRE(env.close(s) == 0);
                break;
            }
            case ending::kernel_graceful:
                kp::close_fd(kfd);
                kfd = -1;
                CHECK(env.recv(s, b, sizeof b) == 0);
                REQUIRE(env.close(s) == 0);
                break;
            case ending::kernel_reset:
                kp::reset(kfd);
                kfd = -1;
                CHECK(env.recv(s, b, sizeof b) == -WSAECONNRESET);
                REQUIRE(env.close(s) == 0);
                break;
            case ending::count: break;
        }
        kp::close_fd(kfd);
    }
};

}  // namespace

TEST_CASE("connections to and from the kernel churn over TAP and leave nothing behind in lwsp",
          "[integration][churn]") {
    const std::uint64_t seed = seed_from_env("LWSP_CHURN_SEED");
    const std::size_t cycles = number_from_env("LWSP_CHURN_TAP_CYCLES", 1000);
    std::printf("TAP churn: %zu cycles, LWSP_CHURN_SEED=%llu\n", cycles, static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    INFO("LWSP_CHURN_SEED=" << seed);
    REQUIRE(kp::raise_fd_limit(4096));
    tap_churn_env env;
    const int klst4 = kp::listen_tcp(k_kernel4, k_kernel_port);
    const int klst6 = kp::listen_tcp(k_kernel6, k_kernel_port);
    REQUIRE(klst4 >= 0);
    REQUIRE(klst6 >= 0);
    const SOCKET lst4 = env.socket(false), lst6 = env.socket(true);
    REQUIRE(env.bind_listen(lst4, k_lwsp4, k_lwsp_port) == 0);
    REQUIRE(env.bind_listen(lst6, k_lwsp6, k_lwsp_port) == 0);
    // A blocked call (a lost ACK never retransmitted, a close that never
    // completes) fails the test: cleanup releases it with WSAEINTR.
    stall_watchdog watchdog(20s, [&env] {
        int err = 0;
        env.p.lpWSPCleanup(&err);
    });

    tap_churn run{env, std::mt19937_64(seed), seed};
    const std::size_t warmup = std::min<std::size_t>(50, cycles / 4);
    std::size_t i = 0;
    for (; i < warmup; ++i, watchdog.progress()) run.cycle(i, lst4, lst6, klst4, klst6);
    env.ticker->stop();
    env.st.advance_time(k_past_time_wait);
    const resources base = measure(env.st);
    env.ticker = std::make_unique<clock_ticker>(env.st);

    const auto t0 = std::chrono::steady_clock::now();
    for (; i < cycles; ++i, watchdog.progress()) run.cycle(i, lst4, lst6, klst4, klst6);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE_FALSE(watchdog.fired());
    // The last ACKs and FINs from the kernel arrive within moments.
    REQUIRE(eventually([&] {
        const lwsp::stack_stats now = env.st.stats();
        return now.tcp_pcbs - now.tcp_time_wait_pcbs == base.stack.tcp_pcbs;
    }));
    env.ticker->stop();
    const resources busy = measure(env.st);
    env.st.advance_time(k_past_time_wait);
    const resources after = measure(env.st);
    std::printf(
        "TAP churn: %zu cycles in %.2f s (%.0f/s), %zu bytes checked\n  before TIME_WAIT expiry: %s\n"
        "  baseline: %s\n  after:    %s\n",
        cycles - warmup, seconds, (cycles - warmup) / seconds, run.bytes, describe(busy).c_str(),
        describe(base).c_str(), describe(after).c_str());
    std::fflush(stdout);
    INFO("baseline: " << describe(base) << "\nafter: " << describe(after));
    CHECK(after.stack.tcp_pcbs == base.stack.tcp_pcbs);  // the two listeners
    CHECK(after.stack.tcp_time_wait_pcbs == 0);
    CHECK(after.stack.tcp_segments == base.stack.tcp_segments);
    CHECK(after.stack.pbufs == base.stack.pbufs);
    CHECK(after.stack.heap_bytes == base.stack.heap_bytes);
    CHECK(after.handles == base.handles);
    const long long heap_growth = static_cast<long long>(after.heap_in_use) - static_cast<long long>(base.heap_in_use);
    INFO("process heap growth " << heap_growth << " B");
    CHECK(heap_growth < static_cast<long long>(8 * (cycles - warmup) / 2 + 16384));
    REQUIRE(env.close(lst4) == 0);
    REQUIRE(env.close(lst6) == 0);
    CHECK(env.st.stats().tcp_pcbs == 0);
    kp::close_fd(klst4);
    kp::close_fd(klst6);
}
