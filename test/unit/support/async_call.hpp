// async_call.hpp — running a blocking call in its own thread, and waiting
// for a condition, always with a real-time bound so no test can hang CI.
//
// Tests synchronise on conditions, never on sleeps: a call that must be
// blocked before the test acts is waited for with blocked() (the stack
// counts the threads inside its wait), a frame with memlink::wait_for, a
// state the code under test sets with eventually().  A real-time bound only
// ends a wait that a broken stack would make endless; no passing test
// depends on it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>

#include "lwsp/stack.hpp"

namespace lwsp::test {

// Polls `f` until it holds or `limit` of real time has passed.  (The 1 ms
// pause between looks only paces the polling; what is waited for is `f`.)
inline bool eventually(const std::function<bool()>& f,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!f()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// A negative check: true if `f` stays false for `watch` of real time.  Made
// after the change that must not make `f` true, and, where another thread
// could make it true, only once that thread is known to be blocked
// (blocked()).  A buggy stack makes it true at once; a correct one never
// depends on this bound.
inline bool stays_false(const std::function<bool()>& f,
                        std::chrono::milliseconds watch = std::chrono::milliseconds(20)) {
    return !eventually(f, watch);
}

// Waits until `threads` threads are blocked in `st` — inside stack::wait()
// or wait_progress(), where every blocking WSP call waits — or until
// `returned()` (if given) says the call under test came back instead, so
// that a call that wrongly returns fails at once rather than after the
// bound.  True when blocked: each counted thread has found its condition
// false and sleeps, or re-checks it before it sleeps, so a change the test
// makes now (under the core lock, as every change is) reaches it.
inline bool blocked(lwsp::stack& st, std::size_t threads = 1, const std::function<bool()>& returned = {},
                    std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const bool reached = eventually([&] { return (returned && returned()) || st.waiting_threads() == threads; }, limit);
    return reached && !(returned && returned());
}

// A call in its own thread.  The result lives in shared state, so a call
// still blocked when a failed test unwinds can finish later (it is then
// detached; the environment's cleanup wakes it).
template <class R>
class async_call {
public:
    explicit async_call(std::function<R()> fn) : state_(std::make_shared<shared>()) {
        std::shared_ptr<shared> st = state_;
        thread_ = std::thread([st, fn = std::move(fn)] {
            st->result = fn();
            st->done.store(true);
        });
    }
    ~async_call() {
        if (wait())
            thread_.join();
        else
            thread_.detach();
    }
    async_call(const async_call&) = delete;
    async_call& operator=(const async_call&) = delete;

    bool done() const { return state_->done.load(); }
    bool wait(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) const {
        return eventually([this] { return done(); }, limit);
    }
    const R& result() const { return state_->result; }  // only after done()

private:
    struct shared {
        std::atomic<bool> done{false};
        R result{};
    };
    std::shared_ptr<shared> state_;
    std::thread thread_;
};

// blocked() for the one call `call` (and `threads` - 1 others already
// blocked).
template <class R>
bool blocked(lwsp::stack& st, const async_call<R>& call, std::size_t threads = 1) {
    return blocked(st, threads, [&call] { return call.done(); });
}

}  // namespace lwsp::test
