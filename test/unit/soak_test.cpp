// Soak: a random mix of WSP calls from many threads on shared sockets, for a
// bounded time (issue 10: nothing a peer or a busy application does may
// crash, stall or exhaust lwsp).  Both ends of every connection are lwsp
// sockets on the stack's loopback, so the test knows every byte.
//
// Who does what:
//   - pairs of connected sockets (IPv4 or IPv6) come and go, connected
//     blocking, nonblocking with select, or through WSPEventSelect and
//     FD_CONNECT; each pair has one writer thread per direction, sending a
//     position-dependent pattern, and one reader thread per direction
//     checking it — blocking, nonblocking with select, MSG_WAITALL, several
//     WSABUFs, overlapped with an event (waited on, or through
//     WSPGetOverlappedResult(fWait)), overlapped with a completion routine,
//     or after WSPEventSelect;
//   - chaos threads call, on any socket including ones just closed, what
//     must not disturb a stream: get/setsockopt (buffers, keep-alive,
//     TCP_NODELAY, timeouts), FIONBIO, FIONREAD, SIOCATMARK, select, event
//     select and enum, MSG_PEEK (overlapped: refused), names, accept, and
//     connect on connected sockets;
//   - each pair ends gracefully (shutdown(SD_SEND) behind all data; every
//     byte must arrive, then EOF) or is killed at a random moment by an
//     abortive close, a graceful close, shutdown(SD_BOTH) or a close while
//     its threads are blocked — which must release them (WSAEINTR);
//   - listeners close while acceptors are blocked in WSPAccept.
// Checked: every return value is the call's success or one of the Winsock
// codes documented for that call in that situation; no stream loses,
// repeats or reorders a byte; no call blocks for good (a watchdog dumps
// what every thread was doing and releases them); and at the end, after
// TIME_WAIT on the manual clock, pcbs, pbufs, lwIP heap, handles and thread
// records are back to their baseline.  ASan and TSan watch the rest.
//
// LWSP_SOAK_SEED: the seed (printed; each thread draws its choices from its
// own generator seeded from it, so a seed replays the same choices, though
// not the same interleaving).  LWSP_SOAK_MS: how long new pairs are started
// (default 8000).  LWSP_SOAK_PAIRS, LWSP_SOAK_CHAOS: pairs at a time and
// chaos threads (default 2 each).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "loop_env.hpp"
#include "lwsp/upcalls.h"

using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t k_port4 = 7100;
constexpr std::uint16_t k_port6 = 7101;
// Defaults sized for a 2-core machine under TSan; LWSP_SOAK_PAIRS and
// LWSP_SOAK_CHAOS raise them.
constexpr int k_concurrent_pairs = 2;
constexpr int k_chaos_threads = 2;
constexpr std::size_t k_max_quota = 384 * 1024;

// ---- what a call may answer --------------------------------------------------

// Every socket here can be closed by another thread at any moment: any call
// may then fail WSAENOTSOCK (the handle is gone) or, if it was blocked,
// WSAEINTR.
struct codes {
    std::vector<int> list;
    codes(std::initializer_list<int> l) : list(l) {}
    bool has(int c) const { return std::find(list.begin(), list.end(), c) != list.end(); }
};
// A stream call on a connection that the peer may reset or close, that
// another thread may shut down, made nonblocking (FIONBIO, WSPEventSelect)
// or given a timeout (SO_RCVTIMEO/SO_SNDTIMEO).
const codes k_stream_errors{WSAENOTSOCK,     WSAEINTR,     WSAEWOULDBLOCK, WSAECONNRESET,
                            WSAECONNABORTED, WSAESHUTDOWN, WSAENOTCONN,    WSAETIMEDOUT};
// What an overlapped operation may complete with.
const codes k_completion_errors{WSA_OPERATION_ABORTED, WSAECONNRESET, WSAECONNABORTED, WSAESHUTDOWN, WSAENOTCONN};
const codes k_handle_errors{WSAENOTSOCK};
const codes k_fionbio_errors{WSAENOTSOCK, WSAEINVAL};      // FIONBIO 0 on an event-selected socket
const codes k_peer_name_errors{WSAENOTSOCK, WSAENOTCONN};  // reset or a listener: no peer
// WSAEINVAL: not a listening socket (a chaos thread's accept on any socket).
const codes k_accept_errors{WSAENOTSOCK, WSAEINTR, WSAEWOULDBLOCK, WSAECONNRESET, WSAEINVAL};
const codes k_shutdown_errors{WSAENOTSOCK, WSAENOTCONN};
const codes k_close_errors{WSAENOTSOCK};
// FD_CLOSE's iErrorCode.
const codes k_close_event_codes{0, WSAECONNRESET, WSAECONNABORTED};

std::string code_name(int c) {
    switch (c) {
        case 0: return "0";
        case WSAEINTR: return "WSAEINTR";
        case WSAEINVAL: return "WSAEINVAL";
        case WSAEWOULDBLOCK: return "WSAEWOULDBLOCK";
        case WSAENOTSOCK: return "WSAENOTSOCK";
        case WSAEOPNOTSUPP: return "WSAEOPNOTSUPP";
        case WSAECONNABORTED: return "WSAECONNABORTED";
        case WSAECONNRESET: return "WSAECONNRESET";
        case WSAENOTCONN: return "WSAENOTCONN";
        case WSAESHUTDOWN: return "WSAESHUTDOWN";
        case WSAETIMEDOUT: return "WSAETIMEDOUT";
        case WSAEISCONN: return "WSAEISCONN";
        case WSAEFAULT: return "WSAEFAULT";
        case WSANOTINITIALISED: return "WSANOTINITIALISED";
        case WSAENETDOWN: return "WSAENETDOWN";
        case WSA_IO_PENDING: return "WSA_IO_PENDING";
        case WSA_IO_INCOMPLETE: return "WSA_IO_INCOMPLETE";
        case WSA_OPERATION_ABORTED: return "WSA_OPERATION_ABORTED";
        default: return std::to_string(c);
    }
}

// ---- shared state --------------------------------------------------------------

// One direction of a pair.
struct stream {
    std::uint64_t id = 0;   // pattern seed
    std::size_t quota = 0;  // bytes the writer means to send
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> eof{false};
    // A send timed out (SO_SNDTIMEO): Winsock leaves the stream in an
    // indeterminate state, so the writer stops and only the prefix counts.
    std::atomic<bool> indeterminate{false};
};

