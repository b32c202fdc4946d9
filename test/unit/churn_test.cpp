// Connection churn over the stack's own loopback (issue 10: a hostile
// network cannot exhaust lwsp).  Thousands of connect / transfer / close
// cycles, each ending a different way — graceful close (SO_DONTLINGER),
// abortive close (SO_LINGER 0), blocking and nonblocking lingering close,
// close with unread data (RST), simultaneous close, shutdown(SD_SEND) and
// shutdown(SD_BOTH), each from the client or the server side — over IPv4
// and IPv6.  Every call is checked as an application would check it (return
// value, *lpErrno, every byte), and afterwards, once TIME_WAIT has passed on
// the manual clock, every resource a connection holds is back where it
// started: lwIP pcbs, segments, pbufs and heap, the provider's handle table,
// and the process heap.  A device that accepts connections from anyone for
// months must not lose a byte of memory per connection.
//
// Sizes: LWSP_CHURN_CYCLES (per family, default 5000: 10,000 in all) and
// LWSP_CHURN_SEED (default: a fresh seed, printed; the same seed replays the
// same cycles).
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "loop_env.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

// How a cycle ends.  `first` is the side that acts first, the client or
// the server of the connection.
enum class ending {
    graceful,            // SO_DONTLINGER close; the other side reads EOF, then closes
    simultaneous,        // both close gracefully at once, before either sees the other's FIN
    abortive,            // SO_LINGER {1, 0}: RST; the other side's recv fails WSAECONNRESET
    linger,              // blocking, SO_LINGER {1, 10} with data in flight: returns once it is acknowledged
    linger_nonblocking,  // the same on a nonblocking socket: WSAEWOULDBLOCK until acknowledged
    unread_reset,        // closed with received data unread: RST
    shutdown_send,       // SD_SEND, the other side answers and closes, then the first closes
    shutdown_both,       // SD_BOTH: both directions refused, then both close
    count
};

const char* name_of(ending e) {
    switch (e) {
        case ending::graceful: return "graceful close";
        case ending::simultaneous: return "simultaneous close";
        case ending::abortive: return "abortive close";
        case ending::linger: return "lingering close";
        case ending::linger_nonblocking: return "nonblocking lingering close";
        case ending::unread_reset: return "close with unread data";
        case ending::shutdown_send: return "shutdown(SD_SEND)";
        case ending::shutdown_both: return "shutdown(SD_BOTH)";
        case ending::count: break;
    }
    return "?";
}

constexpr std::uint16_t k_port4 = 7000;
constexpr std::uint16_t k_port6 = 7001;
constexpr std::size_t k_max_chunk = 64 * 1024;
// Stack time per cycle: TIME_WAIT pcbs (2 MSL = 120 s) expire as the churn
// goes on, as they would on a busy device, so at most ~1200 exist at once.
constexpr lwsp::millis k_cycle_time{100};

struct churn {
    loop_env& env;
    bool v6;
    std::uint64_t seed;
    std::mt19937_64 rng;
    std::vector<std::uint8_t> out, in;  // reused: the churn itself should not churn the heap
    SOCKET lst = INVALID_SOCKET;
    std::uint64_t stream = 0;      // pattern seed of the next transfer
    std::size_t would_blocks = 0;  // nonblocking lingering closes that had to be retried
    std::size_t bytes = 0;

    churn(loop_env& e, bool v6_, std::uint64_t s)
        : env(e), v6(v6_), seed(s), rng(s), out(k_max_chunk), in(k_max_chunk) {}

    std::size_t size() {
        // Mostly request-sized, sometimes several segments.
        return rng() % 4 == 0 ? 1 + rng() % k_max_chunk : 1 + rng() % 1460;
    }

    // `from` sends n pattern bytes, `to` receives them all and checks them.
    void transfer(SOCKET from, SOCKET to, std::size_t n) {
        const std::uint64_t id = ++stream ^ (seed << 20);
        fill_pattern(out.data(), n, 0, id);
        REQUIRE(env.send(from, out.data(), n) == static_cast<long>(n));
        receive(to, n, id);
    }

    void receive(SOCKET to, std::size_t n, std::uint64_t id) {
        std::size_t got = 0;
        const bool wait_all = rng() % 2 == 0;
        while (got < n) {
            const long r = env.recv(to, in.data() + got, n - got, wait_all ? MSG_WAITALL : 0);
            INFO("recv after " << got << " of " << n << " bytes");
            REQUIRE(r > 0);
            got += static_cast<std::size_t>(r);
        }
        INFO("first difference at byte " << check_pattern(in.data(), n, 0, id));
        REQUIRE(check_pattern(in.data(), n, 0, id) == n);
        bytes += n;
    }

    void expect_eof(SOCKET s) {
        char b[16];
        CHECK(env.recv(s, b, sizeof b) == 0);
    }

