// lwsp/platform.hpp — the platform seam: everything the stack core and the
// shim need from the operating system, in one place.
//
//   native_mutex     the lock type under lwsp::mutex (the core lock, the
//                    shim's own locks)
//   condvar          wait / wait until a deadline / notify, on a
//                    std::unique_lock<native_mutex>
//   now_ms()         the monotonic clock, milliseconds, any origin
//   thread_id        the calling thread's identity (core-lock owner, APC
//                    queues, the blocking hook); this_thread()
//   LWSP_THREAD_STORAGE  the keyword for per-thread variables (trivially
//                    destructible ones: see thread_slot)
//   thread_slot      a per-thread pointer with a cleanup at thread exit
//   atomic<T>        a value threads share (bare metal: a plain one)
//   yield()          give up the processor (Sleep(0))
//   random_seed()    64 bits for the stack's secrets
//   hosted           whether the stack runs a driver thread of its own
//   waker            (hosted) wakes a thread that waits on a device instead
//                    of its condition variable: inline receive
//
// Two implementations, chosen when lwsp is configured (LWSP_PLATFORM):
//
//   hosted (Linux, Windows): std::mutex, std::condition_variable, the
//     steady clock, std::thread; the stack starts a driver thread that runs
//     lwIP's timers, and ports run their own I/O threads.
//
//   bare_metal (firmware; LWSP_BARE_METAL=1): no threads and no OS.  The
//     mutex only checks that nobody re-enters it; a condition variable's
//     wait runs one turn of the stack's main loop (poll the links, run due
//     timers, deliver completions, or idle until the deadline) and returns,
//     which a condition variable may always do: every waiter re-checks its
//     condition.  So a blocking call runs the loop itself until its
//     condition, its deadline or a cancel, and behaves as on a host.  The
//     application gives the clock, the idle hook and the random source
//     through lwsp/stack.h.
//
// An RTOS port (docs/design.md, "Platform seam") maps native_mutex to a
// mutex with priority inheritance, condvar to a semaphore per waiter (or
// the RTOS's condition variable), now_ms to the tick counter, thread_id to
// the task handle, and keeps the hosted model: a driver task for the stack,
// a receive task per port.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>  // std::unique_lock and std::lock_guard (templates; no threads needed)

#if !defined(LWSP_BARE_METAL)
#define LWSP_BARE_METAL 0
#endif

#if !LWSP_BARE_METAL
#include <condition_variable>
#include <thread>
#endif

