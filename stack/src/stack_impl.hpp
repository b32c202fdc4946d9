// Internal: the state behind lwsp::stack, shared by stack.cpp and
// lwip_sys.cpp (sys_now, the core-lock assertion).  Not installed.
#pragma once

#include <array>
#include <atomic>
#include <random>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lwsp/stack.hpp"

namespace lwsp {

class interface;

struct stack::impl {
    impl(stack& self, const options& o);  // out of line: `interface` is complete only in stack.cpp
    ~impl();

    stack& self;
    options opts;

    std::mutex mu;                               // the core lock
    std::atomic<std::thread::id> owner{};       // thread holding `mu`, for LWIP_ASSERT_CORE_LOCKED

    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> manual_now{0};

    std::atomic<bool> stopping{false};           // written under mu; read anywhere
    bool allocating_inbound = false;             // under mu: lwIP memory for an inbound frame (memory_limit's reserve)
    std::atomic<long> refs{1};                   // the owner's reference plus one per hold()
    std::mt19937_64 rng;                         // under mu: lwIP's LWIP_RAND (ephemeral ports)
    std::array<std::uint64_t, 2> isn_key{};      // RFC 6528 secret, fixed at start
    bool stopped_done = false;                   // under mu

    std::thread driver;
    std::thread::id driver_id;
    std::condition_variable driver_cv;
    bool driver_kick = false;                    // under mu
    std::uint64_t driver_wake_at = UINT64_MAX;   // stack-clock ms the driver sleeps until

    std::vector<std::condition_variable*> waiters;           // under mu: threads inside wait()
    std::vector<std::condition_variable*> progress_waiters;  // under mu: also woken by any input or timer

    std::deque<std::function<void()>> deferred;  // under mu: stack::defer
    bool draining = false;                       // under mu: a thread is running `deferred`

    std::map<interface_id, std::unique_ptr<interface>> interfaces;  // under mu
    interface_id next_interface = 1;

    std::uint64_t now_ms() const {
        if (opts.manual_clock) return manual_now.load(std::memory_order_relaxed);
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<millis>(std::chrono::steady_clock::now() - t0).count());
    }
    std::chrono::steady_clock::time_point to_steady(std::uint64_t ms) const { return t0 + millis(ms); }

    void mark_owner() { owner.store(std::this_thread::get_id(), std::memory_order_relaxed); }
    void clear_owner() { owner.store(std::thread::id(), std::memory_order_relaxed); }

    // Called by a thread about to release the core lock (flushes links).
    void before_unlock();
    // Hands frames held back for merging (tx_offload) to their links; every
    // path that releases the core lock runs it first.
    void flush_links();
    // Runs deferred work; `lk` is held on entry and on return, released
    // while each item runs.
    void drain_deferred(std::unique_lock<std::mutex>& lk);
    // Fires due lwIP timers (steady clock only) and drains loopback queues.
    void run_due_work();
    void driver_main();
    void notify_progress() {
        for (std::condition_variable* cv : progress_waiters) cv->notify_all();
    }
    void release_all_pcbs();
};

}  // namespace lwsp
