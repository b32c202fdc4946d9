// fuzz_wsp_calls — sequences of WSP calls with hostile arguments, through the
// proc table WSPStartup hands out, on a stack whose link has a peer
// (common/peer.hpp: echo, discard and daytime services, refusals, and
// connections and data of its own when the input asks).
//
// Arguments come from generators (wsp_calls_format.hpp) that mix the valid
// with the hostile: open, closed, made-up and other-generation handles;
// NULL pointers and lengths shorter than the structure; sockaddrs of the
// wrong family or length; WSABUF arrays with NULL buffers; odd levels,
// options and ioctl codes; fd_sets with foreign handles; negative and huge
// timevals; events and thread ids that are closed or made up; overlapped
// operations with events and completion routines.  The harness never lies
// about memory: every buffer is exactly as long as the length that
// describes it, so a provider that writes past a length it was given trips
// AddressSanitizer.
//
// Nothing may hang.  Blocking calls wait through block_on(), which asks
// for the blocking hook first: the harness's WPUQueryBlockingCallback gives
// the peer its turn (so a blocking connect or send the peer can satisfy
// completes), and the hook then decides what happens to a call that still
// cannot finish (hook_mode: cancel, WSPCancelBlockingCall, a call from
// inside the hook that must fail WSAEINPROGRESS, or a clock step past the
// call's SO_RCVTIMEO/SO_SNDTIMEO, or WSPSelect's timeout).  A WSPSelect
// that would wait for ever (NULL or huge timeout, nothing ready) gets a
// socket that is always writable added to its write set, so that it does
// not depend on the hook.  The waits that do not go through block_on are
// bounded by the harness: WSPGetOverlappedResult waits only on an operation
// that is no longer pending, and a lingering blocking WSPCloseSocket (or a
// WSPSelect, should it wait without the hook) is released by the unblocker
// thread, which moves the clock by the wait once the call is really
// waiting.
//
// Checks: every failure reports an error its reference page documents
// (common/wsa_errors.hpp); results stay within what was given (bytes,
// lengths, fd_set contents); calls from inside the blocking hook fail
// WSAEINPROGRESS; nothing leaks (env::end, after every socket is closed).
// No call argument is steered around a known finding (none is open for
// this harness: common/known_issues.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/check.hpp"
#include "common/env.hpp"
#include "common/input.hpp"
#include "common/peer.hpp"
#include "common/wsa_errors.hpp"
#include "lwsp/upcalls.h"
#include "wsp_calls_format.hpp"

namespace {

using namespace lwsp::fuzz;
using namespace lwsp::fuzz::wsp_calls;

constexpr std::size_t max_records = 200;
constexpr std::size_t max_ops = 64;
constexpr std::uint64_t max_clock_ms = 600 * 1000;
constexpr int sentinel = 0x5A5A;

// ---- process-wide fixtures -----------------------------------------------------

struct fixtures {
    WSAEVENT events[3] = {};
    WSAEVENT closed_event = nullptr;
    WSATHREADID thread{};
    WSATHREADID closed_thread{};
};
fixtures& fx() {
    static fixtures* f = [] {
        auto* x = new fixtures;
        for (WSAEVENT& e : x->events) e = lwsp_create_event();
        x->closed_event = lwsp_create_event();
        lwsp_close_event(x->closed_event);
        lwsp_open_current_thread(&x->thread);
        lwsp_open_current_thread(&x->closed_thread);
        lwsp_close_thread(&x->closed_thread);
        return x;
    }();
    return *f;
}

// The blocking hook's behaviour and what it needs to know about the call
// under way (set before every call).
struct hook_state {
    std::uint8_t mode = h_cancel;
    std::uint16_t ms = 0;
    std::uint8_t inner = 0;
    DWORD wait_ms = 0;  // the call's SO_RCVTIMEO/SO_SNDTIMEO, 0 = none
    SOCKET socket = INVALID_SOCKET;
    int calls = 0;
};
hook_state g_hook;
peer* g_peer = nullptr;
std::uint64_t g_clock_left = 0;  // ms the input may still move the clock (w_clock, the hook)

std::uint64_t take_clock(std::uint64_t ms) {
    if (ms > g_clock_left) ms = g_clock_left;
    g_clock_left -= ms;
    return ms;
}

int WSPAPI query_blocking_callback(DWORD, LPBLOCKINGCALLBACK* cb, PDWORD_PTR ctx, LPINT err);

env& the_env() {
    static env& e = []() -> env& {
        WSPUPCALLTABLE t;
        lwsp_default_upcalls(&t);
        t.lpWPUQueryBlockingCallback = &query_blocking_callback;
        return env::get(&t);
    }();
    return e;
}

// A call made from inside the blocking hook: Winsock 2 allows none but
// WSPCancelBlockingCall (WSAEINPROGRESS).
void inner_call(std::uint8_t which) {
    const WSPPROC_TABLE& w = the_env().wsp();
    int err = 0;
    int r = 0;
    switch (which % 5) {
        case 0: r = w.lpWSPCloseSocket(g_hook.socket, &err); break;
        case 1: {
            int v = 0;
            INT len = sizeof v;
            r = w.lpWSPGetSockOpt(g_hook.socket, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&v), &len, &err);
            break;
        }
        case 2: {
            char b[4];
            WSABUF wb{sizeof b, b};
            DWORD got = 0, flags = 0;
            r = w.lpWSPRecv(g_hook.socket, &wb, 1, &got, &flags, nullptr, nullptr, nullptr, &err);
            break;
        }
        case 3: r = w.lpWSPCleanup(&err); break;
        default: {
            const SOCKET s = w.lpWSPSocket(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0, &err);
            r = s == INVALID_SOCKET ? SOCKET_ERROR : 0;
            break;
        }
    }
    LWSP_FUZZ_CHECK(r == SOCKET_ERROR && err == WSAEINPROGRESS, "call %u from the blocking hook: %d, error %d",
                    which % 5, r, err);
}

BOOL CALLBACK blocking_hook(DWORD_PTR) {
    ++g_hook.calls;
    int err = 0;
    switch (g_hook.mode % hook_mode_count) {
        case h_cancel_call:
            LWSP_FUZZ_CHECK(the_env().wsp().lpWSPCancelBlockingCall(&err) == 0, "WSPCancelBlockingCall in the hook: %d",
                            err);
            return TRUE;
        case h_inner_call: inner_call(g_hook.inner); return FALSE;
        case h_advance:
            // Past the deadline the call times out; without one the wait
            // could never end, so the call is canceled after the step.
            if (g_hook.calls == 1) {
                const std::uint64_t ms = take_clock(g_hook.ms);
                the_env().advance(ms);
                return g_hook.wait_ms != 0 && ms > g_hook.wait_ms;
            }
            return FALSE;
        default: return FALSE;
    }
}

