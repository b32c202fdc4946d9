// lwsp's own upcall table (lwsp/upcalls.h): events and waits, thread ids
// and APCs, socket handles, the WPU* functions of lwsp_default_upcalls.
// Every real-time wait is bounded: a broken wake-up fails a test, it does
// not hang it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if !defined(_WIN32)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "lwsp/upcalls.h"

// Test hooks defined in spi_shim/src/upcalls.cpp.
namespace lwsp::upcalls_detail {
std::size_t live_thread_states();
std::size_t event_waiter_count(WSAEVENT event);
}  // namespace lwsp::upcalls_detail

using lwsp::test::eventually;
using lwsp::upcalls_detail::event_waiter_count;
using lwsp::upcalls_detail::live_thread_states;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// Catch2 assertions are not thread-safe: threads other than the test's own
// record failures here (the line of the last one), and the test checks
// thread_failures() == 0 on its own thread.
std::atomic<int> g_thread_failed_line{0};
#define THREAD_CHECK(cond)                                 \
    do {                                                   \
        if (!(cond)) g_thread_failed_line.store(__LINE__); \
    } while (false)

// Bound for anything that should happen "soon" in real time.
constexpr DWORD k_long_ms = 10000;

// Closes the events it owns.
struct events {
    std::vector<WSAEVENT> h;
    explicit events(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            h.push_back(lwsp_create_event());
            REQUIRE(h.back() != WSA_INVALID_EVENT);
        }
    }
    ~events() {
        for (WSAEVENT e : h) lwsp_close_event(e);
    }
    events(const events&) = delete;
    events& operator=(const events&) = delete;
    WSAEVENT operator[](std::size_t i) const { return h[i]; }
    DWORD size() const { return static_cast<DWORD>(h.size()); }
};

// Waits (bounded) until `n` waits are registered on `ev`.
bool wait_for_waiters(WSAEVENT ev, std::size_t n) {
    return eventually([&] { return event_waiter_count(ev) >= n; }, 10s);
}

// Whether `ev` is signalled, without waiting (and without changing it: WSA
// events reset only by hand).
bool is_set(WSAEVENT ev) { return lwsp_wait_for_multiple_events(1, &ev, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0; }

#if defined(_WIN32)
// Windows has no view of another thread's scheduling state that Wine
// reproduces; the test's passing path never depends on it (see below), so
// here the other thread only waits for the flag.
long kernel_tid() { return 0; }
bool thread_sleeps(long) { return true; }
#else
// The calling thread's kernel id.
long kernel_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

// Whether thread `tid` of this process sleeps in the kernel right now (state
// S in /proc/self/task/<tid>/stat).  lwsp_sleep_ex registers on no event,
// so no hook shows a thread inside it; this is the nearest observable sign.
bool thread_sleeps(long tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const std::size_t end_of_name = stat.rfind(')');  // the name may hold spaces
    return end_of_name != std::string::npos && end_of_name + 2 < stat.size() && stat[end_of_name + 2] == 'S';
}
#endif

long long elapsed_ms(steady::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since).count();
}

// An APC that appends its context to a vector; the vector and the thread it
// ran on are only touched by the thread the APC was queued to.
struct apc_log {
    std::vector<DWORD_PTR> values;
    std::vector<std::thread::id> threads;
};
apc_log* g_log = nullptr;

void CALLBACK log_apc(DWORD_PTR ctx) {
    g_log->values.push_back(ctx);
    g_log->threads.push_back(std::this_thread::get_id());
}

std::atomic<int> g_counter{0};
void CALLBACK count_apc(DWORD_PTR ctx) { g_counter.fetch_add(static_cast<int>(ctx)); }

