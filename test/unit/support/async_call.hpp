// async_call.hpp — running a blocking call in its own thread, and waiting
// for a condition, always with a real-time bound so no test can hang CI.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace lwsp::test {

// Polls `f` until it holds or `limit` of real time has passed.
inline bool eventually(const std::function<bool()>& f,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!f()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
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

}  // namespace lwsp::test
