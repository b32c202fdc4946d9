// lwsp/stack.hpp — the stack core: one lwIP instance per process, its core
// lock, its clock and timers, and the network interfaces attached to it.
//
// Plugging in: construct one `stack`, attach each port's `link` with its
// addresses (`attach`), use endpoints or the WSP shim on top, destroy (or
// `stop`) the stack when done.  A loopback interface (127.0.0.1, ::1) always
// exists, so sockets of one stack can talk with no port at all.
//
// Threading: every call into lwIP happens with the core lock held (`lock()`).
// On a hosted platform (lwsp/platform.hpp) the stack runs a driver thread
// that fires lwIP's timers (sleeping exactly until the next one is due) and
// drains loopback queues; ports deliver frames from their own threads
// through `link_sink`, which takes the same lock.  Blocking callers wait
// with `wait()`, which releases the lock while sleeping and returns early
// when the stack stops.  On bare metal there is no driver thread: the
// application's main loop calls `poll()`, and every `wait()` runs the same
// turn of the loop until its condition holds.
//
// Time: the stack owns one clock.  By default it is a steady clock; with
// `options::manual_clock` time stands still until `advance_time()` moves it,
// running every lwIP timer that falls due on the way — tests run a 30-second
// linger in microseconds, the same way every time.
//
// lwIP keeps its state in globals: only one stack may exist at a time in a
// process (a second constructor throws).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lwsp/address.hpp"
#include "lwsp/link.hpp"
#include "lwsp/platform.hpp"
#include "lwsp/thread_safety.hpp"

namespace lwsp {

using millis = std::chrono::milliseconds;

struct ipv4_config {
    ipv4_address address;
    ipv4_address netmask;
    ipv4_address gateway;  // 0.0.0.0: none
};

struct interface_config {
    std::optional<ipv4_config> ipv4;
    // Global or unique-local addresses; a link-local address derived from the
    // MAC is always added.  At most two (lwIP keeps three per interface).
    std::vector<ipv6_address> ipv6;
    // Make this interface the default route.
    bool default_route = true;
};

using interface_id = int;

// Counts of live lwIP objects, for leak checks and memory benchmarks.
struct stack_stats {
    std::size_t tcp_pcbs = 0;  // all TCP pcbs, LISTEN and TIME_WAIT included
    std::size_t tcp_listen_pcbs = 0;
    std::size_t tcp_time_wait_pcbs = 0;
    std::size_t udp_pcbs = 0;
    std::size_t pbufs = 0;       // pool pbufs in use (PBUF_RAM pbufs count in heap_bytes)
    std::size_t heap_bytes = 0;  // lwIP heap bytes in use, its timer entries excluded
    std::size_t timers = 0;      // lwIP timeouts queued
    std::size_t tcp_segments = 0;
    std::size_t heap_cached_bytes = 0;  // freed lwIP blocks kept for reuse (options::heap_cache)
};

class stack;
class core_lock;

class stack {
public:
    struct options {
        bool manual_clock = false;
        // Start value of the manual clock (ms).
        std::uint64_t manual_clock_start = 0;
        // At most this many bytes of lwIP memory (connections, segments,
        // buffers, reassembly; 0: no limit beyond the process's).  Beyond
        // it calls fail WSAENOBUFS and the stack recovers as memory is
        // freed.  Inbound frames may go an eighth beyond it (at least
        // 64 KiB), so the acknowledgements that free memory still get in;
        // past that they are dropped, as a NIC out of buffers drops them.
        std::size_t memory_limit = 0;
        // Seeds the stack's secrets: the key of its initial sequence numbers
        // (RFC 6528) and its choice of ephemeral ports.  0: a seed from the
        // system's random source.  Set it to make a run repeat exactly
        // (tests, fuzzing); never in production.
        std::uint64_t random_seed = 0;
        // Freed lwIP blocks (segments, buffers, pcbs) kept for reuse, up to
        // this many bytes, instead of going back to malloc at once: glibc
        // returns the memory of a burst to the kernel and faults it in again
        // for the next one, which cost two thirds of the send rate at large
        // MTUs.  0: none.  Sanitizer builds default to 0, so that a use of
        // freed lwIP memory is caught where it happens.
        std::size_t heap_cache = default_heap_cache;
        // Inline receive (hosted): a thread about to block in a WSP call
        // waits on a link's device itself when the link offers it
        // (link::receive_inline), so a reply wakes it directly instead of
        // through the port's thread.  Off: it sleeps until the port's thread
        // delivers.  See docs/design.md, "Inline receive".
        bool inline_receive = true;
#if defined(__SANITIZE_ADDRESS__)
        static constexpr std::size_t default_heap_cache = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
        static constexpr std::size_t default_heap_cache = 0;
#else
        static constexpr std::size_t default_heap_cache = std::size_t{4} << 20;
#endif
#else
        static constexpr std::size_t default_heap_cache = std::size_t{4} << 20;
#endif
    };