    void cycle(std::size_t i) {
        const ending how = static_cast<ending>(rng() % static_cast<unsigned>(ending::count));
        const bool client_first = rng() % 2 == 0;
        const bool nodelay = rng() % 2 == 0;
        INFO("cycle " << i << " (" << (v6 ? "IPv6" : "IPv4") << ", seed " << seed << "): " << name_of(how) << " by the "
                      << (client_first ? "client" : "server") << (nodelay ? ", TCP_NODELAY" : ""));
        int err = 0;
        const SOCKET c = env.socket(v6, err);
        REQUIRE(c != INVALID_SOCKET);
        if (nodelay) REQUIRE(env.set_int(c, IPPROTO_TCP, TCP_NODELAY, 1) == 0);
        REQUIRE(env.connect(c, v6, v6 ? k_port6 : k_port4) == 0);
        std::uint16_t accepted_from = 0, client_port = 0, server_port = 0;
        const SOCKET s = env.accept(lst, err, &accepted_from);
        INFO("WSPAccept error " << err);
        REQUIRE(s != INVALID_SOCKET);
        REQUIRE(env.local_port(c, client_port) == 0);
        CHECK(accepted_from == client_port);
        REQUIRE(env.peer_port(c, server_port) == 0);
        CHECK(server_port == (v6 ? k_port6 : k_port4));
        if (nodelay) REQUIRE(env.set_int(s, IPPROTO_TCP, TCP_NODELAY, 1) == 0);

        // A request and its reply.
        transfer(c, s, size());
        transfer(s, c, size());

        const SOCKET x = client_first ? c : s;  // acts first
        const SOCKET y = client_first ? s : c;
        switch (how) {
            case ending::graceful:
                REQUIRE(env.set_dontlinger(x) == 0);
                REQUIRE(env.close(x) == 0);
                expect_eof(y);
                REQUIRE(env.close(y) == 0);
                break;
            case ending::simultaneous:
                REQUIRE(env.close(x) == 0);
                REQUIRE(env.close(y) == 0);
                break;
            case ending::abortive: {
                REQUIRE(env.set_linger(x, true, 0) == 0);
                REQUIRE(env.close(x) == 0);
                char b[16];
                CHECK(env.recv(y, b, sizeof b) == -WSAECONNRESET);
                REQUIRE(env.close(y) == 0);
                break;
            }
            case ending::linger: {
                const std::size_t n = size();
                const std::uint64_t id = ++stream ^ (seed << 20);
                fill_pattern(out.data(), n, 0, id);
                REQUIRE(env.send(x, out.data(), n) == static_cast<long>(n));
                REQUIRE(env.set_linger(x, true, 10) == 0);
                REQUIRE(env.close(x) == 0);  // returns once data and FIN are acknowledged
                receive(y, n, id);
                expect_eof(y);
                REQUIRE(env.close(y) == 0);
                break;
            }
            case ending::linger_nonblocking: {
                const std::size_t n = size();
                const std::uint64_t id = ++stream ^ (seed << 20);
                fill_pattern(out.data(), n, 0, id);
                REQUIRE(env.set_nonblocking(x, true) == 0);
                REQUIRE(env.send(x, out.data(), n) == static_cast<long>(n));
                REQUIRE(env.set_linger(x, true, 10) == 0);
                int r = env.close(x);
                // Until the peer's (possibly delayed) ACK arrives the close
                // would block: the handle stays valid and nothing is sent.
                for (int tries = 0; r == WSAEWOULDBLOCK && tries < 40; ++tries) {
                    ++would_blocks;
                    int type = 0;
                    REQUIRE(env.get_int(x, SOL_SOCKET, SO_TYPE, type) == 0);
                    env.advance(250ms);  // lwIP's delayed-ACK timer
                    r = env.close(x);
                }
                REQUIRE(r == 0);
                receive(y, n, id);
                expect_eof(y);
                REQUIRE(env.close(y) == 0);
                break;
            }
            case ending::unread_reset: {
                const std::size_t n = size();
                fill_pattern(out.data(), n, 0, ++stream);
                REQUIRE(env.send(y, out.data(), n) == static_cast<long>(n));
                u_long queued = 0;
                // Time passes while we wait: with Nagle on, a small segment
                // waits for the ACK of earlier data, which the other side
                // may delay (lwIP's 250 ms delayed-ACK timer).
                const bool all_there = eventually([&] {
                    if (env.bytes_readable(x, queued) == 0 && queued == n) return true;
                    env.advance(50ms);
                    return false;
                });
                INFO(n << " bytes sent, " << queued << " arrived");
                REQUIRE(all_there);
                REQUIRE(env.close(x) == 0);  // SO_DONTLINGER, but data unread: RST
                char b[16];
                CHECK(env.recv(y, b, sizeof b) == -WSAECONNRESET);
                REQUIRE(env.close(y) == 0);
                break;
            }
            case ending::shutdown_send: {
                REQUIRE(env.shutdown(x, SD_SEND) == 0);
                expect_eof(y);
                CHECK(env.send(x, "z", 1) == -WSAESHUTDOWN);
                transfer(y, x, size());  // the other direction still works
                REQUIRE(env.close(y) == 0);
                expect_eof(x);
                REQUIRE(env.close(x) == 0);
                break;
            }
            case ending::shutdown_both: {
                REQUIRE(env.shutdown(x, SD_BOTH) == 0);
                expect_eof(y);
                char b[16];
                CHECK(env.recv(x, b, sizeof b) == -WSAESHUTDOWN);
                CHECK(env.send(x, "z", 1) == -WSAESHUTDOWN);
                REQUIRE(env.close(y) == 0);
                REQUIRE(env.close(x) == 0);
                break;
            }
            case ending::count: break;
        }
        env.advance(k_cycle_time);
    }
};