// block_on() asks for the hook before it first checks its condition: the
// peer's turn comes here, so what the peer can answer is answered before.
int WSPAPI query_blocking_callback(DWORD, LPBLOCKINGCALLBACK* cb, PDWORD_PTR ctx, LPINT err) {
    if (cb == nullptr || ctx == nullptr) {
        if (err) *err = WSAEFAULT;
        return SOCKET_ERROR;
    }
    if (g_peer != nullptr) g_peer->turn();
    *cb = &blocking_hook;
    *ctx = 0;
    return 0;
}

// ---- the unblocker -------------------------------------------------------------
// Releases a call that waits on the stack clock outside block_on (a
// WSPSelect timeout, a lingering close): once the call is really waiting —
// counted by stack::waiting_threads(), under the core lock — it drains
// the loopback queues and moves the clock past the wait.

class unblocker {
public:
    unblocker() : thread_([this] { loop(); }) {}

    void arm(std::uint64_t ms) {
        std::lock_guard<std::mutex> g(mu_);
        armed_ = true;
        ms_ = ms;
        cv_.notify_all();
    }
    void disarm() {
        std::unique_lock<std::mutex> g(mu_);
        armed_ = false;
        cv_.wait(g, [this] { return !busy_; });
    }

private:
    bool call_waiting() { return the_env().st().waiting_threads() != 0; }
    void loop() {
        std::unique_lock<std::mutex> g(mu_);
        for (;;) {
            cv_.wait(g, [this] { return armed_; });
            busy_ = true;
            const std::uint64_t ms = ms_;
            int steps = 0;
            while (armed_ && steps < 3) {
                g.unlock();
                const bool waiting = call_waiting();
                if (waiting) {
                    the_env().settle();
                    the_env().st().advance_time(lwsp::millis(ms + 1));
                }
                std::this_thread::sleep_for(std::chrono::microseconds(waiting ? 20000 : 50));
                g.lock();
                if (waiting) ++steps;
            }
            busy_ = false;
            cv_.notify_all();
            cv_.wait(g, [this] { return !armed_; });
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    bool armed_ = false, busy_ = false;
    std::uint64_t ms_ = 0;
    std::thread thread_;
};

// ---- one input --------------------------------------------------------------------

struct op {
    WSAOVERLAPPED ov{};
    std::vector<WSABUF> bufs;
    std::vector<std::vector<char>> mem;
    SOCKADDR_STORAGE from{};
    INT fromlen = sizeof(SOCKADDR_STORAGE);
    DWORD flags = 0, bytes = 0;
    bool submitted = false;
};

std::atomic<int> g_routine_calls{0};
void CALLBACK completion_routine(DWORD error, DWORD, LPWSAOVERLAPPED ov, DWORD) {
    ++g_routine_calls;
    LWSP_FUZZ_CHECK(ov != nullptr, "completion routine without its OVERLAPPED");
    LWSP_FUZZ_CHECK(error == 0 || wsa_error_allowed(wsp_call::overlapped_result, static_cast<int>(error)),
                    "completion routine with error %u", static_cast<unsigned>(error));
}

int g_condition_verdict = CF_ACCEPT;
int CALLBACK condition(LPWSABUF caller, LPWSABUF, LPQOS, LPQOS, LPWSABUF callee, LPWSABUF, GROUP* g, DWORD_PTR) {
    LWSP_FUZZ_CHECK(caller != nullptr && caller->buf != nullptr && caller->len >= 16, "condition: no caller id");
    LWSP_FUZZ_CHECK(callee != nullptr && callee->buf != nullptr && callee->len >= 16, "condition: no callee id");
    LWSP_FUZZ_CHECK(g != nullptr, "condition: no group");
    return g_condition_verdict;
}

const ip_addr& addr4(unsigned sel) {
    static const ip_addr t[] = {
        ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.1"),       ip_addr::parse("0.0.0.0"),
        ip_addr::parse("127.0.0.1"), ip_addr::parse("255.255.255.255"), ip_addr::parse("192.0.2.255"),
        ip_addr::parse("224.0.0.1"), ip_addr::parse("198.51.100.7"),    ip_addr::parse("192.0.2.3")};
    return t[sel % (sizeof t / sizeof t[0])];
}
const ip_addr& addr6(unsigned sel) {
    static const ip_addr t[] = {
        ip_addr::parse("2001:db8::2"), ip_addr::parse("2001:db8::1"),      ip_addr::parse("::"),
        ip_addr::parse("::1"),         ip_addr::parse("ff02::1"),          ip_addr::parse("fe80::ff:fe00:2"),
        ip_addr::parse("2001:db9::7"), ip_addr::parse("::ffff:192.0.2.2"), ip_addr::parse("2001:db8::3")};
    return t[sel % (sizeof t / sizeof t[0])];
}
std::uint16_t port_of(std::uint16_t p) {
    static const std::uint16_t t[16] = {7, 9, 13, 1, 0, 80, 5000, 5001, 53, 7, 9, 65535, 443, 2, 1024, 49152};
    return p < 16 ? t[p] : p;
}

class run {
public:
    explicit run(env& e, peer& p, unblocker& u) : e_(e), w_(e.wsp()), peer_(p), unblock_(u) {}
    void start();
    void step(input& in);
    void finish();

private:
    // Argument generators.
    SOCKET handle_arg(input& in);
    int pick(input& in, std::initializer_list<int> table);
    struct sockaddr_buf {
        std::unique_ptr<std::uint8_t[]> mem;
        int len = 0;
        const sockaddr* ptr() const { return reinterpret_cast<const sockaddr*>(mem.get()); }
    };
    sockaddr_buf sockaddr_arg(input& in);
    struct outname_buf {
        std::unique_ptr<std::uint8_t[]> mem;
        INT len = 0;
        bool null_len = false;
        sockaddr* ptr() { return reinterpret_cast<sockaddr*>(mem.get()); }
        LPINT len_ptr() { return null_len ? nullptr : &len; }
    };
    outname_buf outname_arg(input& in);
    op* wsabufs_arg(input& in, bool fill, LPWSABUF& array, DWORD& count);
    WSAEVENT event_arg(input& in);
    LPWSATHREADID thread_arg(input& in);
    void ov_arg(input& in, op* o, LPWSAOVERLAPPED& ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE& routine,
                LPWSATHREADID& thread);
    struct fdset_buf {
        std::unique_ptr<std::uint8_t[]> mem;
        u_int count = 0;
        std::vector<SOCKET> given;
        fd_set* ptr() { return reinterpret_cast<fd_set*>(mem.get()); }
    };
    fdset_buf fdset_arg(input& in);

    void add_socket(SOCKET s);
    void note_closed(SOCKET s);
    DWORD timeout_of(SOCKET s, int option);
    bool failed(wsp_call call, int r, const int& err, const char* what, bool errno_null);  // err: read after the call

    void call(input& in, what w, bool errno_null);
    void do_select(input& in, bool errno_null);
    void do_close(SOCKET s, bool errno_null);

    env& e_;
    const WSPPROC_TABLE& w_;
    peer& peer_;
    unblocker& unblock_;
    std::vector<SOCKET> open_;
    std::vector<SOCKET> closed_;
    std::deque<std::unique_ptr<op>> ops_;
    SOCKET ready_socket_ = INVALID_SOCKET;  // always writable: keeps WSPSelect from waiting for ever
    int startups_ = 1;
};

int run::pick(input& in, std::initializer_list<int> table) {
    const std::uint8_t v = in.u8();
    if (v < table.size()) return *(table.begin() + v);
    if (v == 0xff) return static_cast<int>(in.u32());
    return v - static_cast<int>(table.size());
}

SOCKET run::handle_arg(input& in) {
    const std::uint8_t kind = in.u8() % 8;
    const std::uint8_t idx = in.u8();
    if (kind < hk_closed) return open_.empty() ? static_cast<SOCKET>(0x00010001) : open_[idx % open_.size()];
    switch (kind) {
        case hk_closed: return closed_.empty() ? static_cast<SOCKET>(0x7fff0001) : closed_[idx % closed_.size()];
        case hk_made_up: return static_cast<SOCKET>(in.u32());
        case hk_invalid: return INVALID_SOCKET;
        default:
            return open_.empty() ? static_cast<SOCKET>(0) : (open_[idx % open_.size()] ^ static_cast<SOCKET>(0x10000));
    }
}

run::sockaddr_buf run::sockaddr_arg(input& in) {
    const std::uint8_t fam_sel = in.u8() % 4;
    const std::uint16_t family = fam_sel == 0 ? AF_INET : fam_sel == 1 ? AF_INET6 : fam_sel == 2 ? AF_UNSPEC : in.u16();
    const std::uint8_t addr = in.u8();
    const std::uint16_t port = port_of(in.u16());
    const std::uint8_t mode = in.u8() % 5;
    const std::uint8_t shorter = mode == 1 ? in.u8() : 0;
    const std::uint32_t extra = in.u32();
    const bool v6 = family == AF_INET6;
    int size = v6 ? 28 : 16;
    sockaddr_buf b;
    switch (mode) {
        case 1: size = shorter % 29, b.len = size; break;
        case 2: b.len = size; return b;  // NULL pointer
        case 3: size = sizeof(SOCKADDR_STORAGE), b.len = size; break;
        case 4: b.len = -1; break;
        default: b.len = size; break;
    }
    std::uint8_t full[sizeof(SOCKADDR_STORAGE)] = {};
    std::memcpy(full, &family, 2);
    full[2] = static_cast<std::uint8_t>(port >> 8);
    full[3] = static_cast<std::uint8_t>(port);
    if (v6) {
        std::memcpy(full + 8, addr6(addr).data(), 16);
        std::memcpy(full + 24, &extra, 4);
    } else {
        std::memcpy(full + 4, addr4(addr).data(), 4);
        std::memcpy(full + 8, &extra, 4);
    }
    b.mem.reset(new std::uint8_t[size == 0 ? 1 : size]);
    std::memcpy(b.mem.get(), full, static_cast<std::size_t>(size));
    return b;
}

run::outname_buf run::outname_arg(input& in) {
    outname_buf b;
    switch (in.u8() % 6) {
        case 0: b.null_len = true; return b;
        case 2: {
            const std::uint8_t n = in.u8() % 64;
            b.mem.reset(new std::uint8_t[n == 0 ? 1 : n]);
            b.len = n;
            return b;
        }
        case 3: b.null_len = true; break;
        case 4: b.len = sizeof(SOCKADDR_STORAGE); return b;
        case 5: b.len = -1; break;
        default: b.len = sizeof(SOCKADDR_STORAGE); break;
    }
    b.mem.reset(new std::uint8_t[sizeof(SOCKADDR_STORAGE)]);
    return b;
}

// The buffers live in an op (kept to the end of the input: an overlapped
// operation may still use them).
op* run::wsabufs_arg(input& in, bool fill, LPWSABUF& array, DWORD& count) {
    auto o = std::make_unique<op>();
    const std::uint8_t n = in.u8();
    count = n & 7;
    for (DWORD i = 0; i < count; ++i) {
        const std::uint16_t len = in.u16() % 16385;
        const bool null_buf = (in.u8() & 1) != 0;
        o->mem.emplace_back(len == 0 ? 1 : len);
        for (std::size_t k = 0; fill && k < len; ++k) o->mem.back()[k] = static_cast<char>('a' + k % 26);
        o->bufs.push_back(WSABUF{len, null_buf ? nullptr : o->mem.back().data()});
    }
    array = (n & 0x80) || count == 0 ? nullptr : o->bufs.data();
    if (count == 0 && !(n & 0x80)) {
        o->bufs.push_back(WSABUF{0, nullptr});
        array = o->bufs.data();
    }
    ops_.push_back(std::move(o));
    return ops_.back().get();
}

WSAEVENT run::event_arg(input& in) {
    const std::uint8_t k = in.u8() % 6;
    switch (k) {
        case 0: return nullptr;
        case 4: return fx().closed_event;
        case 5: return reinterpret_cast<WSAEVENT>(static_cast<std::uintptr_t>(in.u32()));
        default: return fx().events[k - 1];
    }
}

LPWSATHREADID run::thread_arg(input& in) {
    static WSATHREADID made_up;
    switch (in.u8() % 4) {
        case 0: return nullptr;
        case 1: return &fx().thread;
        case 2: return &fx().closed_thread;
        default:
            made_up.ThreadHandle = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(in.u32()));
            made_up.Reserved = 0;
            return &made_up;
    }
}

void run::ov_arg(input& in, op* o, LPWSAOVERLAPPED& ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE& routine,
                 LPWSATHREADID& thread) {
    ov = nullptr;
    routine = nullptr;
    thread = nullptr;
    const std::uint8_t k = in.u8() % 4;
    if (k == 0 || ops_.size() > max_ops) return;
    ov = &o->ov;
    if (k & 1) o->ov.hEvent = event_arg(in);
    if (k & 2) {
        routine = &completion_routine;
        thread = thread_arg(in);
    }
    o->submitted = true;
}

run::fdset_buf run::fdset_arg(input& in) {
    fdset_buf b;
    const std::uint8_t v = in.u8();
    if (v == 0) return b;
    // Up to 100 entries: more than Winsock's FD_SETSIZE of 64, as a client
    // that defines a larger FD_SETSIZE passes (ws2spi.h allows any size).
    b.count = (v - 1u) % 101;
    // Exactly fd_count entries: the provider reads no more (ws2spi.h).
    const std::size_t bytes_n = offsetof(fd_set, fd_array) + b.count * sizeof(SOCKET);
    b.mem.reset(new std::uint8_t[std::max<std::size_t>(bytes_n, offsetof(fd_set, fd_array) + sizeof(SOCKET))]);
    b.ptr()->fd_count = b.count;
    SOCKET* entries = reinterpret_cast<SOCKET*>(b.mem.get() + offsetof(fd_set, fd_array));
    for (u_int i = 0; i < b.count; ++i) {
        const SOCKET s = handle_arg(in);
        entries[i] = s;
        b.given.push_back(s);
    }
    return b;
}

void run::add_socket(SOCKET s) {
    LWSP_FUZZ_CHECK(s != 0 && s != INVALID_SOCKET, "a new socket handle of %llu", static_cast<unsigned long long>(s));
    LWSP_FUZZ_CHECK(std::find(open_.begin(), open_.end(), s) == open_.end(), "handle %llu handed out twice",
                    static_cast<unsigned long long>(s));
    open_.push_back(s);
}

void run::note_closed(SOCKET s) {
    auto it = std::find(open_.begin(), open_.end(), s);
    if (it == open_.end()) return;
    open_.erase(it);
    closed_.push_back(s);
}

DWORD run::timeout_of(SOCKET s, int option) {
    DWORD v = 0;
    INT len = sizeof v;
    int err = 0;
    if (w_.lpWSPGetSockOpt(s, SOL_SOCKET, option, reinterpret_cast<char*>(&v), &len, &err) != 0) return 0;
    return v;
}

bool run::failed(wsp_call call, int r, const int& err, const char* what, bool errno_null) {
    if (r == SOCKET_ERROR && !errno_null)
        env::trace("%s -> %d, error %d", what, r, err);
    else
        env::trace("%s -> %d", what, r);
    if (errno_null) {
        LWSP_FUZZ_CHECK(r == SOCKET_ERROR, "%s with lpErrno NULL returned %d", what, r);
        return true;
    }
    if (r != SOCKET_ERROR) return false;
    LWSP_FUZZ_CHECK(wsa_error_allowed(call, err), "%s failed with %d, not a documented error", what, err);
    return true;
}

void run::do_close(SOCKET s, bool errno_null) {
    int err = sentinel;
    // A lingering close on a blocking socket waits on the stack clock.
    struct linger l = {0, 0};
    INT len = sizeof l;
    int e2 = 0;
    std::uint64_t wait_ms = 0;
    if (w_.lpWSPGetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), &len, &e2) == 0 && l.l_onoff &&
        l.l_linger > 0) {
        // The unblocker moves the clock that far: at most a minute, within
        // the input's clock budget (beyond it the close becomes abortive).
        const u_short capped = static_cast<u_short>(std::min<std::uint64_t>({l.l_linger, 60, g_clock_left / 1000}));
        if (capped != l.l_linger) {
            l.l_linger = capped;
            w_.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &e2);
        }
        wait_ms = take_clock(1000ull * capped);
    }
    if (wait_ms) unblock_.arm(wait_ms);
    const int r = w_.lpWSPCloseSocket(s, errno_null ? nullptr : &err);
    if (wait_ms) unblock_.disarm();
    if (failed(wsp_call::close, r, err, "WSPCloseSocket", errno_null)) {
        if (!errno_null && err == WSAENETDOWN) note_closed(s);
        return;
    }
    note_closed(s);
}