enum class end_mode { graceful, kill_abortive, kill_graceful, kill_shutdown_both, kill_while_blocked, count };

const char* name_of(end_mode m) {
    switch (m) {
        case end_mode::graceful: return "graceful";
        case end_mode::kill_abortive: return "killed by an abortive close";
        case end_mode::kill_graceful: return "killed by a graceful close";
        case end_mode::kill_shutdown_both: return "killed by shutdown(SD_BOTH)";
        case end_mode::kill_while_blocked: return "killed by a close while blocked";
        case end_mode::count: break;
    }
    return "?";
}

// What a thread is doing, for the stall report.
struct actor {
    std::string name;
    std::atomic<const char*> doing{"starting"};
    std::atomic<bool> finished{false};
};

class soak;

// Per-thread helpers: the thread's generator, its event, its actor record.
struct worker {
    soak& s;
    std::mt19937_64 rng;
    actor& me;
    WSAEVENT ev = nullptr;      // overlapped operations
    WSAEVENT sel_ev = nullptr;  // WSPEventSelect
    worker(soak& owner, std::uint64_t seed, actor& a);
    ~worker();
    std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng() % n); }
    bool coin(unsigned one_in) { return rng() % one_in == 0; }
    void doing(const char* what) { me.doing.store(what); }
};

// A pending overlapped operation and how it completed (also the completion
// routine's context: the OVERLAPPED is its first member).
struct overlapped_call {
    WSAOVERLAPPED ov{};
    std::atomic<bool> done{false};
    DWORD error = 0;
    DWORD bytes = 0;
};
static_assert(offsetof(overlapped_call, ov) == 0, "the completion routine finds its call through the OVERLAPPED");

void CALLBACK on_completion(DWORD error, DWORD bytes, LPWSAOVERLAPPED ov, DWORD) {
    auto* call = reinterpret_cast<overlapped_call*>(ov);
    call->error = error;
    call->bytes = bytes;
    call->done.store(true);
}

class soak {
public:
    soak(loop_env& e, std::uint64_t seed) : env(e), seed_(seed) {}

    loop_env& env;
    std::atomic<bool> starting{true};  // new pairs are still being made
    std::atomic<bool> chaos_on{true};
    std::atomic<bool> gave_up{false};  // the watchdog fired: everyone leaves

    // Counts for the report.
    std::atomic<std::uint64_t> calls{0}, bytes_checked{0}, pairs_done{0}, interrupted{0}, aborted_ops{0};
    std::atomic<std::uint64_t> routines{0}, events_seen{0}, would_blocks{0};

    std::uint64_t seed() const { return seed_; }

    actor& new_actor(std::string name) {
        std::lock_guard<std::mutex> g(mu_);
        actors_.emplace_back();
        actors_.back().name = std::move(name);
        return actors_.back();
    }

    void problem(const std::string& what) {
        std::lock_guard<std::mutex> g(mu_);
        if (problems_.size() < 40) problems_.push_back(what);
        ++problem_count_;
    }
    std::vector<std::string> problems() {
        std::lock_guard<std::mutex> g(mu_);
        return problems_;
    }
    std::size_t problem_count() {
        std::lock_guard<std::mutex> g(mu_);
        return problem_count_;
    }

    // Records a result: 0 (success) or a code that must be in `allowed`.
    // Returns the code.
    int check(const char* call, int code, const codes& allowed, const std::string& where) {
        calls.fetch_add(1, std::memory_order_relaxed);
        if (code == WSAEINTR) interrupted.fetch_add(1, std::memory_order_relaxed);
        if (code == WSAEWOULDBLOCK) would_blocks.fetch_add(1, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> g(mu_);
            ++histogram_[std::string(call) + " " + code_name(code)];
        }
        if (code != 0 && !allowed.has(code) && !gave_up.load())
            problem(where + ": " + call + " failed " + code_name(code) + ", not a code documented for it here");
        return code;
    }

    void progress() {
        if (watchdog_ != nullptr) watchdog_->progress();
    }
    void set_watchdog(stall_watchdog* w) { watchdog_ = w; }

    // Sockets chaos threads pick from: the live ones, and a few closed ones
    // (a stale handle must fail WSAENOTSOCK, never reach another socket).
    void publish(SOCKET h) {
        std::lock_guard<std::mutex> g(mu_);
        live_.push_back(h);
    }
    // Called just before the socket is closed: chaos may still be using it.
    void retire(SOCKET h) {
        std::lock_guard<std::mutex> g(mu_);
        const auto it = std::find(live_.begin(), live_.end(), h);
        if (it == live_.end()) return;
        live_.erase(it);
        stale_.push_back(h);
        if (stale_.size() > 8) stale_.erase(stale_.begin());
    }
    SOCKET any_socket(std::mt19937_64& rng) {
        std::lock_guard<std::mutex> g(mu_);
        const bool stale = live_.empty() || rng() % 5 == 0;
        const std::vector<SOCKET>& from = stale ? stale_ : live_;
        if (from.empty()) return INVALID_SOCKET;
        return from[rng() % from.size()];
    }

    // Accepted sockets, by the client's port, until their pair claims them.
    void accepted(std::uint16_t port, SOCKET s) {
        {
            std::lock_guard<std::mutex> g(mu_);
            accepted_[port] = s;
        }
        accepted_cv_.notify_all();
    }
    SOCKET claim(std::uint16_t port, std::chrono::milliseconds limit) {
        std::unique_lock<std::mutex> lk(mu_);
        const bool there =
            accepted_cv_.wait_for(lk, limit, [&] { return accepted_.count(port) != 0 || gave_up.load(); });
        if (!there || accepted_.count(port) == 0) return INVALID_SOCKET;
        const SOCKET s = accepted_[port];
        accepted_.erase(port);
        return s;
    }
    std::vector<SOCKET> unclaimed() {
        std::lock_guard<std::mutex> g(mu_);
        std::vector<SOCKET> out;
        for (auto& kv : accepted_) out.push_back(kv.second);
        accepted_.clear();
        return out;
    }

