// The bare-metal platform on the host: one thread, no driver thread, the
// application's clock and idle hooks (lwsp/stack.h).  Every blocking WSP
// call must run the main loop itself — loopback traffic, timers, deferred
// completions — until its condition, its deadline or its failure, and give
// the same results as on a hosted build: a blocking accept and a
// MSG_WAITALL receive complete, SO_RCVTIMEO times out at its deadline, a
// lingering close waits its linger time and then resets, an overlapped
// receive signals its event inside a wait, a completion routine runs in an
// alertable wait, a select times out, a refused connect fails
// WSAECONNREFUSED, and WSPCancelBlockingCall from the blocking hook ends a
// blocking call with WSAEINTR.
//
// Built only with LWSP_PLATFORM=bare_metal (test/bare_metal/CMakeLists.txt);
// each TEST_CASE runs in its own process (one stack per process).
#include <catch2/catch.hpp>

#include <time.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "lwsp/lwsp.h"
#include "lwsp/upcalls.h"

namespace {

unsigned long long mono_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000000;
}

// The host's stand-in for WFI: nothing interrupts it, so it sleeps until
// the time the loop asked for (at most 10 ms at a time, a tick).
void idle_until(unsigned long long until_ms) {
    const unsigned long long now = mono_ms();
    if (until_ms <= now) return;
    const unsigned long long ms = until_ms - now < 10 ? until_ms - now : 10;
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
    nanosleep(&ts, nullptr);
}

void fill_random(void* buf, size_t len) {
    auto* p = static_cast<unsigned char*>(buf);
    unsigned long long x = mono_ms() * 6364136223846793005ull + 1442695040888963407ull;
    for (size_t i = 0; i < len; ++i) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        p[i] = static_cast<unsigned char>(x >> 56);
    }
}

u_short be16(unsigned v) { return static_cast<u_short>(((v & 0xff) << 8) | ((v >> 8) & 0xff)); }

SOCKADDR_IN loopback(unsigned port) {
    SOCKADDR_IN a{};
    a.sin_family = AF_INET;
    a.sin_port = be16(port);
    const unsigned char ip[4] = {127, 0, 0, 1};
    std::memcpy(&a.sin_addr, ip, 4);
    return a;
}

// A bare-metal stack, the provider, and helpers for the calls the cases make.
struct env {
    WSPPROC_TABLE p{};
    int err = 0;

    explicit env(const WSPUPCALLTABLE& upcalls = WSPUPCALLTABLE{}) {
        lwsp_set_clock(mono_ms);
        lwsp_set_idle(idle_until);
        lwsp_set_random(fill_random);
        REQUIRE(lwsp_start(nullptr) == 0);
        WSPDATA data{};
        REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &p) == 0);
    }
    ~env() {
        p.lpWSPCleanup(&err);
        lwsp_stop();
    }
    env(const env&) = delete;
    env& operator=(const env&) = delete;

    SOCKET tcp(DWORD flags = 0) {
        const SOCKET s = p.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, flags, &err);
        REQUIRE(s != INVALID_SOCKET);
        return s;
    }
    SOCKET listener(unsigned port) {
        const SOCKET s = tcp();
        const SOCKADDR_IN a = loopback(port);
        REQUIRE(p.lpWSPBind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a, &err) == 0);
        REQUIRE(p.lpWSPListen(s, 4, &err) == 0);
        return s;
    }
    void set_nonblocking(SOCKET s, bool on) {
        u_long v = on ? 1 : 0;
        DWORD ret = 0;
        REQUIRE(p.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err) == 0);
    }
    // A connected pair over loopback: a non-blocking connect, then a
    // blocking accept that runs the loop until the handshake is done.
    void pair(unsigned port, SOCKET& client, SOCKET& server) {
        const SOCKET l = listener(port);
        client = tcp();
        set_nonblocking(client, true);
        const SOCKADDR_IN a = loopback(port);
        const int rc = p.lpWSPConnect(client, reinterpret_cast<const sockaddr*>(&a), sizeof a, nullptr, nullptr,
                                      nullptr, nullptr, &err);
        REQUIRE(rc == SOCKET_ERROR);
        REQUIRE(err == WSAEWOULDBLOCK);
        server = p.lpWSPAccept(l, nullptr, nullptr, nullptr, 0, &err);
        REQUIRE(server != INVALID_SOCKET);
        set_nonblocking(client, false);
        REQUIRE(close(l) == 0);
    }
    int send(SOCKET s, const void* data, std::size_t len) {
        WSABUF b{static_cast<u_long>(len), static_cast<char*>(const_cast<void*>(data))};
        DWORD sent = 0;
        const int rc = p.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err);
        return rc == 0 ? static_cast<int>(sent) : -1;
    }
    int close(SOCKET s) { return p.lpWSPCloseSocket(s, &err); }
    int recv(SOCKET s, void* data, std::size_t len, DWORD flags = 0) {
        WSABUF b{static_cast<u_long>(len), static_cast<char*>(data)};
        DWORD got = 0;
        const int rc = p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err);
        return rc == 0 ? static_cast<int>(got) : -1;
    }
};