void run::do_select(input& in, bool errno_null) {
    fdset_buf sets[3] = {fdset_arg(in), fdset_arg(in), fdset_arg(in)};
    struct timeval tv {};
    struct timeval* tvp = nullptr;
    switch (in.u8() % 4) {
        case 1: tvp = &tv; break;
        case 2: {
            const std::uint64_t s = in.u32() | static_cast<std::uint64_t>(in.u32()) << 32;
            const std::uint64_t us = in.u32() | static_cast<std::uint64_t>(in.u32()) << 32;
            tv.tv_sec = static_cast<long>(s);
            tv.tv_usec = static_cast<long>(us);
            tvp = &tv;
            break;
        }
        case 3:
            tv.tv_sec = in.u8();
            tv.tv_usec = static_cast<long>(in.u32());
            tvp = &tv;
            break;
        default: break;
    }
    // Would it wait?  A probe with a zero timeout on copies tells.
    std::uint64_t wait_ms = 0;
    bool forever = false;
    if (!(tvp && (tv.tv_sec < 0 || tv.tv_usec < 0)) && !(tvp && tv.tv_sec == 0 && tv.tv_usec == 0)) {
        std::vector<std::uint8_t> copies[3];
        fd_set* probe[3] = {};
        for (int k = 0; k < 3; ++k) {
            if (!sets[k].mem) continue;
            const std::size_t n = offsetof(fd_set, fd_array) + sets[k].count * sizeof(SOCKET);
            copies[k].assign(sets[k].mem.get(), sets[k].mem.get() + n);
            probe[k] = reinterpret_cast<fd_set*>(copies[k].data());
        }
        struct timeval zero {};
        int err = 0;
        const int r = w_.lpWSPSelect(0, probe[0], probe[1], probe[2], &zero, &err);
        if (r == 0) {
            const bool bounded = tvp != nullptr && tv.tv_sec <= 600 && tv.tv_usec <= 600000000L;
            if (bounded)
                wait_ms = static_cast<std::uint64_t>(tv.tv_sec) * 1000 +
                          (static_cast<std::uint64_t>(tv.tv_usec) + 999) / 1000;
            if (!bounded || wait_ms > 600000 || wait_ms > g_clock_left) {
                forever = true;
                wait_ms = 0;
            } else {
                take_clock(wait_ms);
            }
        }
    }
    if (forever) {
        // Winsock would wait for ever (or for longer than an input may run):
        // a socket that is always writable ends it at once.
        fdset_buf& ws = sets[1];
        auto grown = std::make_unique<std::uint8_t[]>(offsetof(fd_set, fd_array) + (ws.count + 1) * sizeof(SOCKET));
        auto* g = reinterpret_cast<fd_set*>(grown.get());
        g->fd_count = ws.count + 1;
        SOCKET* entries = reinterpret_cast<SOCKET*>(grown.get() + offsetof(fd_set, fd_array));
        for (u_int i = 0; i < ws.count; ++i) entries[i] = ws.given[i];
        entries[ws.count] = ready_socket_;
        ws.given.push_back(ready_socket_);
        ws.count += 1;
        ws.mem = std::move(grown);
    }
    u_int counts[3];
    for (int k = 0; k < 3; ++k) counts[k] = sets[k].count;
    // WSPSelect waits through block_on(): the hook's clock step ends it at
    // its deadline.
    g_hook.wait_ms = static_cast<DWORD>(wait_ms);
    int err = sentinel;
    if (wait_ms) unblock_.arm(wait_ms);
    const int r = w_.lpWSPSelect(0, sets[0].mem ? sets[0].ptr() : nullptr, sets[1].mem ? sets[1].ptr() : nullptr,
                                 sets[2].mem ? sets[2].ptr() : nullptr, tvp, errno_null ? nullptr : &err);
    if (wait_ms) unblock_.disarm();
    if (failed(wsp_call::select, r, err, "WSPSelect", errno_null)) return;
    LWSP_FUZZ_CHECK(r >= 0, "WSPSelect returned %d", r);
    int total = 0;
    for (int k = 0; k < 3; ++k) {
        if (!sets[k].mem) continue;
        const u_int n = sets[k].ptr()->fd_count;
        LWSP_FUZZ_CHECK(n <= counts[k], "WSPSelect grew set %d from %u to %u", k, counts[k], n);
        const SOCKET* entries = reinterpret_cast<const SOCKET*>(sets[k].mem.get() + offsetof(fd_set, fd_array));
        for (u_int i = 0; i < n; ++i) {
            const SOCKET s = entries[i];
            LWSP_FUZZ_CHECK(std::find(sets[k].given.begin(), sets[k].given.end(), s) != sets[k].given.end(),
                            "WSPSelect returned a handle it was not given");
        }
        total += static_cast<int>(n);
    }
    LWSP_FUZZ_CHECK(total == r, "WSPSelect returned %d, its sets hold %d", r, total);
    if (forever) LWSP_FUZZ_CHECK(r >= 1, "the always-writable socket was not reported");
}

