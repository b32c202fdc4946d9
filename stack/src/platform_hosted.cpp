// The hosted platform (lwsp/platform.hpp): Linux and Windows, C++ threads
// and the steady clock.
#include <chrono>
#include <new>
#include <random>
#include <stdexcept>
#include <thread>

#include "lwsp/platform.hpp"

#if defined(_WIN32)
#include <windows.h>
#else
#include <pthread.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

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

waker::~waker() {
#if !defined(_WIN32)
    if (fd_ >= 0) ::close(fd_);
#endif
}

void waker::signal() {
#if defined(__linux__)
    const thread_id by = armed_by_.exchange(thread_id{});
    if (by == thread_id{} || by == this_thread()) return;
    const std::uint64_t one = 1;
    // Fails only when the count is full, and then the handle is readable.
    [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
#endif
}

void waker::consume() {
#if defined(__linux__)
    std::uint64_t count = 0;
    // Nonblocking: EAGAIN if nothing was signalled.
    [[maybe_unused]] const ssize_t n = ::read(fd_, &count, sizeof count);
#endif
}

std::unique_ptr<waker> make_waker() {
#if defined(__linux__)
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return nullptr;
    auto w = std::unique_ptr<waker>(new (std::nothrow) waker(fd));
    if (!w) ::close(fd);
    return w;
#else
    return nullptr;
#endif
}

#if defined(_WIN32)

namespace {
// What a fiber-local slot holds: the value and its slot's cleanup (the
// callback receives only the slot's content).
struct slot_entry {
    thread_slot::cleanup_fn cleanup;
    void* value;
};
void WINAPI run_slot_cleanup(void* p) {
    auto* e = static_cast<slot_entry*>(p);
    if (e == nullptr) return;
    if (e->value != nullptr) e->cleanup(e->value);
    delete e;
}
}  // namespace

thread_slot::thread_slot(cleanup_fn cleanup) : cleanup_(cleanup) {
    const DWORD index = FlsAlloc(&run_slot_cleanup);
    if (index == FLS_OUT_OF_INDEXES) throw std::runtime_error("lwsp: out of fiber-local storage indexes");
    key_ = index;
}

void* thread_slot::get() const {
    const auto* e = static_cast<const slot_entry*>(FlsGetValue(static_cast<DWORD>(key_)));
    return e != nullptr ? e->value : nullptr;
}

bool thread_slot::set(void* value) {
    auto* e = static_cast<slot_entry*>(FlsGetValue(static_cast<DWORD>(key_)));
    if (e == nullptr) {
        e = new (std::nothrow) slot_entry{cleanup_, nullptr};
        if (e == nullptr) return false;
        if (!FlsSetValue(static_cast<DWORD>(key_), e)) {
            delete e;
            return false;
        }
    }
    e->value = value;
    return true;
}

#else

thread_slot::thread_slot(cleanup_fn cleanup) : cleanup_(cleanup) {
    pthread_key_t key{};
    if (pthread_key_create(&key, cleanup_) != 0) throw std::runtime_error("lwsp: out of thread-specific keys");
    key_ = static_cast<std::uintptr_t>(key);
}

void* thread_slot::get() const { return pthread_getspecific(static_cast<pthread_key_t>(key_)); }

bool thread_slot::set(void* value) { return pthread_setspecific(static_cast<pthread_key_t>(key_), value) == 0; }

#endif

}  // namespace lwsp::platform