std::vector<char> pattern(std::size_t n) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(i % 251);
    return v;
}

}  // namespace

TEST_CASE("bare metal: a blocking accept and a MSG_WAITALL receive run the loop until they complete", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7001, c, s);
    const std::vector<char> out = pattern(4000);
    REQUIRE(e.send(c, out.data(), out.size()) == 4000);
    std::vector<char> in(4000);
    CHECK(e.recv(s, in.data(), in.size(), MSG_WAITALL) == 4000);
    CHECK(in == out);
    // Graceful close: the peer's blocking receive returns 0 (end of stream).
    CHECK(e.close(c) == 0);
    char one = 0;
    CHECK(e.recv(s, &one, 1) == 0);
    CHECK(e.close(s) == 0);
}

TEST_CASE("bare metal: SO_RCVTIMEO ends a blocking receive with WSAETIMEDOUT at its deadline", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7002, c, s);
    const DWORD timeout = 300;
    REQUIRE(e.p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout), sizeof timeout,
                                &e.err) == 0);
    char buf[16];
    const unsigned long long t0 = mono_ms();
    CHECK(e.recv(s, buf, sizeof buf) == -1);
    CHECK(e.err == WSAETIMEDOUT);
    const unsigned long long elapsed = mono_ms() - t0;
    CHECK(elapsed >= timeout);
    CHECK(elapsed < 30000);  // a hang guard, not a timing goal
    CHECK(e.close(c) == 0);
    CHECK(e.close(s) == 0);
}

TEST_CASE("bare metal: a lingering close of a blocked sender waits its linger time, then resets", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7003, c, s);
    // Fill everything the peer will take (it never reads): send until the
    // non-blocking send would block.
    e.set_nonblocking(c, true);
    const std::vector<char> chunk = pattern(1024);
    std::size_t queued = 0;
    for (int i = 0; i < 100000; ++i) {
        const int n = e.send(c, chunk.data(), chunk.size());
        if (n < 0) break;
        queued += static_cast<std::size_t>(n);
    }
    REQUIRE(e.err == WSAEWOULDBLOCK);
    REQUIRE(queued > 0);
    e.set_nonblocking(c, false);
    const LINGER lg{1, 1};
    REQUIRE(e.p.lpWSPSetSockOpt(c, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&lg), sizeof lg, &e.err) == 0);
    const unsigned long long t0 = mono_ms();
    CHECK(e.close(c) == 0);  // the close table: 0 either way
    const unsigned long long elapsed = mono_ms() - t0;
    CHECK(elapsed >= 1000);
    CHECK(elapsed < 30000);  // a hang guard
    // The peer reads what arrived, intact and in order, then the reset
    // (its full window never took the FIN, so the close could not settle).
    std::vector<char> buf(64 * 1024);
    std::size_t got = 0;
    bool intact = true;
    int n = 0;
    while ((n = e.recv(s, buf.data(), buf.size())) > 0) {
        for (int i = 0; i < n; ++i) intact = intact && buf[static_cast<std::size_t>(i)] == chunk[(got + i) % 1024];
        got += static_cast<std::size_t>(n);
    }
    CHECK(n == -1);
    CHECK(e.err == WSAECONNRESET);
    CHECK(intact);
    CHECK(got <= queued);
    CHECK(e.close(s) == 0);
}

TEST_CASE("bare metal: an overlapped receive signals its event inside WSAWaitForMultipleEvents", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7004, c, s);
    WSAEVENT ev = lwsp_create_event();
    REQUIRE(ev != WSA_INVALID_EVENT);
    char buf[64] = {};
    WSABUF b{sizeof buf, buf};
    WSAOVERLAPPED ov{};
    ov.hEvent = ev;
    DWORD got = 0, flags = 0;
    WSATHREADID tid{};
    REQUIRE(lwsp_open_current_thread(&tid) == 0);
    CHECK(e.p.lpWSPRecv(s, &b, 1, &got, &flags, &ov, nullptr, &tid, &e.err) == SOCKET_ERROR);
    CHECK(e.err == WSA_IO_PENDING);
    REQUIRE(e.send(c, "hello", 5) == 5);
    CHECK(lwsp_wait_for_multiple_events(1, &ev, FALSE, 10000, FALSE) == WSA_WAIT_EVENT_0);
    DWORD transferred = 0;
    CHECK(e.p.lpWSPGetOverlappedResult(s, &ov, &transferred, FALSE, &flags, &e.err) == TRUE);
    CHECK(transferred == 5);
    CHECK(std::memcmp(buf, "hello", 5) == 0);
    CHECK(lwsp_close_event(ev) == TRUE);
    CHECK(lwsp_close_thread(&tid) == 0);
    CHECK(e.close(c) == 0);
    CHECK(e.close(s) == 0);
}