void run::call(input& in, what w, bool errno_null) {
    int err = sentinel;
    LPINT ep = errno_null ? nullptr : &err;
    g_hook.calls = 0;
    g_hook.wait_ms = 0;
    switch (w) {
        case c_socket: {
            int af = pick(in, {AF_INET, AF_INET6, AF_UNSPEC, FROM_PROTOCOL_INFO, 1});
            int type = pick(in, {SOCK_STREAM, SOCK_DGRAM, 0, 3, FROM_PROTOCOL_INFO, 5});
            int proto = pick(in, {0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, FROM_PROTOCOL_INFO, IPPROTO_RAW});
            WSAPROTOCOL_INFOW info{};
            const bool with_info = in.u8() != 0;
            if (with_info) {
                info.iAddressFamily = pick(in, {AF_INET, AF_INET6, AF_UNSPEC});
                info.iSocketType = pick(in, {SOCK_STREAM, SOCK_DGRAM, 3});
                info.iProtocol = pick(in, {IPPROTO_TCP, IPPROTO_UDP, 0});
            }
            const int g = pick(in, {0, 1, -1});
            const DWORD flags = static_cast<DWORD>(pick(in, {0, WSA_FLAG_OVERLAPPED, 0xff}));
            const SOCKET s =
                w_.lpWSPSocket(af, type, proto, with_info ? &info : nullptr, static_cast<GROUP>(g), flags, ep);
            if (s == INVALID_SOCKET) {
                failed(wsp_call::socket, SOCKET_ERROR, err, "WSPSocket", errno_null);
                break;
            }
            LWSP_FUZZ_CHECK(!errno_null, "WSPSocket succeeded with lpErrno NULL");
            add_socket(s);
            break;
        }
        case c_bind: {
            const SOCKET s = handle_arg(in);
            sockaddr_buf a = sockaddr_arg(in);
            failed(wsp_call::bind, w_.lpWSPBind(s, a.ptr(), a.len, ep), err, "WSPBind", errno_null);
            break;
        }
        case c_listen: {
            const SOCKET s = handle_arg(in);
            const int backlog = pick(in, {5, 0, 1, -1, 200, 0x7fffffff, 256});
            failed(wsp_call::listen, w_.lpWSPListen(s, backlog, ep), err, "WSPListen", errno_null);
            break;
        }
        case c_accept: {
            const SOCKET s = handle_arg(in);
            outname_buf name = outname_arg(in);
            const std::uint8_t c = in.u8() % 5;
            static const int verdicts[] = {CF_ACCEPT, CF_ACCEPT, CF_REJECT, CF_DEFER, 17};
            g_condition_verdict = verdicts[c];
            g_hook.socket = s;
            const INT before = name.len;
            const SOCKET a = w_.lpWSPAccept(s, name.ptr(), name.len_ptr(), c == 0 ? nullptr : &condition, 0, ep);
            if (a == INVALID_SOCKET) {
                failed(wsp_call::accept, SOCKET_ERROR, err, "WSPAccept", errno_null);
                break;
            }
            LWSP_FUZZ_CHECK(!errno_null, "WSPAccept succeeded with lpErrno NULL");
            if (name.mem && !name.null_len) LWSP_FUZZ_CHECK(name.len <= before, "WSPAccept grew *addrlen");
            add_socket(a);
            break;
        }
        case c_connect: {
            const SOCKET s = handle_arg(in);
            sockaddr_buf a = sockaddr_arg(in);
            const std::uint8_t x = in.u8();
            char data[8] = "caller";
            WSABUF caller{(x & 0x10) ? 0u : 6u, data}, callee{6, data};
            QOS sqos{}, gqos{};
            g_hook.socket = s;
            failed(wsp_call::connect,
                   w_.lpWSPConnect(s, a.ptr(), a.len, (x & 1) ? &caller : nullptr, (x & 2) ? &callee : nullptr,
                                   (x & 4) ? &sqos : nullptr, (x & 8) ? &gqos : nullptr, ep),
                   err, "WSPConnect", errno_null);
            break;
        }
        case c_send:
        case c_sendto: {
            const SOCKET s = handle_arg(in);
            LPWSABUF bufs;
            DWORD count;
            op* o = wsabufs_arg(in, true, bufs, count);
            const DWORD flags = static_cast<DWORD>(pick(in, {0, MSG_OOB, MSG_DONTROUTE, MSG_PARTIAL, MSG_PEEK}));
            sockaddr_buf to;
            if (w == c_sendto) to = sockaddr_arg(in);
            const std::uint8_t ptrs = in.u8();
            LPWSAOVERLAPPED ov;
            LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
            LPWSATHREADID thread;
            ov_arg(in, o, ov, routine, thread);
            g_hook.socket = s;
            g_hook.wait_ms = timeout_of(s, SO_SNDTIMEO);
            LPDWORD sent = (ptrs & 1) ? nullptr : &o->bytes;
            const int r = w == c_send
                              ? w_.lpWSPSend(s, bufs, count, sent, flags, ov, routine, thread, ep)
                              : w_.lpWSPSendTo(s, bufs, count, sent, flags, to.ptr(), to.len, ov, routine, thread, ep);
            if (failed(w == c_send ? wsp_call::send : wsp_call::sendto, r, err, "WSPSend(To)", errno_null)) break;
            std::size_t total = 0;
            for (DWORD i = 0; i < count && bufs; ++i) total += bufs[i].len;
            if (sent)
                LWSP_FUZZ_CHECK(o->bytes <= total, "sent %u of %zu bytes", static_cast<unsigned>(o->bytes), total);
            break;
        }
        case c_recv:
        case c_recvfrom: {
            const SOCKET s = handle_arg(in);
            LPWSABUF bufs;
            DWORD count;
            op* o = wsabufs_arg(in, false, bufs, count);
            o->flags = static_cast<DWORD>(
                pick(in, {0, MSG_PEEK, MSG_WAITALL, MSG_OOB, MSG_PARTIAL, MSG_PEEK | MSG_WAITALL, MSG_INTERRUPT}));
            outname_buf from;
            if (w == c_recvfrom) from = outname_arg(in);
            const std::uint8_t ptrs = in.u8();
            LPWSAOVERLAPPED ov;
            LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
            LPWSATHREADID thread;
            ov_arg(in, o, ov, routine, thread);
            sockaddr* from_ptr = from.ptr();
            LPINT from_len = from.len_ptr();
            if (ov != nullptr && w == c_recvfrom && from.mem && !from.null_len) {
                // Written at completion, later: the op's own storage.
                o->fromlen = std::min<INT>(from.len, sizeof(SOCKADDR_STORAGE));
                from_ptr = reinterpret_cast<sockaddr*>(&o->from);
                from_len = &o->fromlen;
            }
            g_hook.socket = s;
            g_hook.wait_ms = timeout_of(s, SO_RCVTIMEO);
            LPDWORD got = (ptrs & 1) ? nullptr : &o->bytes;
            LPDWORD flags = (ptrs & 2) ? nullptr : &o->flags;
            const INT before = from_len ? *from_len : 0;
            const int r =
                w == c_recv ? w_.lpWSPRecv(s, bufs, count, got, flags, ov, routine, thread, ep)
                            : w_.lpWSPRecvFrom(s, bufs, count, got, flags, from_ptr, from_len, ov, routine, thread, ep);
            if (failed(w == c_recv ? wsp_call::recv : wsp_call::recvfrom, r, err, "WSPRecv(From)", errno_null)) break;
            std::size_t total = 0;
            for (DWORD i = 0; i < count && bufs; ++i) total += bufs[i].len;
            if (got)
                LWSP_FUZZ_CHECK(o->bytes <= total, "received %u into %zu bytes", static_cast<unsigned>(o->bytes),
                                total);
            if (from_len && from_ptr) LWSP_FUZZ_CHECK(*from_len <= before, "WSPRecvFrom grew *lpFromlen");
            break;
        }
        case c_shutdown: {
            const SOCKET s = handle_arg(in);
            const int how = pick(in, {SD_RECEIVE, SD_SEND, SD_BOTH, 3, -1});
            failed(wsp_call::shutdown, w_.lpWSPShutdown(s, how, ep), err, "WSPShutdown", errno_null);
            break;
        }
        case c_close: do_close(handle_arg(in), errno_null); break;
        case c_getsockopt: {
            const SOCKET s = handle_arg(in);
            const int level = pick(in, {SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, IPPROTO_ICMP});
            const int name = pick(in, {SO_DEBUG,
                                       SO_ACCEPTCONN,
                                       SO_REUSEADDR,
                                       SO_KEEPALIVE,
                                       SO_DONTROUTE,
                                       SO_BROADCAST,
                                       SO_LINGER,
                                       SO_OOBINLINE,
                                       SO_DONTLINGER,
                                       SO_EXCLUSIVEADDRUSE,
                                       SO_SNDBUF,
                                       SO_RCVBUF,
                                       SO_SNDLOWAT,
                                       SO_RCVLOWAT,
                                       SO_SNDTIMEO,
                                       SO_RCVTIMEO,
                                       SO_ERROR,
                                       SO_TYPE,
                                       SO_MAX_MSG_SIZE,
                                       SO_PROTOCOL_INFOW,
                                       SO_CONDITIONAL_ACCEPT,
                                       SO_CONNECT_TIME,
                                       TCP_NODELAY,
                                       IP_TTL,
                                       IPV6_V6ONLY});
            const std::uint8_t size = in.u8() % 65;
            std::unique_ptr<char[]> buf(size ? new char[size] : nullptr);
            const std::uint8_t mode = in.u8() % 3;
            INT len = size;
            if (mode == 2) len = std::min<INT>(pick(in, {0, 1, 4, 8, -1, 2}), size);  // no lies about the buffer
            const INT before = len;
            const int r = w_.lpWSPGetSockOpt(s, level, name, buf.get(), mode == 1 ? nullptr : &len, ep);
            if (failed(wsp_call::getsockopt, r, err, "WSPGetSockOpt", errno_null)) break;
            LWSP_FUZZ_CHECK(len <= before && len >= 0, "WSPGetSockOpt: *optlen %d, was %d", len, before);
            break;
        }
        case c_setsockopt: {
            const SOCKET s = handle_arg(in);
            const int level = pick(in, {SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, IPPROTO_ICMP});
            const int name = pick(in, {SO_DEBUG,
                                       SO_ACCEPTCONN,
                                       SO_REUSEADDR,
                                       SO_KEEPALIVE,
                                       SO_DONTROUTE,
                                       SO_BROADCAST,
                                       SO_LINGER,
                                       SO_OOBINLINE,
                                       SO_DONTLINGER,
                                       SO_EXCLUSIVEADDRUSE,
                                       SO_SNDBUF,
                                       SO_RCVBUF,
                                       SO_SNDLOWAT,
                                       SO_RCVLOWAT,
                                       SO_SNDTIMEO,
                                       SO_RCVTIMEO,
                                       SO_ERROR,
                                       SO_TYPE,
                                       SO_MAX_MSG_SIZE,
                                       SO_PROTOCOL_INFOW,
                                       SO_CONDITIONAL_ACCEPT,
                                       SO_CONNECT_TIME,
                                       TCP_NODELAY,
                                       IP_TTL,
                                       IPV6_V6ONLY});
            const std::uint8_t size = in.u8() % 65;
            std::unique_ptr<char[]> buf(size ? new char[size] : nullptr);
            if (size) std::memset(buf.get(), 0, size);
            switch (in.u8() % 4) {
                case 1: {
                    const std::uint32_t v = in.u32();
                    if (size) std::memcpy(buf.get(), &v, std::min<std::size_t>(4, size));
                    break;
                }
                case 2: {
                    const std::uint16_t l[2] = {in.u16(), in.u16()};
                    if (size) std::memcpy(buf.get(), l, std::min<std::size_t>(4, size));
                    break;
                }
                case 3: {
                    const bytes raw = in.bytes(size);
                    std::copy(raw.begin(), raw.end(), buf.get());
                    break;
                }
                default: break;
            }
            int len = pick(in, {size, 0, 1, 2, 4, -1, size > 0 ? size - 1 : 0});
            if (len > size) len = size;  // no lies about the buffer
            failed(wsp_call::setsockopt, w_.lpWSPSetSockOpt(s, level, name, buf.get(), len, ep), err, "WSPSetSockOpt",
                   errno_null);
            break;
        }
        case c_ioctl: {
            const SOCKET s = handle_arg(in);
            const DWORD code = static_cast<DWORD>(
                pick(in, {static_cast<int>(FIONBIO), static_cast<int>(FIONREAD), static_cast<int>(SIOCATMARK),
                          static_cast<int>(SIO_GET_EXTENSION_FUNCTION_POINTER),
                          static_cast<int>(SIO_GET_BROADCAST_ADDRESS), static_cast<int>(SIO_ADDRESS_LIST_QUERY),
                          static_cast<int>(SIO_ROUTING_INTERFACE_QUERY), static_cast<int>(SIO_FLUSH), 0}));
            const std::uint8_t in_size = in.u8() % 17;
            const std::uint32_t value = in.u32();
            const std::uint8_t out_size = in.u8() % 17;
            std::unique_ptr<std::uint8_t[]> ib(in_size ? new std::uint8_t[in_size] : nullptr);
            if (in_size) std::memcpy(ib.get(), &value, std::min<std::size_t>(4, in_size));
            for (std::size_t i = 4; i < in_size; ++i) ib[i] = 0;
            std::unique_ptr<std::uint8_t[]> ob(out_size ? new std::uint8_t[out_size] : nullptr);
            const std::uint8_t ptrs = in.u8();
            auto o = std::make_unique<op>();
            LPWSAOVERLAPPED ov;
            LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
            LPWSATHREADID thread;
            ov_arg(in, o.get(), ov, routine, thread);
            DWORD ret = 0;
            failed(wsp_call::ioctl,
                   w_.lpWSPIoctl(s, code, ib.get(), in_size, ob.get(), out_size, (ptrs & 1) ? nullptr : &ret, ov,
                                 routine, thread, ep),
                   err, "WSPIoctl", errno_null);
            if (!(ptrs & 1))
                LWSP_FUZZ_CHECK(ret <= out_size, "WSPIoctl returned %u bytes in %u", static_cast<unsigned>(ret),
                                out_size);
            ops_.push_back(std::move(o));
            break;
        }
        case c_select: do_select(in, errno_null); break;
        case c_event_select: {
            const SOCKET s = handle_arg(in);
            const WSAEVENT ev = event_arg(in);
            const long mask = pick(
                in, {FD_ALL_EVENTS, FD_READ | FD_WRITE | FD_CLOSE, 0, FD_ACCEPT, FD_CONNECT | FD_WRITE, FD_OOB, 0x400});
            failed(wsp_call::event_select, w_.lpWSPEventSelect(s, ev, mask, ep), err, "WSPEventSelect", errno_null);
            break;
        }
        case c_enum_events: {
            const SOCKET s = handle_arg(in);
            const WSAEVENT ev = event_arg(in);
            const bool null_struct = (in.u8() & 1) != 0;
            WSANETWORKEVENTS ne{};
            if (failed(wsp_call::enum_events, w_.lpWSPEnumNetworkEvents(s, ev, null_struct ? nullptr : &ne, ep), err,
                       "WSPEnumNetworkEvents", errno_null))
                break;
            LWSP_FUZZ_CHECK((ne.lNetworkEvents & ~static_cast<long>(FD_ALL_EVENTS)) == 0, "network events %lx",
                            ne.lNetworkEvents);
            break;
        }
        case c_ov_result: {
            const SOCKET s = handle_arg(in);
            const std::uint8_t which = in.u8();
            const std::uint8_t ptrs = in.u8();
            BOOL wait = in.u8() & 1;
            WSAOVERLAPPED fresh{};
            LPWSAOVERLAPPED ov = nullptr;
            if (which == 1) {
                ov = &fresh;
            } else if (which > 1 && !ops_.empty()) {
                ov = &ops_[(which - 2u) % ops_.size()]->ov;
            }
            // Waiting on an operation that is still pending would wait until
            // data arrives, which nobody sends while this thread waits.
            if (ov != nullptr && ov->Internal == WSS_OPERATION_IN_PROGRESS) wait = FALSE;
            DWORD bytes_n = 0, flags = 0;
            const BOOL r = w_.lpWSPGetOverlappedResult(s, ov, (ptrs & 1) ? nullptr : &bytes_n, wait,
                                                       (ptrs & 2) ? nullptr : &flags, ep);
            if (!r) failed(wsp_call::overlapped_result, SOCKET_ERROR, err, "WSPGetOverlappedResult", errno_null);
            break;
        }
        case c_sockname:
        case c_peername: {
            const SOCKET s = handle_arg(in);
            outname_buf name = outname_arg(in);
            const INT before = name.len;
            const int r = w == c_sockname ? w_.lpWSPGetSockName(s, name.ptr(), name.len_ptr(), ep)
                                          : w_.lpWSPGetPeerName(s, name.ptr(), name.len_ptr(), ep);
            if (failed(w == c_sockname ? wsp_call::getsockname : wsp_call::getpeername, r, err, "WSPGet*Name",
                       errno_null))
                break;
            LWSP_FUZZ_CHECK(name.len <= before && name.len >= 16, "WSPGet*Name: *namelen %d, was %d", name.len, before);
            break;
        }
        case c_addr_to_str: {
            sockaddr_buf a = sockaddr_arg(in);
            const std::uint8_t chars = in.u8() % 80;
            std::unique_ptr<WCHAR[]> out(chars ? new WCHAR[chars] : nullptr);
            DWORD len = chars;
            failed(wsp_call::address_to_string,
                   w_.lpWSPAddressToString(reinterpret_cast<LPSOCKADDR>(a.mem.get()),
                                           static_cast<DWORD>(std::max(a.len, 0)), nullptr, out.get(), &len, ep),
                   err, "WSPAddressToString", errno_null);
            break;
        }
        case c_str_to_addr: {
            const int family = pick(in, {AF_INET, AF_INET6, AF_UNSPEC});
            const std::uint8_t size = in.u8() % 64;
            const bytes t = in.blob8();
            std::unique_ptr<WCHAR[]> text(new WCHAR[t.size() + 1]);
            for (std::size_t i = 0; i < t.size(); ++i) text[i] = t[i];
            text[t.size()] = 0;
            std::unique_ptr<std::uint8_t[]> out(new std::uint8_t[size == 0 ? 1 : size]);
            INT len = size;
            failed(
                wsp_call::string_to_address,
                w_.lpWSPStringToAddress(text.get(), family, nullptr, reinterpret_cast<LPSOCKADDR>(out.get()), &len, ep),
                err, "WSPStringToAddress", errno_null);
            break;
        }
        case c_cancel: {
            const int r = w_.lpWSPCancelBlockingCall(ep);
            if (!errno_null && startups_ > 0)
                LWSP_FUZZ_CHECK(r == SOCKET_ERROR && err == WSAEINVAL,
                                "WSPCancelBlockingCall outside a blocking call: %d, %d", r, err);
            break;
        }
        case c_startup: {
            const std::uint16_t version = in.u16();
            const std::uint8_t ptrs = in.u8();
            WSPDATA data{};
            WSPPROC_TABLE table{};
            WSAPROTOCOL_INFOW info{};
            WSPUPCALLTABLE up;
            lwsp_default_upcalls(&up);
            up.lpWPUQueryBlockingCallback = &query_blocking_callback;
            const int r = WSPStartup(version, (ptrs & 1) ? nullptr : &data, (ptrs & 4) ? &info : nullptr, up,
                                     (ptrs & 2) ? nullptr : &table);
            LWSP_FUZZ_CHECK(r == 0 || r == WSAVERNOTSUPPORTED || r == WSAEFAULT || r == WSASYSNOTREADY ||
                                r == WSAEINPROGRESS || r == WSAEPROCLIM,
                            "WSPStartup: %d", r);
            if (r == 0) {
                ++startups_;
                LWSP_FUZZ_CHECK(table.lpWSPSocket == w_.lpWSPSocket, "WSPStartup filled another proc table");
            }
            break;
        }
        case c_cleanup: {
            const int r = w_.lpWSPCleanup(ep);
            if (r == 0) {
                LWSP_FUZZ_CHECK(!errno_null && startups_ > 0, "WSPCleanup succeeded (lpErrno %p, startups %d)",
                                static_cast<void*>(ep), startups_);
                if (--startups_ == 0) {  // the last cleanup closed every socket
                    for (SOCKET s : open_) closed_.push_back(s);
                    open_.clear();
                }
            } else if (!errno_null) {
                LWSP_FUZZ_CHECK(err == WSANOTINITIALISED || err == WSAENETDOWN || err == WSAEINPROGRESS,
                                "WSPCleanup: %d", err);
            }
            break;
        }
        case c_unsupported: {
            const std::uint8_t which = in.u8() % 6;
            const SOCKET s = handle_arg(in);
            WSAPROTOCOL_INFOW info{};
            char qos_name[4] = "x";
            WSABUF qb{1, qos_name};
            QOS qos{};
            int r;
            switch (which) {
                case 0: r = w_.lpWSPDuplicateSocket(s, 1, &info, ep); break;
                case 1: {
                    sockaddr_in6 a{};
                    const SOCKET j = w_.lpWSPJoinLeaf(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr,
                                                      nullptr, nullptr, 0, ep);
                    r = j == INVALID_SOCKET ? SOCKET_ERROR : 0;
                    break;
                }
                case 2: r = w_.lpWSPSendDisconnect(s, nullptr, ep); break;
                case 3: r = w_.lpWSPRecvDisconnect(s, nullptr, ep); break;
                case 4: r = w_.lpWSPAsyncSelect(s, nullptr, 0, FD_READ, ep); break;
                default: r = w_.lpWSPGetQOSByName(s, &qb, &qos, ep) ? 0 : SOCKET_ERROR; break;
            }
            LWSP_FUZZ_CHECK(r == SOCKET_ERROR, "an unsupported call succeeded (%u)", which);
            if (!errno_null) failed(wsp_call::unsupported, r, err, "unsupported call", false);
            break;
        }
        default: break;
    }
}