    std::string report() {
        std::lock_guard<std::mutex> g(mu_);
        std::ostringstream o;
        o << "results:";
        int k = 0;
        for (auto& kv : histogram_) o << (k++ % 4 == 0 ? "\n    " : ", ") << kv.first << " x" << kv.second;
        return o.str();
    }
    std::string stall_report() {
        std::lock_guard<std::mutex> g(mu_);
        std::ostringstream o;
        o << "stalled (no progress for the watchdog's limit); threads still running:";
        for (actor& a : actors_)
            if (!a.finished.load()) o << "\n    " << a.name << ": " << a.doing.load();
        return o.str();
    }

private:
    std::uint64_t seed_;
    std::mutex mu_;
    std::list<actor> actors_;
    std::vector<std::string> problems_;
    std::size_t problem_count_ = 0;
    std::map<std::string, std::uint64_t> histogram_;
    std::vector<SOCKET> live_, stale_;
    std::map<std::uint16_t, SOCKET> accepted_;
    std::condition_variable accepted_cv_;
    stall_watchdog* watchdog_ = nullptr;
};

worker::worker(soak& owner, std::uint64_t seed, actor& a) : s(owner), rng(seed), me(a) {
    ev = lwsp_create_event();
    sel_ev = lwsp_create_event();
}
worker::~worker() {
    lwsp_close_event(ev);
    lwsp_close_event(sel_ev);
    me.doing.store("finished");
    me.finished.store(true);
}

// ---- waiting helpers (every wait bounded) --------------------------------------

// WSPSelect on one socket for read or write, with a short timeout.  Returns
// false when the socket is gone.
bool wait_ready(worker& w, SOCKET h, bool for_write, const std::string& where) {
    fd_set set{};
    FD_ZERO(&set);
    FD_SET(h, &set);
    timeval tv{0, 20000};
    int err = 0;
    w.doing(for_write ? "select (write)" : "select (read)");
    const int n = w.s.env.p.lpWSPSelect(0, for_write ? nullptr : &set, for_write ? &set : nullptr, nullptr, &tv, &err);
    if (n == SOCKET_ERROR) {
        w.s.check("WSPSelect", err, k_handle_errors, where);
        return false;
    }
    w.s.check("WSPSelect", 0, k_handle_errors, where);
    return true;
}