namespace lwsp::platform {

// The monotonic clock, in milliseconds from an arbitrary origin.
std::uint64_t now_ms();

// Gives up the processor for a moment (bare metal: one turn of the loop).
void yield();

// 64 random bits for the stack's secrets (bare metal: the application's
// source, lwsp_set_random; 0 if it gave none).
std::uint64_t random_seed();

// Whether now_ms() tells time (bare metal: the application gave a clock).
bool has_clock();

// Sleeps until `until_ms` or an interrupt, whichever comes first (bare
// metal: the application's idle hook, or nothing; hosted: nothing — threads
// sleep on their condition variables).
void idle(std::uint64_t until_ms);

// A per-thread pointer whose cleanup runs when a thread that set it to a
// non-null value exits, with that value.  Per-thread state that needs work
// at thread exit uses this instead of a thread_local object with a
// destructor: mingw-w64 runs thread_local destructors and frees the
// thread_local storage itself (emulated TLS) in no fixed order when a thread
// ends, so such a destructor could read freed memory (seen under Wine: a
// crash in every few hundred thread exits).  POSIX: a pthread key; Windows:
// fiber-local storage, whose callback runs at thread exit; bare metal: one
// value, never cleaned up (the one thread never exits).  A slot lives for
// the whole process: create it once and never destroy it.
class thread_slot {
public:
    using cleanup_fn = void (*)(void* value);
    explicit thread_slot(cleanup_fn cleanup);
    thread_slot(const thread_slot&) = delete;
    thread_slot& operator=(const thread_slot&) = delete;
    void* get() const;
    // False only when the platform is out of resources for it.
    bool set(void* value);

private:
    cleanup_fn cleanup_;
#if LWSP_BARE_METAL
    void* value_ = nullptr;  // the one thread's value
#else
    std::uintptr_t key_ = 0;  // the pthread key or the fiber-local index
#endif
};

#if LWSP_BARE_METAL

inline constexpr bool hosted = false;

class native_mutex {
public:
    void lock();  // aborts if the lock is already held: one thread re-entering is a bug
    void unlock() { held_ = false; }
    bool try_lock() {
        if (held_) return false;
        held_ = true;
        return true;
    }

private:
    bool held_ = false;
};

using thread_id = std::uintptr_t;  // 0: nobody
inline thread_id this_thread() { return 1; }
#define LWSP_THREAD_STORAGE /* one thread: plain statics */

// A value shared between threads on a host; here a plain value with
// std::atomic's interface (a 64-bit atomic needs a runtime that Cortex-M
// toolchains do not ship).
template <class T>
class atomic {
public:
    constexpr atomic(T v = T{}) : v_(v) {}  // NOLINT(google-explicit-constructor): as std::atomic
    T load(std::memory_order = std::memory_order_seq_cst) const { return v_; }
    void store(T v, std::memory_order = std::memory_order_seq_cst) { v_ = v; }
    operator T() const { return v_; }  // NOLINT(google-explicit-constructor)
    atomic& operator=(T v) {
        v_ = v;
        return *this;
    }
    T operator+=(T d) { return v_ += d; }

private:
    T v_;
};

class condvar {
public:
    void notify_one() {}
    void notify_all() {}
    // One turn of the main loop with `lk` released; idles at most until the
    // next timer.  Returns with `lk` held.
    void wait(std::unique_lock<native_mutex>& lk);
    // The same, idling at most until `deadline_ms` (now_ms's clock).
    void wait_until(std::unique_lock<native_mutex>& lk, std::uint64_t deadline_ms);
};

// The stack's turn of the main loop, which condvar waits run: set by the
// stack while it exists.  `until_ms`: the latest the turn may idle until.
using loop_turn = void (*)(std::uint64_t until_ms);
void set_loop_turn(loop_turn turn);
// The application's hooks (lwsp/stack.h).
void set_clock(unsigned long long (*now)());
void set_idle(void (*idle)(unsigned long long until_ms));
void set_random(void (*fill)(void* buf, std::size_t len));

#else

inline constexpr bool hosted = true;

using native_mutex = std::mutex;
using thread_id = std::thread::id;  // default-constructed: nobody
inline thread_id this_thread() { return std::this_thread::get_id(); }
#define LWSP_THREAD_STORAGE thread_local

template <class T>
using atomic = std::atomic<T>;

// Wakes a thread that sleeps on a device instead of on its condition
// variable (inline receive, link::receive_inline): a thread about to block
// arms the waker and attaches it to the condition variable it would have
// slept on; a notify on that condition variable then also signals the
// waker, whose handle() the thread waits on beside the device.  Linux: an
// eventfd (the stack has one: one thread at a time waits inline);
// elsewhere there is none (make_waker() returns null and threads sleep on
// their condition variables).
class waker {
public:
    explicit waker(int fd) : fd_(fd) {}
    ~waker();
    waker(const waker&) = delete;
    waker& operator=(const waker&) = delete;
    // A descriptor that poll() sees readable once the waker is signalled.
    int handle() const { return fd_; }
    // Armed by the thread that will wait on handle().
    void arm() { armed_by_.store(this_thread()); }
    void disarm() { armed_by_.store(thread_id{}); }
    // If armed: disarms and makes handle() readable.  Any thread; from the
    // waiting thread itself (it delivered what it waits for) it only
    // disarms: that thread re-checks its condition before it waits again.
    void signal();
    // Makes handle() unreadable again (the waiting thread, after a wake).
    void consume();

private:
    int fd_;
    std::atomic<thread_id> armed_by_{thread_id{}};
};

// A new waker; nullptr where the platform has none or it could not be made.
std::unique_ptr<waker> make_waker();

class condvar {
public:
    void notify_one() {
        cv_.notify_one();
        if (waker_ != nullptr) waker_->signal();
    }
    void notify_all() {
        cv_.notify_all();
        if (waker_ != nullptr) waker_->signal();
    }
    void wait(std::unique_lock<native_mutex>& lk) { cv_.wait(lk); }
    void wait_until(std::unique_lock<native_mutex>& lk, std::uint64_t deadline_ms);
    // The waker a thread waits on instead of this condition variable
    // (nullptr: none).  Set, cleared and notified with the mutex held.
    void attach(waker* w) { waker_ = w; }

private:
    std::condition_variable cv_;
    waker* waker_ = nullptr;
};

#endif

}  // namespace lwsp::platform
