// Internal: the state behind lwsp::stack, shared by stack.cpp and
// lwip_sys.cpp (sys_now, the core-lock assertion).  Not installed.
#pragma once

#include <array>
#include <atomic>
#include <random>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#if !LWSP_BARE_METAL
#include <thread>
#endif

#include "block_cache.hpp"
#include "lwsp/stack.hpp"

namespace lwsp {

class interface;

struct stack::impl {
    impl(stack& self, const options& o);  // out of line: `interface` is complete only in stack.cpp
    ~impl();

    // The internals of `s`, for the stack's own translation units (a member
    // of a nested class may use stack's private members).
    static impl& of(stack& s) { return *s.impl_; }

    stack& self;
    options opts;

    // The core lock is stack::core_mu_ (`core` below); the fields marked
    // LWSP_GUARDED_BY(core) are its state.
    mutex& core;
    std::atomic<platform::thread_id> owner{};  // thread holding the core lock, for LWIP_ASSERT_CORE_LOCKED

    const std::uint64_t t0_ms = platform::now_ms();  // the stack clock's zero, on the platform clock
    platform::atomic<std::uint64_t> manual_now{0};

    std::atomic<bool> stopping{false};  // written under the core lock; read anywhere
    // lwIP memory for an inbound frame (memory_limit's reserve)
    bool allocating_inbound LWSP_GUARDED_BY(core) = false;
    std::atomic<long> refs{1};                  // the owner's reference plus one per hold()
    std::mt19937_64 rng LWSP_GUARDED_BY(core);  // lwIP's LWIP_RAND (ephemeral ports)
    std::array<std::uint64_t, 2> isn_key{};     // RFC 6528 secret, fixed at start
    bool stopped_done LWSP_GUARDED_BY(core) = false;
    // lwIP's freed blocks kept for reuse (options::heap_cache; lwip_sys.cpp).
    detail::block_cache heap LWSP_GUARDED_BY(core){opts.heap_cache};

#if !LWSP_BARE_METAL
    std::thread driver;  // hosted only: bare metal has the application's main loop
#endif
    platform::thread_id driver_id{};
    platform::condvar driver_cv;
    bool driver_kick LWSP_GUARDED_BY(core) = false;
    std::uint64_t driver_wake_at LWSP_GUARDED_BY(core) = UINT64_MAX;  // stack-clock ms the driver sleeps until

    std::vector<platform::condvar*> waiters LWSP_GUARDED_BY(core);  // threads inside wait()
    // Inline receive: the first attached link that offers it, and whether
    // a waiting thread is inside its receive_inline() (one at a time).
    std::shared_ptr<link> inline_link LWSP_GUARDED_BY(core);
    bool inline_busy LWSP_GUARDED_BY(core) = false;
#if !LWSP_BARE_METAL
    // What wakes the thread in receive_inline(); made with the first such
    // link, kept until the stack goes.
    std::unique_ptr<platform::waker> inline_waker LWSP_GUARDED_BY(core);
#endif
    // Also woken by any input or timer.
    std::vector<platform::condvar*> progress_waiters LWSP_GUARDED_BY(core);

    std::deque<std::function<void()>> deferred LWSP_GUARDED_BY(core);  // stack::defer
    bool draining LWSP_GUARDED_BY(core) = false;                       // a thread is running `deferred`

    std::map<interface_id, std::unique_ptr<interface>> interfaces LWSP_GUARDED_BY(core);
    interface_id next_interface LWSP_GUARDED_BY(core) = 1;

    std::uint64_t now_ms() const {
        if (opts.manual_clock) return manual_now.load(std::memory_order_relaxed);
        return platform::now_ms() - t0_ms;
    }
    // A stack-clock time on the platform clock (condvar deadlines).
    std::uint64_t to_platform(std::uint64_t ms) const { return ms > UINT64_MAX - t0_ms ? UINT64_MAX : t0_ms + ms; }

    // Checks at run time that the calling thread holds the core lock, and
    // tells the thread-safety analysis so where it cannot see it (lwIP's
    // callbacks into the stack; `core` and stack::core() are one mutex).
    void assert_held() const LWSP_ASSERT_CAPABILITY(core);

    void mark_owner() { owner.store(platform::this_thread(), std::memory_order_relaxed); }
    void clear_owner() { owner.store(platform::thread_id{}, std::memory_order_relaxed); }

    // Called by a thread about to release the core lock (flushes links).
    void before_unlock() LWSP_REQUIRES(core);
    // Hands frames held back for merging (tx_offload) to their links; every
    // path that releases the core lock runs it first.
    void flush_links() LWSP_REQUIRES(core);
    // Runs deferred work; the core lock (`lk`) is held on entry and on
    // return, released while each item runs.  Returns how many items ran.
    std::size_t drain_deferred(std::unique_lock<platform::native_mutex>& lk) LWSP_REQUIRES(core);
    // Fires due lwIP timers (steady clock only) and drains loopback queues;
    // returns how many loopback passes it made.
    std::size_t run_due_work() LWSP_REQUIRES(core);
    // Bare metal: one turn of the loop, then the idle hook if nothing was
    // due (platform::set_loop_turn).
    static void loop_turn(std::uint64_t until_ms);
    void driver_main() LWSP_EXCLUDES(core);
    void notify_progress() LWSP_REQUIRES(core) {
        for (platform::condvar* cv : progress_waiters) cv->notify_all();
    }
    void release_all_pcbs() LWSP_REQUIRES(core);
    // Inline receive (wait_impl): sleeps in the inline link's
    // receive_inline() with `lk` released instead of on `cv`.  False if
    // there is no such link, another thread is using it, or it cannot wait
    // now: the caller sleeps on `cv`.
    bool wait_inline(std::unique_lock<platform::native_mutex>& lk, platform::condvar& cv,
                     std::uint64_t until_platform_ms) LWSP_REQUIRES(core);
    // Ends the calling thread's receive hold (stack::expect_answer): when
    // it lets the core lock go, reading what the device holds first, or,
    // without reading, before it sleeps on a condition variable.
    static void release_hold(bool read);
};

}  // namespace lwsp