namespace {
int g_routine_runs = 0;
DWORD g_routine_bytes = 0;
void CALLBACK on_recv(DWORD error, DWORD bytes, LPWSAOVERLAPPED, DWORD) {
    if (error == 0) g_routine_bytes = bytes;
    ++g_routine_runs;
}
}  // namespace

TEST_CASE("bare metal: a completion routine runs in an alertable wait", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7005, c, s);
    char buf[64] = {};
    WSABUF b{sizeof buf, buf};
    WSAOVERLAPPED ov{};
    DWORD got = 0, flags = 0;
    WSATHREADID tid{};
    REQUIRE(lwsp_open_current_thread(&tid) == 0);
    CHECK(e.p.lpWSPRecv(s, &b, 1, &got, &flags, &ov, on_recv, &tid, &e.err) == SOCKET_ERROR);
    CHECK(e.err == WSA_IO_PENDING);
    REQUIRE(e.send(c, "abc", 3) == 3);
    // Nothing runs the routine but an alertable wait.
    CHECK(g_routine_runs == 0);
    CHECK(lwsp_sleep_ex(10000, TRUE) == WAIT_IO_COMPLETION);
    CHECK(g_routine_runs == 1);
    CHECK(g_routine_bytes == 3);
    CHECK(lwsp_close_thread(&tid) == 0);
    CHECK(e.close(c) == 0);
    CHECK(e.close(s) == 0);
}

TEST_CASE("bare metal: WSPSelect with nothing ready returns 0 at its timeout", "[bare_metal]") {
    env e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7006, c, s);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    const timeval tv{0, 200 * 1000};
    const unsigned long long t0 = mono_ms();
    CHECK(e.p.lpWSPSelect(0, &rd, nullptr, nullptr, &tv, &e.err) == 0);
    CHECK(mono_ms() - t0 >= 200);
    // And with data: readable at once.
    REQUIRE(e.send(c, "x", 1) == 1);
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    const timeval wait{10, 0};
    CHECK(e.p.lpWSPSelect(0, &rd, nullptr, nullptr, &wait, &e.err) == 1);
    CHECK(FD_ISSET(s, &rd));
    CHECK(e.close(c) == 0);
    CHECK(e.close(s) == 0);
}

TEST_CASE("bare metal: a blocking connect to a closed port fails WSAECONNREFUSED", "[bare_metal]") {
    env e;
    const SOCKET c = e.tcp();
    const SOCKADDR_IN a = loopback(7999);
    CHECK(e.p.lpWSPConnect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr,
                           &e.err) == SOCKET_ERROR);
    CHECK(e.err == WSAECONNREFUSED);
    CHECK(e.close(c) == 0);
}

namespace {
env* g_env = nullptr;
int g_hook_calls = 0;
int g_cancel_result = -1;
BOOL CALLBACK cancel_on_third_call(DWORD_PTR) {
    if (++g_hook_calls == 3) {
        int err = 0;
        g_cancel_result = g_env->p.lpWSPCancelBlockingCall(&err);
    }
    return TRUE;
}
int WSPAPI query_blocking_callback(DWORD, LPBLOCKINGCALLBACK* fn, PDWORD_PTR ctx, LPINT) {
    *fn = &cancel_on_third_call;
    *ctx = 0;
    return 0;
}
}  // namespace

TEST_CASE("bare metal: WSPCancelBlockingCall from the blocking hook ends a blocking receive with WSAEINTR",
          "[bare_metal]") {
    WSPUPCALLTABLE up{};
    up.lpWPUQueryBlockingCallback = &query_blocking_callback;
    env e(up);
    g_env = &e;
    SOCKET c = INVALID_SOCKET, s = INVALID_SOCKET;
    e.pair(7007, c, s);
    g_hook_calls = 0;  // the blocking accept above ran it too
    char buf[16];
    CHECK(e.recv(s, buf, sizeof buf) == -1);  // nothing will come: only the cancel ends it
    CHECK(e.err == WSAEINTR);
    CHECK(g_hook_calls >= 3);
    CHECK(g_cancel_result == 0);
    // The socket is still usable: data sent now is received.
    REQUIRE(e.send(c, "ok", 2) == 2);
    CHECK(e.recv(s, buf, sizeof buf) == 2);
    CHECK(e.close(c) == 0);
    CHECK(e.close(s) == 0);
    g_env = nullptr;
}