void run::start() {
    g_peer = &peer_;
    g_hook = hook_state{};
    g_clock_left = max_clock_ms;
    int err = 0;
    ready_socket_ = w_.lpWSPSocket(AF_INET, SOCK_DGRAM, 0, nullptr, 0, 0, &err);
    LWSP_FUZZ_CHECK(ready_socket_ != INVALID_SOCKET, "the always-writable socket: %d", err);
}

void run::step(input& in) {
    const std::uint8_t w = in.u8() % what_count;
    const std::uint8_t flags = in.u8();
    switch (w) {
        case w_peer: {
            const std::uint8_t action = in.u8() % peer_action_count;
            const std::uint8_t index = in.u8();
            const std::uint16_t arg = in.u16();
            switch (action) {
                case p_connect: peer_.connect(arg & 1, port_of(static_cast<std::uint16_t>(arg >> 1))); break;
                case p_send: peer_.send(index, arg % 20000); break;
                case p_close: peer_.close(index); break;
                case p_reset: peer_.reset_conn(index); break;
                case p_udp: peer_.send_udp(arg & 1, port_of(static_cast<std::uint16_t>(arg >> 1)), index * 8u); break;
                case p_silent: peer_.silent = (arg & 1) != 0; break;
                default: peer_.zero_window = (arg & 1) != 0; break;
            }
            break;
        }
        case w_clock: {
            const std::uint16_t v = in.u16();
            std::uint64_t ms = take_clock(v < 50000 ? v : (v - 50000u) * 1000ull);
            while (ms > 0) {
                const std::uint64_t d = std::min<std::uint64_t>(ms, 10000);
                e_.advance(d);
                peer_.turn();
                ms -= d;
            }
            return;
        }
        case w_alertable:
            while (lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION) {
            }
            break;
        case w_hook:
            g_hook.mode = in.u8();
            g_hook.ms = in.u16();
            g_hook.inner = in.u8();
            return;
        default: call(in, static_cast<what>(w), (flags & rec_null_errno) != 0); break;
    }
    if (!(flags & rec_no_turn)) peer_.turn();
}