// Waits for an overlapped call to complete: on its event, or alertably for
// its completion routine.  Bounded by the watchdog: once it fires, the
// provider is cleaned up, which completes every pending operation (and if
// even that leaves a thread waiting, the watchdog aborts the process).
void wait_completion(worker& w, overlapped_call& call, bool routine, SOCKET h, const std::string& where) {
    if (!routine && w.coin(4)) {
        // Straight into WSPGetOverlappedResult(fWait = TRUE): a close on
        // another thread must end this wait too (WSA_OPERATION_ABORTED).
        DWORD bytes = 0, flags = 0;
        int err = 0;
        w.doing("WSPGetOverlappedResult(fWait)");
        if (w.s.env.p.lpWSPGetOverlappedResult(h, &call.ov, &bytes, TRUE, &flags, &err)) {
            call.error = 0;
            call.bytes = bytes;
            call.done.store(true);
            // The event was set as well; it is reset before the next use.
            lwsp_wait_for_multiple_events(1, &w.ev, FALSE, 5000, FALSE);
            lwsp_reset_event(w.ev);
            return;
        }
        if (err != WSAENOTSOCK) {
            w.s.check("WSPGetOverlappedResult(fWait)", err, k_completion_errors, where);
            call.error = static_cast<DWORD>(err);
            call.bytes = bytes;
            call.done.store(true);
            lwsp_wait_for_multiple_events(1, &w.ev, FALSE, 5000, FALSE);
            lwsp_reset_event(w.ev);
            return;
        }
        // The handle is gone (closed before or during the wait): the event
        // still tells when the operation ended.
    }
    if (routine) {
        w.doing("alertable wait for a completion routine");
        while (!call.done.load()) lwsp_sleep_ex(200, TRUE);
        w.s.routines.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    for (;;) {
        w.doing("wait for an overlapped event");
        while (lwsp_wait_for_multiple_events(1, &w.ev, FALSE, 200, FALSE) != WSA_WAIT_EVENT_0) {
        }
        lwsp_reset_event(w.ev);
        DWORD bytes = 0, flags = 0;
        int err = 0;
        w.doing("WSPGetOverlappedResult");
        if (w.s.env.p.lpWSPGetOverlappedResult(h, &call.ov, &bytes, FALSE, &flags, &err)) {
            call.error = 0;
            call.bytes = bytes;
        } else if (err == WSA_IO_INCOMPLETE) {
            w.s.problem(where + ": the event of a pending overlapped operation was signalled");
            continue;
        } else if (err == WSAENOTSOCK) {
            // Closed meanwhile: the OVERLAPPED still says how it ended.
            call.error = static_cast<DWORD>(call.ov.OffsetHigh);
            call.bytes = static_cast<DWORD>(call.ov.InternalHigh);
        } else {
            w.s.check("WSPGetOverlappedResult", err, k_completion_errors, where);
            call.error = static_cast<DWORD>(err);
            call.bytes = bytes;
        }
        break;
    }
    call.done.store(true);
}

// ---- the pair's threads ---------------------------------------------------------

// Sends s.quota pattern bytes on `h`, then shutdown(SD_SEND) if asked.
void writer(worker& w, SOCKET h, stream& st, bool shutdown_after, const std::string& where) {
    std::vector<std::uint8_t> buf(64 * 1024);
    std::uint64_t off = 0;
    while (off < st.quota && !w.s.gave_up.load()) {
        const std::size_t n = std::min<std::size_t>(st.quota - off, 1 + w.pick(w.coin(3) ? buf.size() : 2000));
        fill_pattern(buf.data(), n, off, st.id);
        const std::size_t mode = w.pick(5);
        int code = 0;
        std::size_t sent = 0;
        if (mode <= 2) {  // plain, or split over three WSABUFs
            WSABUF b[3];
            DWORD count = 1;
            b[0] = {static_cast<u_long>(n), reinterpret_cast<char*>(buf.data())};
            if (mode == 2 && n >= 3) {
                const std::size_t a = n / 3, c = n / 2;
                b[0].len = static_cast<u_long>(a);
                b[1] = {static_cast<u_long>(c - a), reinterpret_cast<char*>(buf.data() + a)};
                b[2] = {static_cast<u_long>(n - c), reinterpret_cast<char*>(buf.data() + c)};
                count = 3;
            }
            DWORD done = 0;
            int err = 0;
            w.doing("WSPSend");
            if (w.s.env.p.lpWSPSend(h, b, count, &done, 0, nullptr, nullptr, nullptr, &err) == 0) {
                sent = done;
            } else {
                code = w.s.check("WSPSend", err, k_stream_errors, where);
            }
        } else {  // overlapped: event or completion routine
            const bool routine = mode == 4;
            overlapped_call call;
            call.ov.hEvent = routine ? nullptr : w.ev;
            WSABUF b{static_cast<u_long>(n), reinterpret_cast<char*>(buf.data())};
            DWORD done = 0;
            int err = 0;
            w.doing("WSPSend (overlapped)");
            const int r =
                w.s.env.p.lpWSPSend(h, &b, 1, &done, 0, &call.ov, routine ? &on_completion : nullptr, nullptr, &err);
            if (r == 0 || err == WSA_IO_PENDING) {
                wait_completion(w, call, routine, h, where);
                if (call.error == 0) {
                    if (call.bytes != n)
                        w.s.problem(where + ": overlapped send completed with " + std::to_string(call.bytes) + " of " +
                                    std::to_string(n) + " bytes");
                    sent = call.bytes;
                } else {
                    code = w.s.check("overlapped send", static_cast<int>(call.error), k_completion_errors, where);
                    if (code == WSA_OPERATION_ABORTED) w.s.aborted_ops.fetch_add(1);
                    off += call.bytes;  // what went out before the end
                }
            } else {
                code = w.s.check("WSPSend (overlapped)", err, k_stream_errors, where);
            }
        }
        off += sent;
        st.sent.store(off);
        if (sent > 0) w.s.progress();
        if (code == 0) continue;
        if (code == WSAEWOULDBLOCK) {
            if (!wait_ready(w, h, true, where)) return;
            continue;
        }
        if (code == WSAETIMEDOUT) {  // the stream is indeterminate: stop, but still end it
            st.indeterminate.store(true);
            break;
        }
        return;  // the connection or the socket is gone
    }
    if (shutdown_after && !w.s.gave_up.load()) {
        int err = 0;
        w.doing("WSPShutdown(SD_SEND)");
        if (w.s.env.p.lpWSPShutdown(h, SD_SEND, &err) != 0) w.s.check("WSPShutdown", err, k_shutdown_errors, where);
    }
}

// Receives on `h` until EOF or an error, checking every byte.
void reader(worker& w, SOCKET h, stream& st, const std::string& where) {
    std::vector<std::uint8_t> buf(64 * 1024);
    std::uint64_t off = 0;
    bool selected = false;
    while (!w.s.gave_up.load()) {
        const std::size_t want = 1 + w.pick(w.coin(3) ? buf.size() : 3000);
        const std::size_t mode = w.pick(7);
        int code = 0;
        std::size_t got = 0;
        bool eof = false;
        if (mode <= 2 || mode == 6) {  // plain, MSG_WAITALL, three WSABUFs, or after WSPEventSelect
            if (mode == 6) {
                int err = 0;
                w.doing("WSPEventSelect");
                if (w.s.env.p.lpWSPEventSelect(h, w.sel_ev, FD_READ | FD_CLOSE, &err) != 0) {
                    code = w.s.check("WSPEventSelect", err, k_handle_errors, where);
                    if (code != 0) return;
                }
                selected = true;
                w.doing("wait for FD_READ/FD_CLOSE");
                lwsp_wait_for_multiple_events(1, &w.sel_ev, FALSE, 50, FALSE);
                WSANETWORKEVENTS ne{};
                w.doing("WSPEnumNetworkEvents");
                if (w.s.env.p.lpWSPEnumNetworkEvents(h, w.sel_ev, &ne, &err) != 0) {
                    if (w.s.check("WSPEnumNetworkEvents", err, k_handle_errors, where) != 0) return;
                } else if (ne.lNetworkEvents != 0) {
                    w.s.events_seen.fetch_add(1, std::memory_order_relaxed);
                    if ((ne.lNetworkEvents & FD_CLOSE) && !k_close_event_codes.has(ne.iErrorCode[FD_CLOSE_BIT]))
                        w.s.problem(where + ": FD_CLOSE with iErrorCode " + code_name(ne.iErrorCode[FD_CLOSE_BIT]));
                    if ((ne.lNetworkEvents & FD_READ) && ne.iErrorCode[FD_READ_BIT] != 0)
                        w.s.problem(where + ": FD_READ with iErrorCode " + code_name(ne.iErrorCode[FD_READ_BIT]));
                }
            }
            WSABUF b[3];
            DWORD count = 1;
            b[0] = {static_cast<u_long>(want), reinterpret_cast<char*>(buf.data())};
            if (mode == 2 && want >= 3) {
                const std::size_t a = want / 3, c = want / 2;
                b[0].len = static_cast<u_long>(a);
                b[1] = {static_cast<u_long>(c - a), reinterpret_cast<char*>(buf.data() + a)};
                b[2] = {static_cast<u_long>(want - c), reinterpret_cast<char*>(buf.data() + c)};
                count = 3;
            }
            DWORD done = 0, flags = mode == 1 ? MSG_WAITALL : 0;
            int err = 0;
            w.doing(mode == 1 ? "WSPRecv(MSG_WAITALL)" : "WSPRecv");
            if (w.s.env.p.lpWSPRecv(h, b, count, &done, &flags, nullptr, nullptr, nullptr, &err) == 0) {
                got = done;
                eof = done == 0;
            } else {
                code = w.s.check("WSPRecv", err, k_stream_errors, where);
            }
        } else {  // overlapped: event (3, 4) or completion routine (5)
            const bool routine = mode == 5;
            overlapped_call call;
            call.ov.hEvent = routine ? nullptr : w.ev;
            WSABUF b{static_cast<u_long>(want), reinterpret_cast<char*>(buf.data())};
            DWORD done = 0, flags = 0;
            int err = 0;
            w.doing("WSPRecv (overlapped)");
            const int r = w.s.env.p.lpWSPRecv(h, &b, 1, &done, &flags, &call.ov, routine ? &on_completion : nullptr,
                                              nullptr, &err);
            if (r == 0 || err == WSA_IO_PENDING) {
                wait_completion(w, call, routine, h, where);
                if (call.error == 0) {
                    got = call.bytes;
                    eof = call.bytes == 0;
                } else {
                    code = w.s.check("overlapped recv", static_cast<int>(call.error), k_completion_errors, where);
                    if (code == WSA_OPERATION_ABORTED) w.s.aborted_ops.fetch_add(1);
                }
            } else {
                code = w.s.check("WSPRecv (overlapped)", err, k_stream_errors, where);
            }
        }
        if (got > 0) {
            const std::size_t bad = check_pattern(buf.data(), got, off, st.id);
            if (bad != got) {
                w.s.problem(where + ": byte " + std::to_string(off + bad) + " of the stream is wrong (" +
                            std::to_string(got) + " bytes received at offset " + std::to_string(off) + ")");
                return;
            }
            off += got;
            st.received.store(off);
            w.s.bytes_checked.fetch_add(got, std::memory_order_relaxed);
            w.s.progress();
            continue;
        }
        if (eof) {
            st.eof.store(true);
            return;
        }
        if (code == WSAEWOULDBLOCK) {
            if (!selected && !wait_ready(w, h, false, where)) return;
            continue;
        }
        if (code == WSAETIMEDOUT) continue;  // SO_RCVTIMEO: nothing was taken
        return;
    }
}

// ---- chaos -------------------------------------------------------------------------

void chaos(worker& w) {
    soak& s = w.s;
    loop_env& env = s.env;
    const std::string where = "chaos " + w.me.name;
    while (s.chaos_on.load() && !s.gave_up.load()) {
        const SOCKET h = s.any_socket(w.rng);
        if (h == INVALID_SOCKET) {
            std::this_thread::yield();
            continue;
        }
        int err = 0;
        switch (w.pick(12)) {
            case 0: {  // read an option
                static const int names[] = {SO_RCVBUF,     SO_SNDBUF,   SO_KEEPALIVE,  SO_TYPE,      SO_LINGER,
                                            SO_DONTLINGER, SO_RCVTIMEO, SO_ACCEPTCONN, SO_REUSEADDR, SO_ERROR};
                char val[16] = {};
                int len = sizeof val;
                w.doing("WSPGetSockOpt");
                const int name = names[w.pick(std::size(names))];
                if (env.p.lpWSPGetSockOpt(h, SOL_SOCKET, name, val, &len, &err) != 0)
                    s.check("WSPGetSockOpt", err, k_handle_errors, where);
                break;
            }
            case 1: {  // set an option that leaves the streams as they are
                w.doing("WSPSetSockOpt");
                int r = 0;
                switch (w.pick(6)) {
                    case 0: r = env.set_int(h, SOL_SOCKET, SO_RCVBUF, static_cast<int>(1024 << w.pick(8))); break;
                    case 1: r = env.set_int(h, SOL_SOCKET, SO_SNDBUF, static_cast<int>(1024 << w.pick(8))); break;
                    case 2: r = env.set_int(h, SOL_SOCKET, SO_KEEPALIVE, static_cast<int>(w.pick(2))); break;
                    case 3: r = env.set_int(h, IPPROTO_TCP, TCP_NODELAY, static_cast<int>(w.pick(2))); break;
                    case 4:
                        r = env.set_int(h, SOL_SOCKET, SO_RCVTIMEO, w.coin(2) ? 0 : 20 + static_cast<int>(w.pick(200)));
                        break;
                    default:
                        r = env.set_int(h, SOL_SOCKET, SO_SNDTIMEO,
                                        w.coin(2) ? 0 : 500 + static_cast<int>(w.pick(2000)));
                        break;
                }
                s.check("WSPSetSockOpt", r, codes{WSAENOTSOCK, WSAENOPROTOOPT}, where);
                break;
            }
            case 2: {
                u_long n = 0;
                w.doing("FIONREAD");
                s.check("WSPIoctl(FIONREAD)", env.bytes_readable(h, n), k_handle_errors, where);
                break;
            }
            case 3:
                w.doing("FIONBIO");
                s.check("WSPIoctl(FIONBIO)", env.set_nonblocking(h, w.coin(2)), k_fionbio_errors, where);
                break;
            case 4: {  // select, zero or short timeout, on up to three sockets
                fd_set r{}, wr{}, ex{};
                FD_ZERO(&r);
                FD_ZERO(&wr);
                FD_ZERO(&ex);
                for (int k = 0, n = 1 + static_cast<int>(w.pick(3)); k < n; ++k) {
                    const SOCKET o = k == 0 ? h : s.any_socket(w.rng);
                    FD_SET(o, &r);
                    FD_SET(o, &wr);
                    FD_SET(o, &ex);
                }
                timeval tv{0, w.coin(2) ? 0 : 10000};
                w.doing("WSPSelect");
                const int n = env.p.lpWSPSelect(0, &r, &wr, &ex, &tv, &err);
                s.check("WSPSelect", n == SOCKET_ERROR ? err : 0, k_handle_errors, where);
                break;
            }
            case 5: {  // register, look, clear
                w.doing("WSPEventSelect");
                const long mask = static_cast<long>(w.pick(FD_ALL_EVENTS + 1)) &
                                  (FD_READ | FD_WRITE | FD_ACCEPT | FD_CONNECT | FD_CLOSE);
                if (env.p.lpWSPEventSelect(h, mask ? w.sel_ev : nullptr, mask, &err) != 0) {
                    s.check("WSPEventSelect", err, k_handle_errors, where);
                    break;
                }
                WSANETWORKEVENTS ne{};
                w.doing("WSPEnumNetworkEvents");
                if (env.p.lpWSPEnumNetworkEvents(h, w.sel_ev, &ne, &err) != 0) {
                    s.check("WSPEnumNetworkEvents", err, k_handle_errors, where);
                } else if ((ne.lNetworkEvents & FD_CLOSE) && !k_close_event_codes.has(ne.iErrorCode[FD_CLOSE_BIT])) {
                    s.problem(where + ": FD_CLOSE with iErrorCode " + code_name(ne.iErrorCode[FD_CLOSE_BIT]));
                }
                if (w.coin(2)) {
                    w.doing("WSPEventSelect(0)");
                    if (env.p.lpWSPEventSelect(h, nullptr, 0, &err) != 0)
                        s.check("WSPEventSelect", err, k_handle_errors, where);
                }
                break;
            }
            case 6: {  // peek: takes nothing from the reader
                char b[64];
                w.doing("WSPRecv(MSG_PEEK)");
                WSABUF wb{sizeof b, b};
                DWORD got = 0, flags = MSG_PEEK;
                if (env.p.lpWSPRecv(h, &wb, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0)
                    s.check("WSPRecv(MSG_PEEK)", err,
                            codes{WSAENOTSOCK, WSAEINTR, WSAEWOULDBLOCK, WSAECONNRESET, WSAECONNABORTED, WSAESHUTDOWN,
                                  WSAENOTCONN, WSAETIMEDOUT},
                            where);
                break;
            }
            case 7: {  // an overlapped peek is refused, and gives no completion
                char b[8];
                WSABUF wb{sizeof b, b};
                DWORD got = 0, flags = MSG_PEEK;
                WSAOVERLAPPED ov{};
                ov.hEvent = w.ev;
                w.doing("WSPRecv(MSG_PEEK, overlapped)");
                const int r = env.p.lpWSPRecv(h, &wb, 1, &got, &flags, &ov, nullptr, nullptr, &err);
                if (r == 0)
                    s.problem(where + ": an overlapped MSG_PEEK succeeded");
                else
                    s.check("WSPRecv(MSG_PEEK, overlapped)", err, codes{WSAENOTSOCK, WSAEOPNOTSUPP}, where);
                break;
            }
            case 8: {
                std::uint16_t port = 0;
                w.doing("WSPGetSockName/WSPGetPeerName");
                s.check("WSPGetSockName", env.local_port(h, port), k_handle_errors, where);
                s.check("WSPGetPeerName", env.peer_port(h, port), k_peer_name_errors, where);
                break;
            }
            case 9: {  // accept on whatever it is (a listener or not): hands the socket over
                if (env.set_nonblocking(h, true) != 0) break;
                std::uint16_t port = 0;
                w.doing("WSPAccept");
                const SOCKET a = env.accept(h, err, &port);
                if (a != INVALID_SOCKET)
                    s.accepted(port, a);
                else
                    s.check("WSPAccept", err, k_accept_errors, where);
                break;
            }
            case 10: {  // connect on a connected (or closed) socket
                w.doing("WSPConnect");
                const int r = env.connect(h, w.coin(2), 9);
                // WSAEFAULT: the address family is not the socket's.
                s.check("WSPConnect", r,
                        codes{WSAENOTSOCK, WSAEISCONN, WSAEINVAL, WSAEFAULT, WSAEALREADY, WSAEWOULDBLOCK,
                              WSAECONNREFUSED, WSAEINTR},
                        where);
                break;
            }
            default: {
                u_long v = 0;
                DWORD ret = 0;
                w.doing("WSPIoctl(SIOCATMARK)");
                if (env.p.lpWSPIoctl(h, SIOCATMARK, nullptr, 0, &v, sizeof v, &ret, nullptr, nullptr, nullptr, &err) !=
                    0)
                    s.check("WSPIoctl(SIOCATMARK)", err, codes{WSAENOTSOCK}, where);
                break;
            }
        }
        w.doing("between calls");
    }
}

// ---- acceptors ---------------------------------------------------------------------

void acceptor(worker& w, SOCKET lst) {
    const std::string where = "acceptor " + w.me.name;
    while (!w.s.gave_up.load()) {
        int err = 0;
        std::uint16_t port = 0;
        w.doing("WSPAccept");
        const SOCKET a = w.s.env.accept(lst, err, &port);
        if (a != INVALID_SOCKET) {
            w.s.accepted(port, a);
            w.s.progress();
            continue;
        }
        const int code = w.s.check("WSPAccept", err, k_accept_errors, where);
        if (code == WSAEWOULDBLOCK || code == WSAECONNRESET) {  // a chaos thread made it nonblocking
            if (!wait_ready(w, lst, false, where)) return;
            continue;
        }
        return;  // the listener closed (WSAEINTR while blocked, WSAENOTSOCK after)
    }
}

// ---- one pair, start to end -----------------------------------------------------------

void run_pair(soak& s, int index) {
    actor& me = s.new_actor("pair " + std::to_string(index));
    worker w(s, s.seed() * 7919 + static_cast<std::uint64_t>(index), me);
    loop_env& env = s.env;
    const bool v6 = w.coin(2);
    const end_mode mode = static_cast<end_mode>(w.pick(static_cast<std::size_t>(end_mode::count)));
    std::ostringstream name;
    name << "pair " << index << " (" << (v6 ? "IPv6" : "IPv4") << ", " << name_of(mode) << ")";
    const std::string where = name.str();

    int err = 0;
    w.doing("WSPSocket");
    const SOCKET a = env.socket(v6, err);
    if (a == INVALID_SOCKET) {
        s.problem(where + ": WSPSocket failed " + code_name(err));
        return;
    }
    // Connect: blocking; nonblocking, then select until writable; or
    // nonblocking through WSPEventSelect, until FD_CONNECT.
    const std::size_t connect_mode = w.pick(3);
    if (connect_mode == 1) env.set_nonblocking(a, true);
    if (connect_mode == 2 && env.p.lpWSPEventSelect(a, w.sel_ev, FD_CONNECT | FD_WRITE, &err) != 0)
        s.check("WSPEventSelect", err, codes{}, where);
    w.doing("WSPConnect");
    int r = env.connect(a, v6, v6 ? k_port6 : k_port4);
    if (connect_mode == 1 && r == WSAEWOULDBLOCK) {
        for (int k = 0; k < 500 && r == WSAEWOULDBLOCK; ++k) {
            if (!wait_ready(w, a, true, where)) break;
            std::uint16_t port = 0;
            if (env.peer_port(a, port) == 0) r = 0;
        }
    }
    if (connect_mode == 2 && r == WSAEWOULDBLOCK) {
        w.doing("waiting for FD_CONNECT");
        for (int k = 0; k < 500 && r == WSAEWOULDBLOCK; ++k) {
            lwsp_wait_for_multiple_events(1, &w.sel_ev, FALSE, 20, FALSE);
            WSANETWORKEVENTS ne{};
            if (env.p.lpWSPEnumNetworkEvents(a, w.sel_ev, &ne, &err) != 0) {
                r = err;
                break;
            }
            if (ne.lNetworkEvents & FD_CONNECT) r = ne.iErrorCode[FD_CONNECT_BIT];
        }
        if (env.p.lpWSPEventSelect(a, nullptr, 0, &err) != 0) s.check("WSPEventSelect", err, codes{}, where);
    }
    if (connect_mode != 0) s.check("WSPIoctl(FIONBIO)", env.set_nonblocking(a, false), codes{}, where);
    s.check("WSPConnect", r, codes{}, where);
    std::uint16_t client_port = 0;
    SOCKET b = INVALID_SOCKET;
    if (r == 0 && env.local_port(a, client_port) == 0) {
        w.doing("waiting for the acceptor");
        b = s.claim(client_port, 10s);
        if (b == INVALID_SOCKET && !s.gave_up.load()) s.problem(where + ": the connection was never accepted");
    }
    if (b == INVALID_SOCKET) {
        env.close(a);
        return;
    }
    s.publish(a);
    s.publish(b);

    stream ab, ba;
    ab.id = w.rng();
    ba.id = w.rng();
    ab.quota = 1 + w.pick(k_max_quota);
    ba.quota = 1 + w.pick(k_max_quota);
    const bool graceful = mode == end_mode::graceful;
    std::vector<std::thread> threads;
    std::vector<actor*> roles;
    auto spawn = [&](const std::string& role, auto body) {
        actor& act = s.new_actor(where + " " + role);
        roles.push_back(&act);
        const std::uint64_t sub = w.rng();
        threads.emplace_back([&s, &act, sub, body] {
            worker tw(s, sub, act);
            body(tw);
        });
    };
    spawn("writer a->b", [&](worker& tw) { writer(tw, a, ab, true, where + " writer a->b"); });
    spawn("reader b", [&](worker& tw) { reader(tw, b, ab, where + " reader b"); });
    spawn("writer b->a", [&](worker& tw) { writer(tw, b, ba, true, where + " writer b->a"); });
    spawn("reader a", [&](worker& tw) { reader(tw, a, ba, where + " reader a"); });

    bool killed = false;
    if (!graceful) {
        // Kill at a random point of the transfer (or after it, if it ends first).
        const std::uint64_t at = w.pick(ab.quota);
        w.doing("waiting for the moment to kill");
        while (!s.gave_up.load() && ab.received.load() < at && !ab.eof.load() && !ba.eof.load()) {
            std::this_thread::sleep_for(1ms);
            if (ab.sent.load() >= ab.quota && ba.sent.load() >= ba.quota && ab.received.load() == ab.sent.load()) break;
        }
        const SOCKET victim = w.coin(2) ? a : b;
        w.doing("killing");
        if (mode != end_mode::kill_shutdown_both) s.retire(victim);
        killed = true;
        switch (mode) {
            case end_mode::kill_abortive:
                s.check("WSPSetSockOpt(SO_LINGER)", env.set_linger(victim, true, 0), k_handle_errors, where);
                s.check("WSPCloseSocket", env.close(victim), k_close_errors, where);
                break;
            case end_mode::kill_graceful:
                s.check("WSPCloseSocket", env.close(victim), codes{WSAENOTSOCK, WSAEWOULDBLOCK}, where);
                break;
            case end_mode::kill_shutdown_both:
                s.check("WSPShutdown(SD_BOTH)", env.shutdown(victim, SD_BOTH), k_shutdown_errors, where);
                break;
            default:  // while blocked: both at once
                s.retire(a == victim ? b : a);
                s.check("WSPCloseSocket", env.close(a), k_close_errors, where);
                s.check("WSPCloseSocket", env.close(b), k_close_errors, where);
                break;
        }
    }
    if (killed) {
        // The survivors see the reset, the EOF or the shutdown on their own
        // — or do not: an overlapped receive stays pending across
        // shutdown(SD_RECEIVE), a blocked send waits for a window that no
        // longer opens.  Then the close releases them, as an application's
        // would.
        w.doing("waiting for the pair's threads to notice");
        const auto until = std::chrono::steady_clock::now() + 300ms;
        while (std::chrono::steady_clock::now() < until && !s.gave_up.load() &&
               !std::all_of(roles.begin(), roles.end(), [](actor* r) { return r->finished.load(); }))
            std::this_thread::sleep_for(1ms);
        for (SOCKET h : {a, b}) {
            s.retire(h);
            s.check("WSPCloseSocket", env.close(h), k_close_errors, where);
        }
    }
    w.doing("joining the pair's threads");
    // Each thread ends on EOF or on the error its socket gives; a thread
    // blocked for good is released by the watchdog's cleanup.
    for (auto& t : threads) t.join();

    if (graceful && !s.gave_up.load()) {
        for (stream* st : {&ab, &ba}) {
            const char* dir = st == &ab ? "a->b" : "b->a";
            if (st->indeterminate.load()) continue;  // a send timed out (SO_SNDTIMEO): only the prefix counts
            if (!st->eof.load() || st->received.load() != st->quota || st->sent.load() != st->quota)
                s.problem(where + " " + dir + ": graceful end but " + std::to_string(st->received.load()) + " of " +
                          std::to_string(st->quota) + " bytes arrived (" + std::to_string(st->sent.load()) + " sent)" +
                          (st->eof.load() ? ", then EOF" : ", no EOF"));
        }
    }
    // Close what is still open: lingering (SO_LINGER > 0, blocking) is
    // fine now that nothing is in flight, or the default.
    w.doing("closing");
    for (SOCKET h : {a, b}) {
        if (killed) break;  // closed above
        s.retire(h);
        if (w.coin(3)) env.set_linger(h, true, 5);
        if (w.coin(4)) env.set_nonblocking(h, false);
        int c = env.close(h);
        // Nonblocking and lingering: WSAEWOULDBLOCK until the peer has
        // acknowledged everything (the ticker moves time on meanwhile).
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (c == WSAEWOULDBLOCK && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(1ms);
            c = env.close(h);
        }
        s.check("WSPCloseSocket", c, k_close_errors, where);
    }
    s.pairs_done.fetch_add(1);
    s.progress();
}

}  // namespace

TEST_CASE("a random mix of WSP calls from many threads on shared sockets keeps every stream intact and leaks nothing",
          "[soak]") {
    const std::uint64_t seed = seed_from_env("LWSP_SOAK_SEED");
    const auto duration = std::chrono::milliseconds(number_from_env("LWSP_SOAK_MS", 8000));
    std::printf("soak: %lld ms, LWSP_SOAK_SEED=%llu\n", static_cast<long long>(duration.count()),
                static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    INFO("LWSP_SOAK_SEED=" << seed);

    loop_env env;
    const resources empty = measure(env.st);
    soak s(env, seed);
    std::string stall;
    std::mutex stall_mu;
    std::atomic<bool> all_joined{false};
    stall_watchdog watchdog(20s, [&] {
        {
            std::lock_guard<std::mutex> g(stall_mu);
            stall = s.stall_report();
        }
        std::fprintf(stderr, "soak (LWSP_SOAK_SEED=%llu): %s\n", static_cast<unsigned long long>(seed), stall.c_str());
        s.gave_up.store(true);
        int err = 0;
        env.p.lpWSPCleanup(&err);  // closes every socket: blocked calls return WSAEINTR
        // Cleanup must release every thread.  If one still hangs, say where
        // and end the process rather than leave CTest waiting.
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (!all_joined.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
        if (!all_joined.load()) {
            std::fprintf(stderr, "soak: threads still blocked after WSPCleanup: %s\n", s.stall_report().c_str());
            std::abort();
        }
    });
    s.set_watchdog(&watchdog);
    clock_ticker ticker(env.st);

    int err = 0;
    SOCKET lst[2];
    for (int k = 0; k < 2; ++k) {
        lst[k] = env.socket(k == 1, err);
        REQUIRE(lst[k] != INVALID_SOCKET);
        REQUIRE(env.bind(lst[k], k == 1, k == 1 ? k_port6 : k_port4) == 0);
        REQUIRE(env.listen(lst[k], 8) == 0);
        s.publish(lst[k]);
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> helpers;
    for (int k = 0; k < 2; ++k) {
        actor& act = s.new_actor(k == 0 ? "IPv4" : "IPv6");
        helpers.emplace_back([&s, &act, k, seed, l = lst[k]] {
            worker w(s, seed * 31 + static_cast<std::uint64_t>(k), act);
            acceptor(w, l);
        });
    }
    std::vector<std::thread> chaos_threads;
    const int chaos_count = static_cast<int>(number_from_env("LWSP_SOAK_CHAOS", k_chaos_threads));
    const int pair_count = static_cast<int>(number_from_env("LWSP_SOAK_PAIRS", k_concurrent_pairs));
    for (int k = 0; k < chaos_count; ++k) {
        actor& act = s.new_actor(std::to_string(k));
        chaos_threads.emplace_back([&s, &act, k, seed] {
            worker w(s, seed * 131 + static_cast<std::uint64_t>(k), act);
            chaos(w);
        });
    }
    // Pairs, pair_count at a time, until the time is up.
    {
        std::vector<std::thread> pairs;
        int next = 0;
        std::atomic<int> running{0};
        while (std::chrono::steady_clock::now() - t0 < duration && !s.gave_up.load()) {
            if (running.load() < pair_count) {
                running.fetch_add(1);
                pairs.emplace_back([&s, &running, index = next++] {
                    run_pair(s, index);
                    running.fetch_sub(1);
                });
            } else {
                std::this_thread::sleep_for(2ms);
            }
        }
        for (auto& t : pairs) t.join();
    }
    // Listeners close while their acceptors wait in WSPAccept.
    for (SOCKET l : lst) {
        s.retire(l);
        s.check("WSPCloseSocket", env.close(l), k_close_errors, "listener");
    }
    for (auto& t : helpers) t.join();
    s.chaos_on.store(false);
    for (auto& t : chaos_threads) t.join();
    all_joined.store(true);
    for (SOCKET h : s.unclaimed()) s.check("WSPCloseSocket", env.close(h), k_close_errors, "unclaimed");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ticker.stop();

    const resources busy = measure(env.st);
    env.advance(k_past_time_wait);
    const resources after = measure(env.st);
    std::printf(
        "soak: %.1f s, %llu pairs, %llu calls, %llu bytes checked, %llu blocked calls released (WSAEINTR), "
        "%llu overlapped operations aborted, %llu completion routines, %llu event rounds, %llu would-blocks\n"
        "  %s\n  before TIME_WAIT expiry: %s\n  empty: %s\n  after: %s\n",
        seconds, static_cast<unsigned long long>(s.pairs_done.load()), static_cast<unsigned long long>(s.calls.load()),
        static_cast<unsigned long long>(s.bytes_checked.load()), static_cast<unsigned long long>(s.interrupted.load()),
        static_cast<unsigned long long>(s.aborted_ops.load()), static_cast<unsigned long long>(s.routines.load()),
        static_cast<unsigned long long>(s.events_seen.load()), static_cast<unsigned long long>(s.would_blocks.load()),
        s.report().c_str(), describe(busy).c_str(), describe(empty).c_str(), describe(after).c_str());
    std::fflush(stdout);
    {
        std::lock_guard<std::mutex> g(stall_mu);
        INFO(stall);
        CHECK_FALSE(watchdog.fired());
    }
    const std::vector<std::string> problems = s.problems();
    for (const std::string& p : problems) UNSCOPED_INFO(p);
    CHECK(s.problem_count() == 0);
    CHECK(s.pairs_done.load() > 0);
    CHECK(s.bytes_checked.load() > 0);
    INFO("empty: " << describe(empty) << "\nafter: " << describe(after));
    CHECK(after.stack.tcp_pcbs == 0);
    CHECK(after.stack.tcp_segments == 0);
    CHECK(after.stack.pbufs == empty.stack.pbufs);
    CHECK(after.stack.heap_bytes == empty.stack.heap_bytes);
    CHECK(after.handles == 0);
    CHECK(after.thread_states == empty.thread_states);
}
