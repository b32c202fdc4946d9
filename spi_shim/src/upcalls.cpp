// lwsp's own upcall table (lwsp/upcalls.h): events, alertable waits and
// APC queues, thread ids, socket handles, and the WPU* functions that
// lwsp_default_upcalls puts into a WSPUPCALLTABLE.
//
// Design
// - One process-wide mutex (g_mu) guards everything here: the three
//   handle tables, every event's state and waiter list, every thread's APC
//   queue.  It is a leaf lock: nothing else is locked while it is held, and
//   it is never held while user code (an APC) runs.
// - Handles: one handle table (handle_table.hpp, the provider's too) per
//   kind (event, thread, socket), all under the global mutex; the kind bits
//   keep an event handle from being mistaken for a thread or socket handle.
//   WSAEVENT and WSATHREADID.ThreadHandle carry the value as a pointer.
// - Waiting: every thread that uses lwsp has a thread_state (created on
//   first use, owned by a shared_ptr in a per-thread slot,
//   platform::thread_slot) with its own condition
//   variable and APC queue.  A wait registers a `waiter` (on its stack) on
//   each of its events.  lwsp_set_event evaluates each registered waiter's
//   condition under the mutex; a satisfied waiter is marked done with its
//   result and its thread's condition variable is notified.  The wait is
//   therefore satisfied atomically at the set (a set followed at once by a
//   reset still releases it) and a thread is woken only when its own wait
//   is satisfied.  lwsp_queue_apc notifies the target thread's condition
//   variable; the thread re-checks its queue if its wait is alertable.
// - APC queues: the thread_state is shared between the thread's slot and
//   every open WSATHREADID handle, so it outlives the thread while an id is
//   open.  At thread exit the slot's cleanup marks it exited and drops its
//   queue; later APCs are accepted and discarded.
// - The global state is allocated once and never freed, so thread-exit
//   cleanups that run during process exit still find it.
#include "lwsp/upcalls.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "fd_entries.hpp"
#include "handle_table.hpp"
#include "lwsp/thread_safety.hpp"

namespace lwsp::upcalls_detail {

// Test hooks (declared again by test/unit/upcalls_test.cpp):
// live thread_state objects (a closed WSATHREADID of an exited thread must
// free its queue), and how many waits are registered on an event (0 for an
// invalid handle), so a test can act once a thread is really blocked.
std::size_t live_thread_states();
std::size_t event_waiter_count(WSAEVENT event);

namespace {

using handle = std::uintptr_t;

enum class kind : std::uint32_t { event = 1, thread = 2, socket = 3 };

struct thread_state;
struct event_object;

// The one mutex of this file (a leaf lock): allocated once and never freed,
// like the rest of the state (see the top comment).
lwsp::mutex& g_mu = *new lwsp::mutex;

// One thread's wait in progress (lives on that thread's stack while it is
// registered on its events).
struct waiter {
    thread_state* thread = nullptr;
    const std::vector<std::shared_ptr<event_object>>* events = nullptr;
    bool wait_all = false;
    bool done = false;
    DWORD result = WSA_WAIT_FAILED;
};

struct event_object {
    bool signalled LWSP_GUARDED_BY(g_mu) = false;
    std::vector<waiter*> waiters LWSP_GUARDED_BY(g_mu);
};

struct apc {
    LPWSAUSERAPC fn;
    DWORD_PTR ctx;
};

std::atomic<std::size_t> g_live_thread_states{0};

struct thread_state {
    thread_state() { g_live_thread_states.fetch_add(1, std::memory_order_relaxed); }
    ~thread_state() { g_live_thread_states.fetch_sub(1, std::memory_order_relaxed); }
    thread_state(const thread_state&) = delete;
    thread_state& operator=(const thread_state&) = delete;

