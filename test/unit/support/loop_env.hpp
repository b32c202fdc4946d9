// loop_env.hpp — the stack with no port at all, talking to itself over its
// loopback interface (127.0.0.1 and ::1), and the WSP provider on top: the
// setting of the churn and soak tests, where both ends of every connection
// are lwsp sockets in one process.  Also what those tests measure: every
// resource a connection can leave behind (lwIP pcbs, pbufs and heap, the
// provider's handles, lwsp's thread records, the process heap and RSS), a
// stall watchdog, and a byte pattern that shows loss, duplication and
// reordering.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"

namespace lwsp::test {

// Everything that must come back to its first value once the last socket is
// closed and TIME_WAIT has passed.
struct resources {
    lwsp::stack_stats stack;
    std::size_t handles = 0;        // sockets in the provider's handle table
    std::size_t thread_states = 0;  // lwsp's per-thread APC queues alive
    std::size_t heap_in_use = 0;    // process heap bytes allocated (sanitizer allocator or mallinfo2)
    std::size_t rss = 0;            // resident set size, bytes
};
resources measure(lwsp::stack& st);
std::string describe(const resources& r);
// The process heap is measured by the sanitizer's allocator under ASan and
// TSan (glibc's mallinfo2 does not see it) and by mallinfo2 otherwise; RSS
// under a sanitizer includes its quarantine and shadow memory, so only an
// uninstrumented build can hold RSS to a bound.
bool sanitized_build();

// lwIP's TIME_WAIT lasts 2 * TCP_MSL (60 s each): a manual clock moved this
// far has let every TIME_WAIT pcb expire.
constexpr lwsp::millis k_past_time_wait{2 * 60000 + 1000};

class loop_env {
public:
    // A manual clock by default: time moves only through advance().
    explicit loop_env(bool manual_clock = true);
    ~loop_env();
    loop_env(const loop_env&) = delete;
    loop_env& operator=(const loop_env&) = delete;

    lwsp::stack st;
    WSPPROC_TABLE p{};

    // Moves the manual clock in 250 ms steps (lwIP's TCP timer period).
    void advance(lwsp::millis d);

    // Thin wrappers: 0 (or the count) on success, otherwise the WSAE code
    // from *lpErrno, negated where a count is returned.
    SOCKET socket(bool v6, int& err);
    int bind(SOCKET s, bool v6, std::uint16_t port);  // loopback address
    int listen(SOCKET s, int backlog);
    int connect(SOCKET s, bool v6, std::uint16_t port);  // to the loopback address
    SOCKET accept(SOCKET lst, int& err, std::uint16_t* peer_port = nullptr);
    long send(SOCKET s, const void* data, std::size_t n, DWORD flags = 0);
    long recv(SOCKET s, void* data, std::size_t n, DWORD flags = 0);
    int close(SOCKET s);
    int shutdown(SOCKET s, int how);
    int set_linger(SOCKET s, bool on, u_short seconds);
    int set_dontlinger(SOCKET s);
    int set_int(SOCKET s, int level, int name, int value);
    int get_int(SOCKET s, int level, int name, int& value);
    int set_nonblocking(SOCKET s, bool on);
    int bytes_readable(SOCKET s, u_long& n);  // FIONREAD
    int local_port(SOCKET s, std::uint16_t& port);
    int peer_port(SOCKET s, std::uint16_t& port);
};

// Open sockets in the provider's handle table.
std::size_t open_handles();

// Byte i of stream `seed`: depends on the position, so a lost, repeated or
// reordered byte shows.
inline std::uint8_t pattern_byte(std::uint64_t i, std::uint64_t seed) {
    std::uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull + seed * 0xD1B54A32D192ED03ull + 1;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return static_cast<std::uint8_t>(x >> (8 * (i & 7)));
}
void fill_pattern(std::uint8_t* out, std::size_t n, std::uint64_t offset, std::uint64_t seed);
// The first offset in [0, n) where `data` differs from the pattern at
// `offset`, or n.
std::size_t check_pattern(const std::uint8_t* data, std::size_t n, std::uint64_t offset, std::uint64_t seed);

// A seed from the environment variable `name` if set, otherwise a fresh one.
std::uint64_t seed_from_env(const char* name);
// A number from the environment variable `name`, or `fallback`.
std::uint64_t number_from_env(const char* name, std::uint64_t fallback);

// Calls `on_stall` (once, from its own thread) if progress() is not called
// for `limit` of real time, so a test whose calls block for good fails and
// releases them instead of hanging until CTest kills it.
class stall_watchdog {
public:
    stall_watchdog(std::chrono::milliseconds limit, std::function<void()> on_stall);
    ~stall_watchdog();
    stall_watchdog(const stall_watchdog&) = delete;
    stall_watchdog& operator=(const stall_watchdog&) = delete;
    void progress();
    bool fired() const { return fired_.load(); }

private:
    std::chrono::milliseconds limit_;
    std::function<void()> on_stall_;
    std::atomic<std::uint64_t> ticks_{0};
    std::atomic<bool> fired_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

// Moves a manual clock along with real time (in steps of `step`) from its
// own thread, so that timeouts, retransmissions and delayed ACKs happen as
// they would with a steady clock, while the test can still jump ahead (past
// TIME_WAIT) at the end.
class clock_ticker {
public:
    clock_ticker(lwsp::stack& st, std::chrono::milliseconds step = std::chrono::milliseconds(5));
    ~clock_ticker();
    clock_ticker(const clock_ticker&) = delete;
    clock_ticker& operator=(const clock_ticker&) = delete;
    void stop();

private:
    lwsp::stack& st_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace lwsp::test