    enum class wait_status { ready, timed_out, stopped };

    stack();
    explicit stack(const options& opts);
    ~stack();
    stack(const stack&) = delete;
    stack& operator=(const stack&) = delete;

    // The running stack of this process, or nullptr.
    static stack* current();

    // Stops the driver thread, detaches every interface (ports stopped),
    // releases every lwIP pcb without sending anything, and wakes every
    // thread blocked in wait().  Afterwards current() no longer returns this
    // stack, and a new one may be created.  Idempotent; the destructor calls
    // it.
    void stop();
    // Lock-free: the stack is stopping or stopped; new work fails
    // (network down).
    bool stopped() const;
    // Under the core lock: stop() has freed every lwIP pcb, without telling
    // the owners of listeners and UDP pcbs.  Endpoints check it before they
    // touch a pcb.  Between stopped() and this, pcbs still exist (they go
    // when their interface is detached or at the end of stop()), and an
    // endpoint that lets go of one must clear its callbacks.
    bool pcbs_released() const;

    // Objects that outlive their calls and keep pointing at the stack (the
    // shim's sockets) hold it: hold() counts one user, release() drops it,
    // never with the core lock held (stack_hold does both).  retire() is for
    // an owner that stops a stack while such users may remain (the C API's
    // lwsp_stop): it stops the stack now and deletes it when its last user
    // releases it — at once if there is none.  A stack owned any other way
    // must outlive its users.
    void hold();
    void release();
    static void retire(std::unique_ptr<stack> s);
    // Stack objects alive in this process, stopped ones included.
    static std::size_t objects();

    // Adds an interface for `l` and starts the link.  The stack shares
    // ownership of the link until the interface is detached (detach() or
    // stop()), so the application may drop its own reference, or destroy
    // its objects in any order.  Throws std::invalid_argument for a null
    // link or a bad config and std::runtime_error if lwIP refuses the
    // interface.
    interface_id attach(std::shared_ptr<link> l, const interface_config& cfg);
    // Removes the interface, stops its link and releases the stack's
    // reference to it.  Unknown ids are ignored.
    void detach(interface_id id);

    // The stack clock (ms since the stack started, or the manual value).
    millis now() const;
    // Manual clock only: moves time forward by `d`, running every lwIP timer
    // due on the way at its exact time, then wakes waiters whose deadline
    // passed.  Throws std::logic_error on a steady-clock stack.
    void advance_time(millis d);
    bool manual_clock() const;
    const options& settings() const;

    core_lock lock();
    // The core lock's mutex, for the thread-safety analysis
    // (lwsp/thread_safety.hpp): what the stack's guarded state and the
    // shim's sockets are guarded by.
    mutex& core() LWSP_RETURN_CAPABILITY(core_mu_) { return core_mu_; }
    // Aborts unless the calling thread holds the core lock; tells the
    // analysis so where it cannot see it (callbacks from inside lwIP).
    void assert_core_held() const LWSP_ASSERT_CAPABILITY(core_mu_);

    // Waits on `cv` (with `lk` held on entry and on return) until `ready()`
    // is true, the stack clock reaches `deadline`, or the stack stops.
    // Whoever makes `ready()` true must notify `cv` under the core lock.
    wait_status wait(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                     std::optional<millis> deadline = std::nullopt) LWSP_REQUIRES(core());