// Releases a thread, or gives up after a bound.
struct latch {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    void release() {
        std::lock_guard<std::mutex> lk(mu);
        open = true;
        cv.notify_all();
    }
    bool wait(std::chrono::milliseconds bound) {
        std::unique_lock<std::mutex> lk(mu);
        return cv.wait_for(lk, bound, [this] { return open; });
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// The table

TEST_CASE("upcalls: lwsp_default_upcalls fills every member", "[upcalls]") {
    WSPUPCALLTABLE t{};
    lwsp_default_upcalls(&t);
    CHECK(t.lpWPUCloseEvent != nullptr);
    CHECK(t.lpWPUCloseSocketHandle != nullptr);
    CHECK(t.lpWPUCreateEvent != nullptr);
    CHECK(t.lpWPUCreateSocketHandle != nullptr);
    CHECK(t.lpWPUFDIsSet != nullptr);
    CHECK(t.lpWPUGetProviderPath != nullptr);
    CHECK(t.lpWPUModifyIFSHandle != nullptr);
    CHECK(t.lpWPUPostMessage != nullptr);
    CHECK(t.lpWPUQueryBlockingCallback != nullptr);
    CHECK(t.lpWPUQuerySocketHandleContext != nullptr);
    CHECK(t.lpWPUQueueApc != nullptr);
    CHECK(t.lpWPUResetEvent != nullptr);
    CHECK(t.lpWPUSetEvent != nullptr);
    CHECK(t.lpWPUOpenCurrentThread != nullptr);
    CHECK(t.lpWPUCloseThread != nullptr);
    // Same check byte-wise: no member left zero.
    const auto* raw = reinterpret_cast<const void* const*>(&t);
    static_assert(sizeof t == 15 * sizeof(void*), "15 pointers");
    for (int i = 0; i < 15; ++i) CHECK(raw[i] != nullptr);
    lwsp_default_upcalls(nullptr);  // no crash
}

TEST_CASE("upcalls: the simple WPU functions", "[upcalls]") {
    WSPUPCALLTABLE t{};
    lwsp_default_upcalls(&t);
    int err = 0;

    fd_set set;
    FD_ZERO(&set);
    FD_SET(static_cast<SOCKET>(5), &set);
    FD_SET(static_cast<SOCKET>(7), &set);
    CHECK(t.lpWPUFDIsSet(5, &set) != 0);
    CHECK(t.lpWPUFDIsSet(7, &set) != 0);
    CHECK(t.lpWPUFDIsSet(6, &set) == 0);
    set.fd_count = 1;  // only fd_count entries count
    CHECK(t.lpWPUFDIsSet(7, &set) == 0);
    CHECK(t.lpWPUFDIsSet(5, nullptr) == 0);

    LPBLOCKINGCALLBACK hook = [](DWORD_PTR) -> BOOL { return TRUE; };
    DWORD_PTR hook_ctx = 99;
    CHECK(t.lpWPUQueryBlockingCallback(1, &hook, &hook_ctx, &err) == 0);
    CHECK(hook == nullptr);

    CHECK(t.lpWPUPostMessage(nullptr, 0x400, 1, 2) == FALSE);

    GUID id{};
    WCHAR path[64];
    int path_len = 64;
    err = 0;
    CHECK(t.lpWPUGetProviderPath(&id, path, &path_len, &err) == SOCKET_ERROR);
    CHECK(err == WSAEINVAL);

    err = 0;
    CHECK(t.lpWPUModifyIFSHandle(1, static_cast<SOCKET>(0x1234), &err) == static_cast<SOCKET>(0x1234));
}

// ---------------------------------------------------------------------------
// Events

TEST_CASE("upcalls: event set reset and poll", "[upcalls]") {
    events ev(1);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(lwsp_set_event(ev[0]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_EVENT_0);
    // Manual reset: waiting does not reset it.
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), TRUE, k_long_ms, FALSE) == WSA_WAIT_EVENT_0);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, k_long_ms, TRUE) == WSA_WAIT_EVENT_0);
    CHECK(lwsp_set_event(ev[0]) == TRUE);  // setting twice is fine
    CHECK(lwsp_reset_event(ev[0]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(lwsp_reset_event(ev[0]) == TRUE);
}

TEST_CASE("upcalls: a wait times out after its timeout", "[upcalls]") {
    events ev(2);
    const auto t0 = steady::now();
    CHECK(lwsp_wait_for_multiple_events(2, ev.h.data(), FALSE, 60, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(elapsed_ms(t0) >= 60);
    const auto t1 = steady::now();
    CHECK(lwsp_wait_for_multiple_events(2, ev.h.data(), TRUE, 40, TRUE) == WSA_WAIT_TIMEOUT);
    CHECK(elapsed_ms(t1) >= 40);
    CHECK(event_waiter_count(ev[0]) == 0);  // the wait unregistered itself
}

TEST_CASE("upcalls: wait any returns the lowest signalled index", "[upcalls]") {
    events ev(5);
    CHECK(lwsp_set_event(ev[3]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(5, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 + 3);
    CHECK(lwsp_set_event(ev[1]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(5, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 + 1);
    CHECK(lwsp_set_event(ev[4]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(5, ev.h.data(), FALSE, k_long_ms, FALSE) == WSA_WAIT_EVENT_0 + 1);
    CHECK(lwsp_reset_event(ev[1]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(5, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 + 3);
    // Duplicates are allowed in a wait-any.
    const WSAEVENT dup[3] = {ev[0], ev[3], ev[0]};
    CHECK(lwsp_wait_for_multiple_events(3, dup, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 + 1);
}

TEST_CASE("upcalls: wait all needs every event", "[upcalls]") {
    events ev(3);
    CHECK(lwsp_set_event(ev[0]) == TRUE);
    CHECK(lwsp_set_event(ev[2]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(3, ev.h.data(), TRUE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(lwsp_wait_for_multiple_events(3, ev.h.data(), TRUE, 30, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(lwsp_set_event(ev[1]) == TRUE);
    const DWORD r = lwsp_wait_for_multiple_events(3, ev.h.data(), TRUE, 0, FALSE);
    CHECK(r < WSA_WAIT_EVENT_0 + 3);
    // Still all signalled afterwards.
    for (DWORD i = 0; i < 3; ++i) CHECK(lwsp_wait_for_multiple_events(1, &ev.h[i], FALSE, 0, FALSE) == 0);
}

TEST_CASE("upcalls: WSA_WAIT_FAILED for bad arguments and handles", "[upcalls]") {
    events ev(WSA_MAXIMUM_WAIT_EVENTS + 1);
    CHECK(lwsp_wait_for_multiple_events(0, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_FAILED);
    CHECK(lwsp_wait_for_multiple_events(0, ev.h.data(), FALSE, 0, TRUE) == WSA_WAIT_FAILED);
    CHECK(lwsp_wait_for_multiple_events(0, nullptr, FALSE, 0, TRUE) == WSA_WAIT_FAILED);
    CHECK(lwsp_wait_for_multiple_events(WSA_MAXIMUM_WAIT_EVENTS + 1, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_FAILED);
    CHECK(lwsp_wait_for_multiple_events(1, nullptr, FALSE, 0, FALSE) == WSA_WAIT_FAILED);
    // 64 is allowed.
    CHECK(lwsp_wait_for_multiple_events(WSA_MAXIMUM_WAIT_EVENTS, ev.h.data(), FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(lwsp_set_event(ev[63]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(WSA_MAXIMUM_WAIT_EVENTS, ev.h.data(), FALSE, 0, FALSE) ==
          WSA_WAIT_EVENT_0 + 63);

    // NULL, made-up and closed handles anywhere in the array.
    const WSAEVENT closed = lwsp_create_event();
    REQUIRE(closed != WSA_INVALID_EVENT);
    REQUIRE(lwsp_close_event(closed) == TRUE);
    const WSAEVENT bad_values[] = {nullptr, closed, reinterpret_cast<WSAEVENT>(static_cast<std::uintptr_t>(0x10001)),
                                   reinterpret_cast<WSAEVENT>(~static_cast<std::uintptr_t>(0))};
    for (WSAEVENT bad : bad_values) {
        const WSAEVENT arr[3] = {ev[63], ev[1], bad};  // ev[63] is signalled: validation comes first
        CHECK(lwsp_wait_for_multiple_events(3, arr, FALSE, 0, FALSE) == WSA_WAIT_FAILED);
        CHECK(lwsp_wait_for_multiple_events(1, &bad, TRUE, 0, FALSE) == WSA_WAIT_FAILED);
    }
    // The same event twice in a wait-all.
    const WSAEVENT dup[2] = {ev[63], ev[63]};
    CHECK(lwsp_wait_for_multiple_events(2, dup, TRUE, 0, FALSE) == WSA_WAIT_FAILED);
}

TEST_CASE("upcalls: closed and invalid event handles are rejected", "[upcalls]") {
    WSPUPCALLTABLE t{};
    lwsp_default_upcalls(&t);
    int err = 0;
    const WSAEVENT ev = t.lpWPUCreateEvent(&err);
    REQUIRE(ev != WSA_INVALID_EVENT);
    CHECK(t.lpWPUSetEvent(ev, &err) == TRUE);
    CHECK(t.lpWPUResetEvent(ev, &err) == TRUE);
    CHECK(t.lpWPUCloseEvent(ev, &err) == TRUE);

    CHECK(lwsp_set_event(ev) == FALSE);
    CHECK(lwsp_reset_event(ev) == FALSE);
    CHECK(lwsp_close_event(ev) == FALSE);
    CHECK(lwsp_set_event(nullptr) == FALSE);
    CHECK(lwsp_close_event(nullptr) == FALSE);

    err = 0;
    CHECK(t.lpWPUSetEvent(ev, &err) == FALSE);
    CHECK(err == WSA_INVALID_HANDLE);
    err = 0;
    CHECK(t.lpWPUResetEvent(ev, &err) == FALSE);
    CHECK(err == WSA_INVALID_HANDLE);
    err = 0;
    CHECK(t.lpWPUCloseEvent(ev, &err) == FALSE);
    CHECK(err == WSA_INVALID_HANDLE);
    err = 0;
    CHECK(t.lpWPUSetEvent(reinterpret_cast<WSAEVENT>(static_cast<std::uintptr_t>(12345)), &err) == FALSE);
    CHECK(err == WSA_INVALID_HANDLE);

    // A reused slot does not answer to the old handle.
    const WSAEVENT again = lwsp_create_event();
    REQUIRE(again != WSA_INVALID_EVENT);
    CHECK(again != ev);
    CHECK(lwsp_set_event(ev) == FALSE);
    CHECK(lwsp_set_event(again) == TRUE);
    CHECK(lwsp_close_event(again) == TRUE);

    // Handles of other kinds are not events.
    WSATHREADID tid{};
    REQUIRE(lwsp_open_current_thread(&tid) == 0);
    CHECK(lwsp_set_event(tid.ThreadHandle) == FALSE);
    CHECK(lwsp_close_thread(&tid) == 0);
    const SOCKET s = lwsp_create_socket_handle(1, 2, &err);
    REQUIRE(s != INVALID_SOCKET);
    CHECK(lwsp_set_event(reinterpret_cast<WSAEVENT>(s)) == FALSE);
    CHECK(lwsp_close_socket_handle(s, &err) == 0);
}

TEST_CASE("upcalls: a set in another thread releases a waiting thread", "[upcalls]") {
    g_thread_failed_line = 0;
    events ev(3);
    std::thread setter([&] {
        THREAD_CHECK(wait_for_waiters(ev[2], 1));
        THREAD_CHECK(lwsp_set_event(ev[2]) == TRUE);
    });
    const DWORD r = lwsp_wait_for_multiple_events(3, ev.h.data(), FALSE, k_long_ms, FALSE);
    setter.join();
    CHECK(r == WSA_WAIT_EVENT_0 + 2);
    CHECK(event_waiter_count(ev[2]) == 0);
    CHECK(g_thread_failed_line.load() == 0);
}

TEST_CASE("upcalls: an infinite wait all is released by sets in other threads", "[upcalls]") {
    g_thread_failed_line = 0;
    events ev(2);
    std::thread a([&] {
        THREAD_CHECK(wait_for_waiters(ev[0], 1));
        THREAD_CHECK(lwsp_set_event(ev[0]) == TRUE);
    });
    std::thread b([&] {
        // Second: once the first set has been evaluated against the wait
        // (set_event does that before it returns) and left it registered.
        THREAD_CHECK(wait_for_waiters(ev[1], 1));
        THREAD_CHECK(eventually([&] { return is_set(ev[0]); }, 10s));
        THREAD_CHECK(event_waiter_count(ev[1]) == 1);  // one of two set: still waiting
        THREAD_CHECK(lwsp_set_event(ev[1]) == TRUE);
    });
    const DWORD r = lwsp_wait_for_multiple_events(2, ev.h.data(), TRUE, WSA_INFINITE, FALSE);
    a.join();
    b.join();
    CHECK(r == WSA_WAIT_EVENT_0);
    CHECK(g_thread_failed_line.load() == 0);
}

TEST_CASE("upcalls: a set immediately followed by a reset still releases waiters", "[upcalls]") {
    g_thread_failed_line = 0;
    events ev(1);
    std::atomic<DWORD> results[3] = {{0xdead}, {0xdead}, {0xdead}};
    std::vector<std::thread> waiters;
    for (auto& r : results) {
        waiters.emplace_back([&ev, &r] { r = lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, k_long_ms, FALSE); });
    }
    REQUIRE(wait_for_waiters(ev[0], 3));
    CHECK(lwsp_set_event(ev[0]) == TRUE);
    CHECK(lwsp_reset_event(ev[0]) == TRUE);
    for (auto& t : waiters) t.join();
    for (auto& r : results) CHECK(r.load() == WSA_WAIT_EVENT_0);
    CHECK(g_thread_failed_line.load() == 0);
}

TEST_CASE("upcalls: closing an event another thread waits on does not crash", "[upcalls]") {
    g_thread_failed_line = 0;
    events ev(1);
    const WSAEVENT victim = lwsp_create_event();
    REQUIRE(victim != WSA_INVALID_EVENT);
    const WSAEVENT arr[2] = {victim, ev[0]};
    std::atomic<DWORD> r{0xdead};
    std::thread waiter([&] { r = lwsp_wait_for_multiple_events(2, arr, FALSE, k_long_ms, FALSE); });
    REQUIRE(wait_for_waiters(victim, 1));
    CHECK(lwsp_close_event(victim) == TRUE);
    CHECK(lwsp_set_event(victim) == FALSE);
    CHECK(lwsp_set_event(ev[0]) == TRUE);  // the other event still ends the wait
    waiter.join();
    CHECK(r.load() == WSA_WAIT_EVENT_0 + 1);
    CHECK(g_thread_failed_line.load() == 0);
}

// ---------------------------------------------------------------------------
// Sleep, thread ids, APCs

TEST_CASE("upcalls: lwsp_sleep_ex sleeps and returns 0", "[upcalls]") {
    auto t0 = steady::now();
    CHECK(lwsp_sleep_ex(40, FALSE) == 0);
    CHECK(elapsed_ms(t0) >= 40);
    t0 = steady::now();
    CHECK(lwsp_sleep_ex(40, TRUE) == 0);  // nothing queued
    CHECK(elapsed_ms(t0) >= 40);
    CHECK(lwsp_sleep_ex(0, FALSE) == 0);
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);
}

TEST_CASE("upcalls: thread ids open and close", "[upcalls]") {
    WSPUPCALLTABLE t{};
    lwsp_default_upcalls(&t);
    int err = 0;
    WSATHREADID a{};
    WSATHREADID b{};
    a.Reserved = 77;
    REQUIRE(t.lpWPUOpenCurrentThread(&a, &err) == 0);
    REQUIRE(lwsp_open_current_thread(&b) == 0);
    CHECK(a.ThreadHandle != nullptr);
    CHECK(a.Reserved == 0);
    CHECK(a.ThreadHandle != b.ThreadHandle);  // one handle per open
    CHECK(lwsp_close_thread(&b) == 0);
    CHECK(lwsp_close_thread(&b) == WSA_INVALID_HANDLE);
    CHECK(t.lpWPUCloseThread(&a, &err) == 0);
    err = 0;
    CHECK(t.lpWPUCloseThread(&a, &err) == SOCKET_ERROR);
    CHECK(err == WSA_INVALID_HANDLE);
    CHECK(lwsp_open_current_thread(nullptr) == WSAEFAULT);
    CHECK(lwsp_close_thread(nullptr) == WSAEFAULT);
    err = 0;
    CHECK(t.lpWPUOpenCurrentThread(nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEFAULT);

    // Queueing to a closed or made-up id fails.
    CHECK(lwsp_queue_apc(&a, count_apc, 1) == WSA_INVALID_HANDLE);
    err = 0;
    CHECK(t.lpWPUQueueApc(&a, count_apc, 1, &err) == SOCKET_ERROR);
    CHECK(err == WSA_INVALID_HANDLE);
    WSATHREADID bogus{reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(0x40010001)), 0};
    CHECK(lwsp_queue_apc(&bogus, count_apc, 1) == WSA_INVALID_HANDLE);
    CHECK(lwsp_queue_apc(nullptr, count_apc, 1) == WSAEFAULT);
    REQUIRE(lwsp_open_current_thread(&a) == 0);
    CHECK(lwsp_queue_apc(&a, nullptr, 1) == WSAEFAULT);
    CHECK(lwsp_close_thread(&a) == 0);
}

TEST_CASE("upcalls: an APC runs only when its thread waits alertably", "[upcalls]") {
    g_thread_failed_line = 0;
    apc_log log;
    g_log = &log;
    WSATHREADID me{};
    REQUIRE(lwsp_open_current_thread(&me) == 0);

    // Queued from another thread (a copy of the id, as providers keep it).
    std::thread other([id = me] {
        WSATHREADID copy = id;
        THREAD_CHECK(lwsp_queue_apc(&copy, log_apc, 42) == 0);
    });
    other.join();
    CHECK(log.values.empty());  // never from inside the queueing call

    // Non-alertable waits time out normally, the APC stays pending.
    events ev(1);
    auto t0 = steady::now();
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 50, FALSE) == WSA_WAIT_TIMEOUT);
    CHECK(elapsed_ms(t0) >= 50);
    t0 = steady::now();
    CHECK(lwsp_sleep_ex(30, FALSE) == 0);
    CHECK(elapsed_ms(t0) >= 30);
    CHECK(log.values.empty());

    // An alertable wait whose event is already signalled returns the event.
    CHECK(lwsp_set_event(ev[0]) == TRUE);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 0, TRUE) == WSA_WAIT_EVENT_0);
    CHECK(log.values.empty());
    CHECK(lwsp_reset_event(ev[0]) == TRUE);

    // An alertable sleep runs it, on this thread, and says so.
    t0 = steady::now();
    CHECK(lwsp_sleep_ex(k_long_ms, TRUE) == WAIT_IO_COMPLETION);
    CHECK(elapsed_ms(t0) < 5000);
    REQUIRE(log.values.size() == 1);
    CHECK(log.values[0] == 42);
    CHECK(log.threads[0] == std::this_thread::get_id());
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);  // ran once only

    // Same with an alertable event wait.
    CHECK(lwsp_queue_apc(&me, log_apc, 43) == 0);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, k_long_ms, TRUE) == WSA_WAIT_IO_COMPLETION);
    REQUIRE(log.values.size() == 2);
    CHECK(log.values[1] == 43);

    CHECK(lwsp_close_thread(&me) == 0);
    g_log = nullptr;
    CHECK(g_thread_failed_line.load() == 0);
}

TEST_CASE("upcalls: an APC queued during an alertable wait wakes it", "[upcalls]") {
    g_thread_failed_line = 0;
    g_counter = 0;
    events ev(1);
    WSATHREADID me{};
    REQUIRE(lwsp_open_current_thread(&me) == 0);
    latch done;
    std::thread other([&ev, &done, id = me] {
        WSATHREADID copy = id;
        THREAD_CHECK(wait_for_waiters(ev[0], 1));
        THREAD_CHECK(lwsp_queue_apc(&copy, count_apc, 1) == 0);
        // Rescue: should the APC not wake the wait, end it through the event.
        if (!done.wait(10s)) lwsp_set_event(ev[0]);
    });
    const DWORD r = lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, WSA_INFINITE, TRUE);
    done.release();
    other.join();
    CHECK(r == WSA_WAIT_IO_COMPLETION);
    CHECK(g_counter.load() == 1);
    CHECK(event_waiter_count(ev[0]) == 0);

    // The same for an infinite alertable sleep.  The APC goes once this
    // thread, past the point where it starts the sleep, sleeps in the
    // kernel.  Should it land before the sleep starts (a sleep on some
    // other lock seen first, or no sign within the bound), the sleep returns
    // WAIT_IO_COMPLETION just the same: the passing path never depends on
    // the timing, only which path is exercised does.
    latch done2;
    const long sleeper = kernel_tid();
    std::atomic<bool> sleeping{false};
    std::thread other2([&done2, &sleeping, sleeper, id = me] {
        WSATHREADID copy = id;
        eventually([&] { return sleeping.load() && thread_sleeps(sleeper); }, 2000ms);
        THREAD_CHECK(lwsp_queue_apc(&copy, count_apc, 10) == 0);
        if (!done2.wait(10s)) THREAD_CHECK(lwsp_queue_apc(&copy, count_apc, 100) == 0);  // never reached when correct
    });
    const auto t0 = steady::now();
    sleeping = true;
    const DWORD r2 = lwsp_sleep_ex(k_long_ms, TRUE);
    done2.release();
    other2.join();
    CHECK(r2 == WAIT_IO_COMPLETION);
    CHECK(elapsed_ms(t0) < 5000);
    CHECK(g_counter.load() == 11);
    CHECK(lwsp_close_thread(&me) == 0);
    CHECK(g_thread_failed_line.load() == 0);
}

TEST_CASE("upcalls: APCs run in FIFO order and all in one wait", "[upcalls]") {
    g_thread_failed_line = 0;
    apc_log log;
    g_log = &log;
    WSATHREADID me{};
    REQUIRE(lwsp_open_current_thread(&me) == 0);
    for (DWORD_PTR i = 1; i <= 5; ++i) CHECK(lwsp_queue_apc(&me, log_apc, i) == 0);
    std::thread other([id = me] {
        WSATHREADID copy = id;
        for (DWORD_PTR i = 6; i <= 8; ++i) THREAD_CHECK(lwsp_queue_apc(&copy, log_apc, i) == 0);
    });
    other.join();
    CHECK(lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(log.values == std::vector<DWORD_PTR>{1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);
    CHECK(lwsp_close_thread(&me) == 0);
    g_log = nullptr;
    CHECK(g_thread_failed_line.load() == 0);
}

namespace {
WSATHREADID g_self{};
void CALLBACK requeue_apc(DWORD_PTR ctx) {
    log_apc(ctx);
    CHECK(lwsp_queue_apc(&g_self, log_apc, ctx + 100) == 0);
    // A nested alertable wait inside an APC runs what was queued since.
    if (ctx == 2) {
        CHECK(lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION);
    }
}
}  // namespace

TEST_CASE("upcalls: an APC queued by an APC runs in the next alertable wait", "[upcalls]") {
    apc_log log;
    g_log = &log;
    REQUIRE(lwsp_open_current_thread(&g_self) == 0);
    CHECK(lwsp_queue_apc(&g_self, requeue_apc, 1) == 0);
    CHECK(lwsp_queue_apc(&g_self, log_apc, 7) == 0);
    events ev(1);
    CHECK(lwsp_wait_for_multiple_events(1, ev.h.data(), FALSE, 0, TRUE) == WSA_WAIT_IO_COMPLETION);
    CHECK(log.values == std::vector<DWORD_PTR>{1, 7});
    CHECK(lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(log.values == std::vector<DWORD_PTR>{1, 7, 101});
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);

    // Nested: the APC with ctx 2 waits alertably itself and so runs 102.
    log.values.clear();
    CHECK(lwsp_queue_apc(&g_self, requeue_apc, 2) == 0);
    CHECK(lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(log.values == std::vector<DWORD_PTR>{2, 102});
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);
    CHECK(lwsp_close_thread(&g_self) == 0);
    g_log = nullptr;
}

TEST_CASE("upcalls: APCs to an exited thread never run and close frees its queue", "[upcalls]") {
    g_thread_failed_line = 0;
    g_counter = 0;
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);  // this thread's own state exists before counting
    const std::size_t before = live_thread_states();
    WSATHREADID id{};
    latch opened;
    latch may_exit;
    std::thread t([&] {
        THREAD_CHECK(lwsp_open_current_thread(&id) == 0);
        opened.release();
        THREAD_CHECK(may_exit.wait(10s));
        // A non-alertable wait: the pending APC does not run.
        THREAD_CHECK(lwsp_sleep_ex(10, FALSE) == 0);
    });
    REQUIRE(opened.wait(10s));
    CHECK(lwsp_queue_apc(&id, count_apc, 1) == 0);  // pending when the thread exits
    may_exit.release();
    t.join();
    CHECK(live_thread_states() == before + 1);      // kept by the open id
    CHECK(lwsp_queue_apc(&id, count_apc, 1) == 0);  // accepted, never runs
    CHECK(lwsp_queue_apc(&id, count_apc, 1) == 0);
    CHECK(lwsp_sleep_ex(0, TRUE) == 0);  // not this thread's APCs
    CHECK(g_counter.load() == 0);
    CHECK(lwsp_close_thread(&id) == 0);
    CHECK(live_thread_states() == before);
    CHECK(lwsp_queue_apc(&id, count_apc, 1) == WSA_INVALID_HANDLE);
    CHECK(g_counter.load() == 0);
    CHECK(g_thread_failed_line.load() == 0);
}

// ---------------------------------------------------------------------------
// Socket handles

TEST_CASE("upcalls: socket handles carry their context until closed", "[upcalls]") {
    WSPUPCALLTABLE t{};
    lwsp_default_upcalls(&t);
    int err = 0;
    const SOCKET a = lwsp_create_socket_handle(1001, 0xabcdef, &err);
    const SOCKET b = t.lpWPUCreateSocketHandle(1001, 0x123, &err);
    REQUIRE(a != INVALID_SOCKET);
    REQUIRE(b != INVALID_SOCKET);
    CHECK(a != 0);
    CHECK(b != 0);
    CHECK(a != b);

    DWORD_PTR ctx = 0;
    CHECK(lwsp_query_socket_handle_context(a, &ctx, &err) == 0);
    CHECK(ctx == 0xabcdef);
    CHECK(t.lpWPUQuerySocketHandleContext(b, &ctx, &err) == 0);
    CHECK(ctx == 0x123);
    err = 0;
    CHECK(lwsp_query_socket_handle_context(a, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEFAULT);

    CHECK(lwsp_close_socket_handle(a, &err) == 0);
    ctx = 7;
    err = 0;
    CHECK(lwsp_query_socket_handle_context(a, &ctx, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);
    CHECK(ctx == 7);
    err = 0;
    CHECK(lwsp_close_socket_handle(a, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);
    err = 0;
    CHECK(t.lpWPUCloseSocketHandle(a, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);

    // b unaffected; then closed through the table.
    CHECK(lwsp_query_socket_handle_context(b, &ctx, &err) == 0);
    CHECK(ctx == 0x123);
    CHECK(t.lpWPUCloseSocketHandle(b, &err) == 0);
    err = 0;
    CHECK(t.lpWPUQuerySocketHandleContext(b, &ctx, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);

    // Made-up handles and handles of other kinds.
    const WSAEVENT ev = lwsp_create_event();
    REQUIRE(ev != WSA_INVALID_EVENT);
    for (SOCKET bad :
         {static_cast<SOCKET>(0), INVALID_SOCKET, static_cast<SOCKET>(12345), reinterpret_cast<SOCKET>(ev)}) {
        err = 0;
        CHECK(lwsp_query_socket_handle_context(bad, &ctx, &err) == SOCKET_ERROR);
        CHECK(err == WSAENOTSOCK);
        err = 0;
        CHECK(lwsp_close_socket_handle(bad, nullptr) == SOCKET_ERROR);  // err may be NULL
    }
    CHECK(lwsp_close_event(ev) == TRUE);

    // A reused slot does not answer to the old handle.
    const SOCKET c = lwsp_create_socket_handle(1, 5, nullptr);
    REQUIRE(c != INVALID_SOCKET);
    CHECK(c != a);
    CHECK(c != b);
    CHECK(lwsp_query_socket_handle_context(a, &ctx, &err) == SOCKET_ERROR);
    CHECK(lwsp_close_socket_handle(c, nullptr) == 0);
}

TEST_CASE("upcalls: many socket handles are distinct and valid", "[upcalls]") {
    std::vector<SOCKET> handles;
    for (DWORD_PTR i = 0; i < 1000; ++i) {
        int err = 0;
        const SOCKET s = lwsp_create_socket_handle(1, i, &err);
        REQUIRE(s != INVALID_SOCKET);
        REQUIRE(s != 0);
        handles.push_back(s);
    }
    for (std::size_t i = 0; i < handles.size(); ++i) {
        DWORD_PTR ctx = 0;
        int err = 0;
        REQUIRE(lwsp_query_socket_handle_context(handles[i], &ctx, &err) == 0);
        CHECK(ctx == i);
    }
    for (SOCKET s : handles) CHECK(lwsp_close_socket_handle(s, nullptr) == 0);
}

// ---------------------------------------------------------------------------
// Concurrency (meant for ThreadSanitizer)

TEST_CASE("upcalls: concurrent sets waits and APCs", "[upcalls]") {
    g_thread_failed_line = 0;
    events ev(4);
    std::atomic<bool> stop{false};
    std::atomic<int> apcs_run{0};
    struct target {
        WSATHREADID id{};
        latch opened;
    };
    target targets[2];
    std::vector<std::thread> threads;

    // Waiters: alertable waits on all four events, counting APCs.
    for (auto& tg : targets) {
        threads.emplace_back([&ev, &stop, &tg] {
            THREAD_CHECK(lwsp_open_current_thread(&tg.id) == 0);
            tg.opened.release();
            while (!stop.load()) {
                const DWORD r = lwsp_wait_for_multiple_events(4, ev.h.data(), FALSE, 5, TRUE);
                THREAD_CHECK((r < 4 || r == WSA_WAIT_TIMEOUT || r == WSA_WAIT_IO_COMPLETION));
            }
            // Drain what is left.
            while (lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION) {
            }
        });
    }
    for (auto& tg : targets) CHECK(tg.opened.wait(10s));

    // Setters and resetters.
    for (int k = 0; k < 2; ++k) {
        threads.emplace_back([&ev, &stop, k] {
            unsigned n = 0;
            while (!stop.load()) {
                const WSAEVENT e = ev[(n + static_cast<unsigned>(k)) % 4];
                if (k == 0) {
                    THREAD_CHECK(lwsp_set_event(e) == TRUE);
                } else {
                    THREAD_CHECK(lwsp_reset_event(e) == TRUE);
                }
                ++n;
                std::this_thread::yield();
            }
        });
    }
    // APC producers.
    static std::atomic<int>* s_run = nullptr;
    s_run = &apcs_run;
    const LPWSAUSERAPC bump = [](DWORD_PTR) { s_run->fetch_add(1); };
    std::atomic<int> queued{0};
    for (int k = 0; k < 2; ++k) {
        threads.emplace_back([&targets, &queued, &apcs_run, bump] {
            for (int i = 0; i < 200; ++i) {
                WSATHREADID copy = targets[i % 2].id;
                THREAD_CHECK(lwsp_queue_apc(&copy, bump, 0) == 0);
                queued.fetch_add(1);
                // Spread the APCs over the waits: every 16, let the targets
                // catch up to within 32 of everything queued so far.
                if (i % 16 == 0) THREAD_CHECK(eventually([&] { return apcs_run.load() + 32 >= queued.load(); }, 10s));
            }
        });
    }
    // Create/close churn on unrelated events and socket handles.
    threads.emplace_back([&stop] {
        while (!stop.load()) {
            const WSAEVENT e = lwsp_create_event();
            THREAD_CHECK(e != WSA_INVALID_EVENT);
            THREAD_CHECK(lwsp_set_event(e) == TRUE);
            THREAD_CHECK(lwsp_wait_for_multiple_events(1, &e, TRUE, 0, FALSE) == WSA_WAIT_EVENT_0);
            THREAD_CHECK(lwsp_close_event(e) == TRUE);
            const SOCKET s = lwsp_create_socket_handle(1, 2, nullptr);
            THREAD_CHECK(lwsp_close_socket_handle(s, nullptr) == 0);
        }
    });

    // Every APC queued and run while the setters, resetters and churn go on.
    CHECK(eventually([&] { return queued.load() == 400 && apcs_run.load() == 400; }, 20s));
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(queued.load() == 400);
    CHECK(apcs_run.load() == 400);  // every APC ran, on its own thread (both drained before exit)
    for (auto& tg : targets) CHECK(lwsp_close_thread(&tg.id) == 0);
    CHECK(g_thread_failed_line.load() == 0);
}
