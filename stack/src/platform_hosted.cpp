// The hosted platform (lwsp/platform.hpp): Linux and Windows, C++ threads
// and the steady clock.
#include <chrono>
#include <random>
#include <thread>

#include "lwsp/platform.hpp"

namespace lwsp::platform {

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

bool has_clock() { return true; }

void idle(std::uint64_t) {}

void yield() { std::this_thread::yield(); }

std::uint64_t random_seed() {
    std::random_device dev;
    return (static_cast<std::uint64_t>(dev()) << 32) ^ dev();
}

void condvar::wait_until(std::unique_lock<native_mutex>& lk, std::uint64_t deadline_ms) {
    const std::chrono::steady_clock::time_point at{std::chrono::milliseconds(deadline_ms)};
    cv_.wait_until(lk, at);
}

}  // namespace lwsp::platform
