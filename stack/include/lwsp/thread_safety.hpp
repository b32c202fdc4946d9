// lwsp/thread_safety.hpp — locking the compiler checks.
//
// Clang's thread-safety analysis (-Wthread-safety) proves at compile time
// that every field marked LWSP_GUARDED_BY(m) is touched only with `m` held
// and every function marked LWSP_REQUIRES(m) is called with it held.  The
// macros expand to nothing for other compilers.  lwsp's own locks are
// `lwsp::mutex` (an annotated platform mutex, lwsp/platform.hpp) taken through `lwsp::lock_guard`
// or the relockable `lwsp::unique_lock`; the stack's core lock is
// `lwsp::core_lock` (lwsp/stack.hpp).  The lock order is in docs/design.md
// ("Locks"): the core lock first, then leaf locks, never a core lock while
// holding a leaf.
#pragma once

#include <mutex>

#include "lwsp/platform.hpp"

#if defined(__clang__)
#define LWSP_TSA(x) __attribute__((x))
#else
#define LWSP_TSA(x)
#endif

#define LWSP_CAPABILITY(name) LWSP_TSA(capability(name))
#define LWSP_SCOPED_CAPABILITY LWSP_TSA(scoped_lockable)
#define LWSP_GUARDED_BY(m) LWSP_TSA(guarded_by(m))
#define LWSP_PT_GUARDED_BY(m) LWSP_TSA(pt_guarded_by(m))
#define LWSP_REQUIRES(...) LWSP_TSA(requires_capability(__VA_ARGS__))
#define LWSP_EXCLUDES(...) LWSP_TSA(locks_excluded(__VA_ARGS__))
#define LWSP_ACQUIRE(...) LWSP_TSA(acquire_capability(__VA_ARGS__))
#define LWSP_RELEASE(...) LWSP_TSA(release_capability(__VA_ARGS__))
#define LWSP_RETURN_CAPABILITY(m) LWSP_TSA(lock_returned(m))
#define LWSP_ASSERT_CAPABILITY(m) LWSP_TSA(assert_capability(m))
// For the few functions whose locking the analysis cannot follow (a lock
// released and taken again through a std::unique_lock for a condition
// variable); each use says why.
#define LWSP_NO_THREAD_SAFETY_ANALYSIS LWSP_TSA(no_thread_safety_analysis)

namespace lwsp {

// The platform's mutex (lwsp/platform.hpp: std::mutex when hosted),
// visible to the analysis.
class LWSP_CAPABILITY("mutex") mutex {
public:
    void lock() LWSP_ACQUIRE() { m_.lock(); }
    void unlock() LWSP_RELEASE() { m_.unlock(); }
    // For condition variables, which wait on the native mutex itself.
    platform::native_mutex& native() { return m_; }

private:
    platform::native_mutex m_;
};

class LWSP_SCOPED_CAPABILITY lock_guard {
public:
    explicit lock_guard(mutex& m) LWSP_ACQUIRE(m) : m_(m) { m.lock(); }
    ~lock_guard() LWSP_RELEASE() { m_.unlock(); }
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;

private:
    mutex& m_;
};

// A relockable scope: for waits on a condition variable (`native()` is the
// std::unique_lock a platform::condvar takes).
class LWSP_SCOPED_CAPABILITY unique_lock {
public:
    explicit unique_lock(mutex& m) LWSP_ACQUIRE(m) : lk_(m.native()) {}
    ~unique_lock() LWSP_RELEASE() {}
    unique_lock(const unique_lock&) = delete;
    unique_lock& operator=(const unique_lock&) = delete;
    void lock() LWSP_ACQUIRE() { lk_.lock(); }
    void unlock() LWSP_RELEASE() { lk_.unlock(); }
    std::unique_lock<platform::native_mutex>& native() { return lk_; }

private:
    std::unique_lock<platform::native_mutex> lk_;
};

}  // namespace lwsp