void run::finish() {
    int err = 0;
    if (startups_ == 0) {
        WSPDATA data{};
        WSPPROC_TABLE table{};
        WSPUPCALLTABLE up;
        lwsp_default_upcalls(&up);
        up.lpWPUQueryBlockingCallback = &query_blocking_callback;
        LWSP_FUZZ_CHECK(WSPStartup(MAKEWORD(2, 2), &data, nullptr, up, &table) == 0, "WSPStartup again");
        startups_ = 1;
    }
    open_.push_back(ready_socket_);
    for (SOCKET s : open_) {
        struct linger l = {1, 0};  // abortive: never waits
        w_.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err);
        const int r = w_.lpWSPCloseSocket(s, &err);
        LWSP_FUZZ_CHECK(r == 0 || err == WSAENOTSOCK, "closing %llu at the end: %d", static_cast<unsigned long long>(s),
                        err);
    }
    open_.clear();
    while (startups_ > 1) {
        LWSP_FUZZ_CHECK(w_.lpWSPCleanup(&err) == 0, "WSPCleanup: %d", err);
        --startups_;
    }
    // Completion routines queued to this thread run now, while their
    // OVERLAPPED structures still exist.
    while (lwsp_sleep_ex(0, TRUE) == WAIT_IO_COMPLETION) {
    }
    for (auto& o : ops_)
        LWSP_FUZZ_CHECK(!o->submitted || o->ov.Internal != WSS_OPERATION_IN_PROGRESS,
                        "an overlapped operation is still pending after its socket closed");
    peer_.turn();
    g_peer = nullptr;
    e_.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    env& e = the_env();
    fx();
    static peer* p = new peer(e);
    static unblocker* u = new unblocker;
    for (WSAEVENT ev : fx().events) lwsp_reset_event(ev);
    e.begin(link_config{});
    p->reset();
    {
        run r(e, *p, *u);
        r.start();
        input in(data, size);
        for (std::size_t n = 0; n < max_records && !in.empty(); ++n) r.step(in);
        r.finish();
    }
    return 0;
}
