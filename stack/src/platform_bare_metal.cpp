// The bare-metal platform (lwsp/platform.hpp): one thread, the
// application's main loop, its clock, idle and random hooks (lwsp/stack.h).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "lwsp/platform.hpp"

namespace lwsp::platform {

namespace {
unsigned long long (*g_clock)() = nullptr;
void (*g_idle)(unsigned long long) = nullptr;
void (*g_random)(void*, std::size_t) = nullptr;
loop_turn g_turn = nullptr;
}  // namespace

void native_mutex::lock() {
    if (held_) {
        std::fputs("lwsp: a lock was taken twice by the one thread of a bare-metal build\n", stderr);
        std::abort();
    }
    held_ = true;
}

std::uint64_t now_ms() { return g_clock != nullptr ? g_clock() : 0; }

void set_clock(unsigned long long (*now)()) { g_clock = now; }
bool has_clock() { return g_clock != nullptr; }
void set_idle(void (*idle_hook)(unsigned long long)) { g_idle = idle_hook; }
void set_random(void (*fill)(void*, std::size_t)) { g_random = fill; }
void set_loop_turn(loop_turn turn) { g_turn = turn; }

void idle(std::uint64_t until_ms) {
    if (g_idle != nullptr && until_ms > now_ms()) g_idle(until_ms);
}

std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    if (g_random != nullptr) g_random(&seed, sizeof seed);
    return seed;
}

namespace {
void turn(std::uint64_t until_ms) {
    if (g_turn != nullptr)
        g_turn(until_ms);
    else
        idle(until_ms);
}
}  // namespace

void yield() { turn(now_ms()); }

void condvar::wait(std::unique_lock<native_mutex>& lk) {
    lk.unlock();
    turn(UINT64_MAX);
    lk.lock();
}

void condvar::wait_until(std::unique_lock<native_mutex>& lk, std::uint64_t deadline_ms) {
    lk.unlock();
    turn(deadline_ms);
    lk.lock();
}

thread_slot::thread_slot(cleanup_fn cleanup) : cleanup_(cleanup) { (void)cleanup_; }  // the one thread never exits

void* thread_slot::get() const { return value_; }

bool thread_slot::set(void* value) {
    value_ = value;
    return true;
}

}  // namespace lwsp::platform