    platform::condvar cv;                        // this thread's waits sleep on it
    std::deque<apc> apcs LWSP_GUARDED_BY(g_mu);  // FIFO
    bool exited LWSP_GUARDED_BY(g_mu) = false;
};

struct socket_object {
    DWORD catalog_entry;
    DWORD_PTR context;
};

struct global_state {
    lwsp::wsp::handle_table<event_object> events LWSP_GUARDED_BY(g_mu){static_cast<std::uint32_t>(kind::event)};
    lwsp::wsp::handle_table<thread_state> threads LWSP_GUARDED_BY(g_mu){static_cast<std::uint32_t>(kind::thread)};
    lwsp::wsp::handle_table<socket_object> sockets LWSP_GUARDED_BY(g_mu){static_cast<std::uint32_t>(kind::socket)};
};

global_state& state() {
    static global_state* const s = new global_state;  // never freed: see the top comment
    return *s;
}

// The calling thread's state, held per thread (a heap-allocated shared_ptr
// in a platform::thread_slot); marked exited when the thread ends.
using thread_ref = std::shared_ptr<thread_state>;

void release_thread(void* p) {
    auto* ref = static_cast<thread_ref*>(p);
    std::deque<apc> dropped;  // destroyed after the lock is released
    {
        lwsp::lock_guard lk(g_mu);
        (*ref)->exited = true;
        dropped.swap((*ref)->apcs);
    }
    delete ref;
}

lwsp::platform::thread_slot& thread_refs() {
    static auto* const slot = new lwsp::platform::thread_slot(&release_thread);  // never freed, as state()
    return *slot;
}

// The calling thread's reference; nullptr only when out of memory.
thread_ref* current_ref() {
    auto* ref = static_cast<thread_ref*>(thread_refs().get());
    if (ref != nullptr) return ref;
    try {
        auto owned = std::make_unique<thread_ref>(std::make_shared<thread_state>());
        if (!thread_refs().set(owned.get())) return nullptr;
        return owned.release();
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

// nullptr only when out of memory.
thread_state* current_thread() {
    thread_ref* ref = current_ref();
    return ref != nullptr ? ref->get() : nullptr;
}

handle handle_of(const void* p) { return reinterpret_cast<handle>(p); }
void* pointer_of(handle h) { return reinterpret_cast<void*>(h); }

void set_error(LPINT err, int code) {
    if (err != nullptr) *err = code;
}

// Is w's wait satisfied now?  Sets w.result.
bool evaluate(waiter& w) LWSP_REQUIRES(g_mu) {
    const auto& evs = *w.events;
    if (w.wait_all) {
        for (const auto& e : evs)
            if (!e->signalled) return false;
        w.result = WSA_WAIT_EVENT_0;
        return true;
    }
    for (std::size_t i = 0; i < evs.size(); ++i) {
        if (evs[i]->signalled) {
            w.result = WSA_WAIT_EVENT_0 + static_cast<DWORD>(i);
            return true;
        }
    }
    return false;
}

// Runs every APC queued on ts, in order, without the mutex; the lock is
// released on return.  APCs queued meanwhile stay for the next wait.  Not
// analysed: it releases the caller's lock through the std::unique_lock that
// the caller's condition variable needs.
void run_apcs(std::unique_lock<platform::native_mutex>& lk, thread_state& ts) LWSP_NO_THREAD_SAFETY_ANALYSIS {
    std::deque<apc> batch;
    batch.swap(ts.apcs);
    lk.unlock();
    while (!batch.empty()) {
        const apc a = batch.front();
        batch.pop_front();
        try {
            a.fn(a.ctx);
        } catch (...) {
            // Keep the APCs not yet run, ahead of any queued since.
            lk.lock();
            ts.apcs.insert(ts.apcs.begin(), batch.begin(), batch.end());
            lk.unlock();
            throw;
        }
    }
}

enum class wait_outcome { satisfied, apcs, timeout };

// The common wait: events (possibly none), timeout, alertable.  Not
// analysed: it sleeps on its thread's condition variable and runs APCs,
// releasing g_mu through the std::unique_lock both need; everything it
// touches it touches with g_mu held.
DWORD wait_events(const WSAEVENT* handles, DWORD count, bool wait_all, DWORD timeout_ms, bool alertable,
                  DWORD io_completion_result, DWORD timeout_result) LWSP_NO_THREAD_SAFETY_ANALYSIS {
    const bool infinite = timeout_ms == WSA_INFINITE;
    // The clock counts whole milliseconds: one more, so that a wait never
    // ends before timeout_ms has fully passed.
    const std::uint64_t deadline = platform::now_ms() + (infinite ? 0 : timeout_ms) + 1;

    thread_state* const ts = current_thread();
    if (ts == nullptr) return WSA_WAIT_FAILED;

    std::vector<std::shared_ptr<event_object>> events;
    try {
        events.reserve(count);
    } catch (const std::bad_alloc&) {
        return WSA_WAIT_FAILED;
    }

    global_state& g = state();
    std::unique_lock<platform::native_mutex> lk(g_mu.native());
    for (DWORD i = 0; i < count; ++i) {
        std::shared_ptr<event_object> e = g.events.find(handle_of(handles[i]));
        if (!e) return WSA_WAIT_FAILED;
        if (wait_all) {
            for (const auto& seen : events)
                if (seen == e) return WSA_WAIT_FAILED;
        }
        events.push_back(std::move(e));
    }

    waiter w;
    w.thread = ts;
    w.events = &events;
    w.wait_all = wait_all;

    wait_outcome outcome;
    if (count > 0 && evaluate(w)) {
        outcome = wait_outcome::satisfied;
    } else if (alertable && !ts->apcs.empty()) {
        outcome = wait_outcome::apcs;
    } else if (timeout_ms == 0) {
        outcome = wait_outcome::timeout;
    } else {
        std::size_t registered = 0;
        try {
            for (auto& e : events) {
                e->waiters.push_back(&w);
                ++registered;
            }
        } catch (const std::bad_alloc&) {
            for (std::size_t i = 0; i < registered; ++i) events[i]->waiters.pop_back();
            return WSA_WAIT_FAILED;
        }
        for (;;) {
            if (w.done) {
                outcome = wait_outcome::satisfied;
                break;
            }
            if (alertable && !ts->apcs.empty()) {
                outcome = wait_outcome::apcs;
                break;
            }
            if (!infinite) {
                if (platform::now_ms() >= deadline) {
                    outcome = wait_outcome::timeout;
                    break;
                }
                ts->cv.wait_until(lk, deadline);
            } else {
                ts->cv.wait(lk);
            }
        }
        for (auto& e : events) {
            auto& ws = e->waiters;
            for (auto it = ws.begin(); it != ws.end(); ++it) {
                if (*it == &w) {
                    ws.erase(it);
                    break;
                }
            }
        }
    }

    switch (outcome) {
        case wait_outcome::satisfied: return w.result;
        case wait_outcome::apcs: run_apcs(lk, *ts); return io_completion_result;
        case wait_outcome::timeout: break;
    }
    return timeout_result;
}

// Event operations: 0 or WSA_INVALID_HANDLE.
int set_event(WSAEVENT h) {
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const std::shared_ptr<event_object> e = g.events.find(handle_of(h));
    if (!e) return WSA_INVALID_HANDLE;
    if (e->signalled) return 0;
    e->signalled = true;
    for (waiter* w : e->waiters) {
        if (!w->done && evaluate(*w)) {
            w->done = true;
            w->thread->cv.notify_one();
        }
    }
    return 0;
}

int reset_event(WSAEVENT h) {
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const std::shared_ptr<event_object> e = g.events.find(handle_of(h));
    if (!e) return WSA_INVALID_HANDLE;
    e->signalled = false;
    return 0;
}

int close_event(WSAEVENT h) {
    std::shared_ptr<event_object> removed;  // freed after the unlock
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    removed = g.events.remove(handle_of(h));
    return removed ? 0 : WSA_INVALID_HANDLE;
}

WSAEVENT create_event(int& err) {
    std::shared_ptr<event_object> e;
    try {
        e = std::make_shared<event_object>();
    } catch (const std::bad_alloc&) {
        err = WSA_NOT_ENOUGH_MEMORY;
        return WSA_INVALID_EVENT;
    }
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const handle h = g.events.insert(std::move(e));
    if (h == 0) {
        err = WSA_NOT_ENOUGH_MEMORY;
        return WSA_INVALID_EVENT;
    }
    return static_cast<WSAEVENT>(pointer_of(h));
}

}  // namespace

std::size_t live_thread_states() { return g_live_thread_states.load(std::memory_order_relaxed); }

std::size_t event_waiter_count(WSAEVENT event) {
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const std::shared_ptr<event_object> e = g.events.find(handle_of(event));
    return e ? e->waiters.size() : 0;
}

}  // namespace lwsp::upcalls_detail

using namespace lwsp::upcalls_detail;

// ---- The public C API ------------------------------------------------------

extern "C" {

WSAEVENT lwsp_create_event(void) {
    int err = 0;
    return create_event(err);
}

BOOL lwsp_set_event(WSAEVENT event) { return set_event(event) == 0 ? TRUE : FALSE; }
BOOL lwsp_reset_event(WSAEVENT event) { return reset_event(event) == 0 ? TRUE : FALSE; }
BOOL lwsp_close_event(WSAEVENT event) { return close_event(event) == 0 ? TRUE : FALSE; }

DWORD lwsp_wait_for_multiple_events(DWORD count, const WSAEVENT* events, BOOL wait_all, DWORD timeout_ms,
                                    BOOL alertable) {
    if (count == 0 || count > WSA_MAXIMUM_WAIT_EVENTS || events == nullptr) return WSA_WAIT_FAILED;
    return wait_events(events, count, wait_all != FALSE, timeout_ms, alertable != FALSE, WSA_WAIT_IO_COMPLETION,
                       WSA_WAIT_TIMEOUT);
}

DWORD lwsp_sleep_ex(DWORD timeout_ms, BOOL alertable) {
    const DWORD r = wait_events(nullptr, 0, false, timeout_ms, alertable != FALSE, WAIT_IO_COMPLETION, 0);
    if (r == 0 && timeout_ms == 0) lwsp::platform::yield();  // Sleep(0): give up the time slice
    return r == WSA_WAIT_FAILED ? 0 : r;                     // only if out of memory; nothing better to report
}

int lwsp_open_current_thread(LPWSATHREADID id) {
    if (id == nullptr) return WSAEFAULT;
    thread_ref* const ref = current_ref();
    if (ref == nullptr) return WSAENOBUFS;
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const handle h = g.threads.insert(*ref);
    if (h == 0) return WSAENOBUFS;
    id->ThreadHandle = pointer_of(h);
    id->Reserved = 0;
    return 0;
}

int lwsp_close_thread(LPWSATHREADID id) {
    if (id == nullptr) return WSAEFAULT;
    std::shared_ptr<thread_state> removed;  // may be the last reference: freed after the unlock
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    removed = g.threads.remove(handle_of(id->ThreadHandle));
    return removed ? 0 : WSA_INVALID_HANDLE;
}

int lwsp_queue_apc(LPWSATHREADID id, LPWSAUSERAPC fn, DWORD_PTR ctx) {
    if (id == nullptr || fn == nullptr) return WSAEFAULT;
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const std::shared_ptr<thread_state> ts = g.threads.find(handle_of(id->ThreadHandle));
    if (!ts) return WSA_INVALID_HANDLE;
    if (ts->exited) return 0;  // it will never wait again: the APC never runs
    try {
        ts->apcs.push_back(apc{fn, ctx});
    } catch (const std::bad_alloc&) {
        return WSAENOBUFS;
    }
    ts->cv.notify_one();
    return 0;
}

SOCKET lwsp_create_socket_handle(DWORD catalog_entry, DWORD_PTR context, LPINT err) {
    std::shared_ptr<socket_object> s;
    try {
        s = std::make_shared<socket_object>(socket_object{catalog_entry, context});
    } catch (const std::bad_alloc&) {
        set_error(err, WSAENOBUFS);
        return INVALID_SOCKET;
    }
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const handle h = g.sockets.insert(std::move(s));
    if (h == 0) {
        set_error(err, WSAENOBUFS);
        return INVALID_SOCKET;
    }
    return static_cast<SOCKET>(h);
}

int lwsp_query_socket_handle_context(SOCKET s, PDWORD_PTR context, LPINT err) {
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    const std::shared_ptr<socket_object> obj = g.sockets.find(static_cast<handle>(s));
    if (!obj) {
        set_error(err, WSAENOTSOCK);
        return SOCKET_ERROR;
    }
    if (context == nullptr) {
        set_error(err, WSAEFAULT);
        return SOCKET_ERROR;
    }
    *context = obj->context;
    return 0;
}

int lwsp_close_socket_handle(SOCKET s, LPINT err) {
    std::shared_ptr<socket_object> removed;
    global_state& g = state();
    lwsp::lock_guard lk(g_mu);
    removed = g.sockets.remove(static_cast<handle>(s));
    if (!removed) {
        set_error(err, WSAENOTSOCK);
        return SOCKET_ERROR;
    }
    return 0;
}

// ---- The upcalls (static: reached only through the table) ----------------

static BOOL WSPAPI lwsp_wpu_close_event(WSAEVENT hEvent, LPINT lpErrno) {
    const int e = close_event(hEvent);
    if (e != 0) set_error(lpErrno, e);
    return e == 0 ? TRUE : FALSE;
}

static int WSPAPI lwsp_wpu_close_socket_handle(SOCKET s, LPINT lpErrno) { return lwsp_close_socket_handle(s, lpErrno); }

static WSAEVENT WSPAPI lwsp_wpu_create_event(LPINT lpErrno) {
    int err = 0;
    const WSAEVENT ev = create_event(err);
    if (ev == WSA_INVALID_EVENT) set_error(lpErrno, err);
    return ev;
}

static SOCKET WSPAPI lwsp_wpu_create_socket_handle(DWORD dwCatalogEntryId, DWORD_PTR dwContext, LPINT lpErrno) {
    return lwsp_create_socket_handle(dwCatalogEntryId, dwContext, lpErrno);
}

static int WSPAPI lwsp_wpu_fd_is_set(SOCKET s, fd_set* fdset) {
    if (fdset == nullptr) return 0;
    for (u_int i = 0; i < fdset->fd_count; ++i)
        if (lwsp::wsp::fd_entries(fdset)[i] == s) return 1;
    return 0;
}

static int WSPAPI lwsp_wpu_get_provider_path(LPGUID lpProviderId, WCHAR* lpszProviderDllPath,
                                             LPINT lpProviderDllPathLen, LPINT lpErrno) {
    (void)lpProviderId;
    (void)lpszProviderDllPath;
    (void)lpProviderDllPathLen;
    set_error(lpErrno, WSAEINVAL);  // no provider catalog, no DLL paths
    return SOCKET_ERROR;
}

static SOCKET WSPAPI lwsp_wpu_modify_ifs_handle(DWORD dwCatalogEntryId, SOCKET ProposedHandle, LPINT lpErrno) {
    (void)dwCatalogEntryId;
    if (ProposedHandle == INVALID_SOCKET) set_error(lpErrno, WSAEINVAL);
    return ProposedHandle;
}

static BOOL WSPAPI lwsp_wpu_post_message(HWND hWnd, UINT Msg, WPARAM wParam, LPARAM lParam) {
    (void)hWnd;
    (void)Msg;
    (void)wParam;
    (void)lParam;
    return FALSE;  // no windows, no message queues
}

static int WSPAPI lwsp_wpu_query_blocking_callback(DWORD dwCatalogEntryId, LPBLOCKINGCALLBACK* lplpfnCallback,
                                                   PDWORD_PTR lpdwContext, LPINT lpErrno) {
    (void)dwCatalogEntryId;
    if (lplpfnCallback == nullptr) {
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }
    *lplpfnCallback = nullptr;  // no blocking hook
    if (lpdwContext != nullptr) *lpdwContext = 0;
    return 0;
}

static int WSPAPI lwsp_wpu_query_socket_handle_context(SOCKET s, PDWORD_PTR lpContext, LPINT lpErrno) {
    return lwsp_query_socket_handle_context(s, lpContext, lpErrno);
}

static int WSPAPI lwsp_wpu_queue_apc(LPWSATHREADID lpThreadId, LPWSAUSERAPC lpfnUserApc, DWORD_PTR dwContext,
                                     LPINT lpErrno) {
    const int e = lwsp_queue_apc(lpThreadId, lpfnUserApc, dwContext);
    if (e == 0) return 0;
    set_error(lpErrno, e);
    return SOCKET_ERROR;
}

static BOOL WSPAPI lwsp_wpu_reset_event(WSAEVENT hEvent, LPINT lpErrno) {
    const int e = reset_event(hEvent);
    if (e != 0) set_error(lpErrno, e);
    return e == 0 ? TRUE : FALSE;
}

static BOOL WSPAPI lwsp_wpu_set_event(WSAEVENT hEvent, LPINT lpErrno) {
    const int e = set_event(hEvent);
    if (e != 0) set_error(lpErrno, e);
    return e == 0 ? TRUE : FALSE;
}

static int WSPAPI lwsp_wpu_open_current_thread(LPWSATHREADID lpThreadId, LPINT lpErrno) {
    const int e = lwsp_open_current_thread(lpThreadId);
    if (e == 0) return 0;
    set_error(lpErrno, e);
    return SOCKET_ERROR;
}

static int WSPAPI lwsp_wpu_close_thread(LPWSATHREADID lpThreadId, LPINT lpErrno) {
    const int e = lwsp_close_thread(lpThreadId);
    if (e == 0) return 0;
    set_error(lpErrno, e);
    return SOCKET_ERROR;
}

void lwsp_default_upcalls(WSPUPCALLTABLE* table) {
    if (table == nullptr) return;
    table->lpWPUCloseEvent = lwsp_wpu_close_event;
    table->lpWPUCloseSocketHandle = lwsp_wpu_close_socket_handle;
    table->lpWPUCreateEvent = lwsp_wpu_create_event;
    table->lpWPUCreateSocketHandle = lwsp_wpu_create_socket_handle;
    table->lpWPUFDIsSet = lwsp_wpu_fd_is_set;
    table->lpWPUGetProviderPath = lwsp_wpu_get_provider_path;
    table->lpWPUModifyIFSHandle = lwsp_wpu_modify_ifs_handle;
    table->lpWPUPostMessage = lwsp_wpu_post_message;
    table->lpWPUQueryBlockingCallback = lwsp_wpu_query_blocking_callback;
    table->lpWPUQuerySocketHandleContext = lwsp_wpu_query_socket_handle_context;
    table->lpWPUQueueApc = lwsp_wpu_queue_apc;
    table->lpWPUResetEvent = lwsp_wpu_reset_event;
    table->lpWPUSetEvent = lwsp_wpu_set_event;
    table->lpWPUOpenCurrentThread = lwsp_wpu_open_current_thread;
    table->lpWPUCloseThread = lwsp_wpu_close_thread;
}

}  // extern "C"