    // Like wait(), but `ready()` is also re-checked after every inbound frame
    // and every timer run: for conditions lwIP reports through no callback
    // (an ACK that covers only our FIN, for instance).
    wait_status wait_progress(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                              std::optional<millis> deadline = std::nullopt) LWSP_REQUIRES(core());

    // Queues `work` to run right after the core lock is next released, in
    // the releasing thread, in FIFO order, one item at a time (never two
    // concurrently).  For user code that must not run under the lock:
    // completion routines, event signals, upcalls into ws2.  Call with the
    // core lock held.
    void defer(std::function<void()> work) LWSP_REQUIRES(core());

    // Wakes every thread blocked in wait() so it re-checks its condition.
    // Call with the core lock held.
    void wake_all_waiters() LWSP_REQUIRES(core());
    // Called before sending a segment the peer's TCP answers at once (a
    // SYN, a FIN, a connection's first data): the answer is for this thread
    // to read.  With inline
    // receive, the link's receive side is held (link::hold_receive) until
    // this thread releases the core lock, when it reads what arrived, or
    // waits on the device for it; the port's own thread is not woken for
    // it.  A peer on the same host answers inside the write.  Call with the
    // core lock held (checked at run time: endpoints are called from inside
    // lwIP, where the analysis cannot see the lock).
    void expect_answer();
    // Threads inside wait() or wait_progress() right now (takes the core
    // lock): a thread counted here has released the lock to sleep, or will
    // re-check its condition before it does — what a test waits for before
    // it changes the state a blocked call depends on.
    std::size_t waiting_threads();

    // One turn of the main loop, without sleeping: polls every link that
    // polls (link::poll), runs due lwIP timers and loopback traffic, and
    // runs deferred work.  Returns how many frames and items it handled (0:
    // nothing was due).  Bare metal: what lwsp_poll() and every wait() run.
    // Hosted: the driver thread does the same work; calling it is harmless.
    std::size_t poll() LWSP_EXCLUDES(core());
    // Time until poll() has timed work to do (0: now), or nullopt when
    // nothing is scheduled and only input can create work.
    std::optional<millis> next_deadline() LWSP_EXCLUDES(core());

    stack_stats stats();
    // Gives the lwIP blocks kept for reuse (options::heap_cache) back to
    // malloc now, e.g. after a burst, or before measuring the process heap.
    void release_heap_cache();

    // The state behind the stack, defined in a private header of the
    // library (stack/src/stack_impl.hpp, not installed): its own
    // translation units reach it with stack::impl::of(stack&).
    struct impl;

private:
    friend class core_lock;
    mutex core_mu_;  // the core lock
    wait_status wait_impl(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                          std::optional<millis> deadline, bool on_progress) LWSP_REQUIRES(core());
    std::unique_ptr<impl> impl_;
};

// The core lock.  Holding one means the thread may call lwIP.  Releasing it
// (destructor or unlock) lets the driver thread notice work the holder
// created: an earlier timer, loopback packets to deliver.
class LWSP_SCOPED_CAPABILITY core_lock {
public:
    explicit core_lock(stack& s) LWSP_ACQUIRE(s.core());
    ~core_lock() LWSP_RELEASE();
    core_lock(const core_lock&) = delete;
    core_lock& operator=(const core_lock&) = delete;
    void unlock() LWSP_RELEASE();
    void lock() LWSP_ACQUIRE();
    bool owns_lock() const { return lk_.owns_lock(); }

private:
    friend class stack;
    stack* stack_;
    std::unique_lock<platform::native_mutex> lk_;
};

// Not annotated: the analysis cannot follow a scope returned by value (a
// caller of lock() holds the core lock while its core_lock lives).
inline core_lock stack::lock() { return core_lock(*this); }

// A counted reference to a stack (stack::hold/release).
class stack_hold {
public:
    explicit stack_hold(stack& s) : stack_(&s) { s.hold(); }
    ~stack_hold() { stack_->release(); }
    stack_hold(const stack_hold&) = delete;
    stack_hold& operator=(const stack_hold&) = delete;
    stack& get() const { return *stack_; }

private:
    stack* stack_;
};

}  // namespace lwsp