void run_churn(bool v6) {
    const std::uint64_t seed = seed_from_env("LWSP_CHURN_SEED");
    const std::size_t cycles = number_from_env("LWSP_CHURN_CYCLES", 5000);
    const std::size_t warmup = std::min<std::size_t>(200, cycles / 4);
    std::printf("churn %s: %zu cycles, LWSP_CHURN_SEED=%llu\n", v6 ? "IPv6" : "IPv4", cycles,
                static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    INFO("LWSP_CHURN_SEED=" << seed);
    loop_env env;
    const resources empty = measure(env.st);
    churn run(env, v6, seed);
    // A stalled call (a lost wake-up, a close that never finishes) fails the
    // test: the watchdog cleans the provider up, which releases every
    // blocked call with WSAEINTR.
    stall_watchdog watchdog(15s, [&env] {
        int err = 0;
        env.p.lpWSPCleanup(&err);
    });
    int err = 0;
    run.lst = env.socket(v6, err);
    REQUIRE(run.lst != INVALID_SOCKET);
    REQUIRE(env.bind(run.lst, v6, v6 ? k_port6 : k_port4) == 0);
    REQUIRE(env.listen(run.lst, 4) == 0);
    const auto t0 = std::chrono::steady_clock::now();

    std::size_t i = 0;
    for (; i < warmup; ++i, watchdog.progress()) run.cycle(i);
    // The baseline: the listener alone, after the first allocations that
    // stay (lwIP's and the handle table's high-water marks).
    env.advance(k_past_time_wait);
    const resources base = measure(env.st);
    INFO("baseline after " << warmup << " cycles: " << describe(base));
    CHECK(base.stack.tcp_pcbs == 1);
    CHECK(base.handles == 1);

    std::size_t peak_pcbs = 0;
    for (; i < cycles; ++i, watchdog.progress()) {
        run.cycle(i);
        if (i % 256 == 0) peak_pcbs = std::max(peak_pcbs, env.st.stats().tcp_pcbs);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE_FALSE(watchdog.fired());

    const resources busy = measure(env.st);
    env.advance(k_past_time_wait);
    const resources after = measure(env.st);
    std::printf(
        "churn %s: %zu cycles in %.2f s (%.0f/s), %zu bytes checked, %zu nonblocking linger retries, "
        "peak %zu pcbs\n  before TIME_WAIT expiry: %s\n  baseline: %s\n  after:    %s\n",
        v6 ? "IPv6" : "IPv4", cycles, seconds, cycles / seconds, run.bytes, run.would_blocks, peak_pcbs,
        describe(busy).c_str(), describe(base).c_str(), describe(after).c_str());
    std::fflush(stdout);
    INFO("after: " << describe(after));
    CHECK(after.stack.tcp_pcbs == base.stack.tcp_pcbs);
    CHECK(after.stack.tcp_time_wait_pcbs == 0);
    CHECK(after.stack.tcp_segments == base.stack.tcp_segments);
    CHECK(after.stack.pbufs == base.stack.pbufs);
    CHECK(after.stack.heap_bytes == base.stack.heap_bytes);
    CHECK(after.handles == base.handles);
    CHECK(after.thread_states == base.thread_states);
    // A leak of 8 bytes per cycle would exceed this after 5000 cycles.
    const long long heap_growth = static_cast<long long>(after.heap_in_use) - static_cast<long long>(base.heap_in_use);
    INFO("process heap growth " << heap_growth << " B over " << cycles - warmup << " cycles");
    CHECK(heap_growth < static_cast<long long>(8 * (cycles - warmup) / 2 + 4096));
    if (!sanitized_build()) CHECK(after.rss < base.rss + 16 * 1024 * 1024);

    // Without the listener, the stack and the provider are as empty as
    // they were before the first socket.
    REQUIRE(env.close(run.lst) == 0);
    const resources last = measure(env.st);
    INFO("empty: " << describe(empty) << "\nlast: " << describe(last));
    CHECK(last.stack.tcp_pcbs == 0);
    CHECK(last.stack.pbufs == empty.stack.pbufs);
    CHECK(last.stack.heap_bytes == empty.stack.heap_bytes);
    CHECK(last.handles == 0);
}

}  // namespace

// 5000 cycles each by default: 10000 in all.
TEST_CASE("IPv4 loopback connections churn through every kind of close and leave nothing behind", "[churn][v4]") {
    run_churn(false);
}

TEST_CASE("IPv6 loopback connections churn through every kind of close and leave nothing behind", "[churn][v6]") {
    run_churn(true);
}
