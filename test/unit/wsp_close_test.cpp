// WSPCloseSocket, row by row of the close table (docs/design.md), with what
// crossed the wire checked segment by segment, plus the rest of "also part
// of close": handle release, cancellation of blocked calls, WSAENETDOWN,
// WSAEINPROGRESS, and lwIP resources freed once the disconnect completes.
#include <atomic>
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "wsp_fixture.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t k_port = 80;

bool has_flag(const std::vector<tcp_segment>& segs, std::uint8_t flag) {
    for (const tcp_segment& s : segs)
        if (s.flags & flag) return true;
    return false;
}

void feed(tcp_script& conn, const std::vector<tcp_segment>& segs, lan& net) {
    for (const tcp_segment& s : segs) conn.on_segment(s, net.peer4.stack().ip, net.peer4.self().ip);
}

// One accepted connection on port 80 with the peer at 192.0.2.2:50000.
// The peer may start with a closed window (lwIP, like RFC 1122, ignores a
// window that shrinks without new data, so a window is closed from the
// start); open_window() opens it.
struct connected {
    wsp_env env;
    SOCKET lst;
    tcp_script conn;
    SOCKET s;
    explicit connected(std::uint16_t initial_window = 65535)
        : lst(env.listener(k_port)), conn(env.peer4, 50000, k_port), s(start(initial_window)) {}
    SOCKET start(std::uint16_t window) {
        conn.window = window;
        SOCKET a = env.accept_from_peer(lst, conn);
        env.pump();
        return a;
    }
    void open_window() {
        conn.window = 65535;
        conn.send_ack();
    }
};

}  // namespace

TEST_CASE("SO_DONTLINGER close returns at once and queued data then FIN follow", "[wsp][close]") {
    connected c(0);  // the peer's window is closed: what the application sends stays queued
    wsp_env& env = c.env;
    REQUIRE(env.send(c.s, "queued before close") == 19);
    CHECK(env.tcp_out(k_port).empty());

    REQUIRE(env.close(c.s) == 0);
    CHECK_FALSE(env.handle_valid(c.s));
    CHECK(env.tcp_out(k_port).empty());  // the FIN waits behind the data

    c.open_window();
    auto segs = env.tcp_out(k_port);
    INFO(env.transcript);
    feed(c.conn, segs, env);
    CHECK_FALSE(has_flag(segs, tcp_rst));
    CHECK(c.conn.received_string() == "queued before close");
    CHECK(c.conn.fin_received());
    REQUIRE_FALSE(segs.empty());
    CHECK(segs.back().has(tcp_fin));
    CHECK(segs.back().seq + segs.back().payload.size() + 1 == c.conn.rcv_nxt());  // FIN after the last byte

    // The stack finishes the disconnect on its own, then frees everything.
    c.conn.send_ack();
    c.conn.send_fin();
    auto last = env.tcp_out(k_port);
    REQUIRE(last.size() == 1);
    CHECK(last[0].flags == tcp_ack);
    CHECK(last[0].ack == c.conn.snd_nxt());
    CHECK(env.st.stats().tcp_time_wait_pcbs == 1);
    env.close(c.lst);
    env.advance(2 * 60 * 1000 + 1000);  // 2 MSL
    auto stats = env.st.stats();
    CHECK(stats.tcp_pcbs == 0);
    CHECK(stats.tcp_segments == 0);
}

TEST_CASE("linger on with a zero timeout: close always resets, even with nothing queued", "[wsp][close]") {
    const bool queued = GENERATE(false, true);
    INFO((queued ? "data queued behind a closed window" : "nothing queued"));
    connected c(queued ? 0 : 65535);
    wsp_env& env = c.env;
    REQUIRE(env.set_linger(c.s, 1, 0) == 0);
    if (queued) {
        REQUIRE(env.send(c.s, "never sent") == 10);
        CHECK(env.tcp_out(k_port).empty());
    }
    REQUIRE(env.close(c.s) == 0);
    CHECK_FALSE(env.handle_valid(c.s));
    auto segs = env.tcp_out(k_port);
    INFO(env.transcript);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].has(tcp_rst));
    CHECK_FALSE(segs[0].has(tcp_fin));
    CHECK(segs[0].payload.empty());
    CHECK(segs[0].seq == c.conn.rcv_nxt());
    // Nothing follows, whatever the peer does: the connection is gone.
    c.open_window();
    auto after = env.tcp_out(k_port);
    for (auto& s : after) CHECK(s.payload.empty());
    CHECK(env.st.stats().tcp_pcbs == 1);  // only the listener
}

TEST_CASE("linger on with a timeout, blocking socket: close waits for the ACK of data and FIN",
          "[wsp][close][linger]") {
    connected c;
    wsp_env& env = c.env;
    REQUIRE(env.set_linger(c.s, 1, 5) == 0);
    REQUIRE(env.send(c.s, "linger data") == 11);
    auto data = env.tcp_out(k_port);
    feed(c.conn, data, env);
    REQUIRE(c.conn.received_string() == "linger data");

    std::atomic<bool> done{false};
    std::atomic<int> result{-1};
    std::thread closer([&] {
        result = env.close(c.s);
        done = true;
    });
    // The FIN goes out at once, behind the data, while close waits.
    REQUIRE(env.link.wait_for(1, 5s));
    auto fin = env.tcp_out(k_port);
    feed(c.conn, fin, env);
    CHECK(c.conn.fin_received());
    CHECK_FALSE(has_flag(fin, tcp_rst));
    CHECK(blocked(env.st, 1, [&] { return done.load(); }));  // lingering: the FIN is unacknowledged
    CHECK_FALSE(done);
    CHECK_FALSE(env.handle_valid(c.s));  // released at the start of close

    c.conn.send_ack();  // acknowledges the data and the FIN (no lwIP callback for a FIN-only ACK)
    closer.join();
    CHECK(result == 0);
    CHECK_FALSE(has_flag(env.tcp_out(k_port), tcp_rst));
}

TEST_CASE("linger on with a timeout, blocking socket: close resets exactly at the deadline", "[wsp][close][linger]") {
    connected c;
    wsp_env& env = c.env;
    REQUIRE(env.set_linger(c.s, 1, 5) == 0);
    REQUIRE(env.send(c.s, "never acknowledged") == 18);
    feed(c.conn, env.tcp_out(k_port), env);

    std::atomic<bool> done{false};
    std::atomic<int> result{-1};
    std::thread closer([&] {
        result = env.close(c.s);
        done = true;
    });
    REQUIRE(env.link.wait_for(1, 5s));  // the closer thread has started and sent it
    auto fin = env.tcp_out(k_port);
    CHECK(has_flag(fin, tcp_fin));

    // The peer stays silent.  Retransmissions are fine; a reset is not.
    CHECK(blocked(env.st, 1, [&] { return done.load(); }));  // lingering, its deadline set
    env.advance(4999, 250);
    CHECK(stays_false([&] { return done.load(); }));  // one millisecond early
    auto before = env.tcp_out(k_port);
    INFO(env.transcript);
    CHECK_FALSE(has_flag(before, tcp_rst));
    CHECK_FALSE(done);

    env.advance(1);
    closer.join();
    CHECK(result == 0);
    auto at_deadline = env.tcp_out(k_port);
    REQUIRE(at_deadline.size() == 1);
    CHECK(at_deadline[0].has(tcp_rst));
    CHECK(env.st.now() == lwsp::millis(5000));
}

TEST_CASE("linger on with a timeout, nonblocking socket: WSAEWOULDBLOCK with nothing sent, then the retry protocol",
          "[wsp][close][linger]") {
    connected c;
    wsp_env& env = c.env;
    REQUIRE(env.set_linger(c.s, 1, 10) == 0);
    REQUIRE(env.set_nonblocking(c.s, true) == 0);
    REQUIRE(env.send(c.s, "unacknowledged") == 14);
    feed(c.conn, env.tcp_out(k_port), env);

    int err = 0;
    REQUIRE(env.p.lpWSPCloseSocket(c.s, &err) == SOCKET_ERROR);
    CHECK(err == WSAEWOULDBLOCK);
    CHECK(env.handle_valid(c.s));
    CHECK(env.tcp_out(k_port).empty());  // no FIN, no RST

    SECTION("linger {1,0}, then close: RST") {
        REQUIRE(env.set_linger(c.s, 1, 0) == 0);
        REQUIRE(env.close(c.s) == 0);
        auto segs = env.tcp_out(k_port);
        REQUIRE(segs.size() == 1);
        CHECK(segs[0].has(tcp_rst));
    }
    SECTION("SO_DONTLINGER, then close: graceful FIN") {
        BOOL on = TRUE;
        REQUIRE(env.p.lpWSPSetSockOpt(c.s, SOL_SOCKET, SO_DONTLINGER, reinterpret_cast<const char*>(&on), sizeof on,
                                      &err) == 0);
        REQUIRE(env.close(c.s) == 0);
        auto segs = env.tcp_out(k_port);
        CHECK(has_flag(segs, tcp_fin));
        CHECK_FALSE(has_flag(segs, tcp_rst));
    }
    SECTION("WSPShutdown(SD_SEND), the peer acknowledges, then close succeeds") {
        REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
        auto fin = env.tcp_out(k_port);
        feed(c.conn, fin, env);
        CHECK(c.conn.fin_received());
        REQUIRE(env.close(c.s) == WSAEWOULDBLOCK);  // FIN still unacknowledged
        c.conn.send_ack();
        REQUIRE(env.close(c.s) == 0);
        CHECK_FALSE(env.handle_valid(c.s));
        CHECK_FALSE(has_flag(env.tcp_out(k_port), tcp_rst));
    }
    SECTION("once everything is acknowledged, close is graceful at once") {
        c.conn.send_ack();
        REQUIRE(env.close(c.s) == 0);
        auto segs = env.tcp_out(k_port);
        REQUIRE(segs.size() == 1);
        CHECK(segs[0].has(tcp_fin));
    }
}

TEST_CASE("closing with unread received data resets the connection", "[wsp][close]") {
    connected c;
    wsp_env& env = c.env;
    c.conn.send_text("never read");
    env.tcp_out(k_port);  // the ACK
    REQUIRE(env.close(c.s) == 0);
    auto segs = env.tcp_out(k_port);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].has(tcp_rst));
    CHECK_FALSE(segs[0].has(tcp_fin));
}

TEST_CASE("unread received data resets the connection in every close row, after SD_SEND too",
          "[wsp][close][linger][regression]") {
    // lwIP resets a closed connection with unread data only while it has not
    // sent its FIN: a lingering close (FIN first, then wait) and a close
    // after WSPShutdown(SD_SEND) used to end with FIN and a lost byte count.
    const int row = GENERATE(0, 1, 2, 3);  // DONTLINGER, linger 5 s blocking, linger 5 s nonblocking, after SD_SEND
    INFO("row " << row);
    connected c;
    wsp_env& env = c.env;
    c.conn.send_text("never read");
    env.tcp_out(k_port);  // the ACK
    int err = 0;
    if (row == 1 || row == 2) REQUIRE(env.set_linger(c.s, 1, 5) == 0);
    if (row == 2) REQUIRE(env.set_nonblocking(c.s, true) == 0);
    if (row == 3) {
        REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
        auto fin = env.tcp_out(k_port);
        REQUIRE(fin.size() == 1);
        CHECK(fin[0].has(tcp_fin));
        feed(c.conn, fin, env);
        c.conn.send_ack();
    }
    REQUIRE(env.close(c.s) == 0);  // at once: nothing to wait for
    auto segs = env.tcp_out(k_port);
    INFO(env.transcript);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].has(tcp_rst));
    CHECK_FALSE(segs[0].has(tcp_fin));
    CHECK_FALSE(env.handle_valid(c.s));
}

TEST_CASE("close cancels blocking calls of other threads with WSAEINTR", "[wsp][close][threads]") {
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    SECTION("a blocked WSPRecv") {
        tcp_script conn(env.peer4, 50001, k_port);
        SOCKET s = env.accept_from_peer(lst, conn);
        std::atomic<int> err{0};
        std::atomic<bool> done{false};
        std::thread reader([&] {
            int e = 0;
            env.recv(s, 100, e);
            err = e;
            done = true;
        });
        CHECK(blocked(env.st, 1, [&] { return done.load(); }));
        CHECK_FALSE(done);
        REQUIRE(env.close(s) == 0);
        reader.join();
        CHECK(err == WSAEINTR);
    }
    SECTION("a blocked WSPAccept") {
        std::atomic<int> err{0};
        std::atomic<SOCKET> got{0};
        std::atomic<bool> done{false};
        std::thread acceptor([&] {
            int e = 0;
            got = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &e);
            err = e;
            done = true;
        });
        CHECK(blocked(env.st, 1, [&] { return done.load(); }));
        REQUIRE(env.close(lst) == 0);
        acceptor.join();
        CHECK(got == INVALID_SOCKET);
        CHECK(err == WSAEINTR);
    }
}

TEST_CASE("a peer reset fails WSPRecv with WSAECONNRESET", "[wsp][close]") {
    connected c;
    wsp_env& env = c.env;
    std::atomic<int> err{0};
    std::atomic<bool> done{false};
    std::thread reader([&] {
        int e = 0;
        env.recv(c.s, 100, e);
        err = e;
        done = true;
    });
    CHECK(blocked(env.st, 1, [&] { return done.load(); }));
    c.conn.send_rst();
    reader.join();
    CHECK(err == WSAECONNRESET);
    int again = 0;
    env.recv(c.s, 100, again);
    CHECK(again == WSAECONNRESET);
    REQUIRE(env.close(c.s) == 0);
    CHECK(env.tcp_out(k_port).empty());  // nothing left to reset
}

TEST_CASE("closed or invented or reused handles give WSAENOTSOCK", "[wsp][close][handles]") {
    wsp_env env;
    SOCKET a = env.socket();
    REQUIRE(env.close(a) == 0);
    CHECK(env.close(a) == WSAENOTSOCK);
    CHECK_FALSE(env.handle_valid(a));
    for (SOCKET bogus : {SOCKET(0), SOCKET(1), SOCKET(12345), SOCKET(0x7fffffff), INVALID_SOCKET, a + 1})
        CHECK(env.close(bogus) == WSAENOTSOCK);
    SOCKET b = env.socket();  // takes a's slot again
    CHECK((b & 0xffff) == (a & 0xffff));
    CHECK(b != a);
    CHECK(env.handle_valid(b));
    CHECK_FALSE(env.handle_valid(a));
    CHECK(env.close(a) == WSAENOTSOCK);
    CHECK(env.close(b) == 0);
}

TEST_CASE("close reports WSAENETDOWN once the stack is down and releases the handle", "[wsp][close]") {
    connected c;
    wsp_env& env = c.env;
    env.st.stop();
    CHECK(env.close(c.s) == WSAENETDOWN);
    CHECK(env.close(c.s) == WSAENOTSOCK);
}

namespace {

wsp_env* g_env = nullptr;
SOCKET g_other = INVALID_SOCKET;
std::atomic<int> g_hook_calls{0};
std::atomic<int> g_reentry_err{0};
std::atomic<int> g_cancel_result{-1};

BOOL CALLBACK blocking_hook(DWORD_PTR) {
    if (g_hook_calls++ == 0) {
        int err = 0;
        if (g_env->p.lpWSPCloseSocket(g_other, &err) == SOCKET_ERROR) g_reentry_err = err;
        g_cancel_result = g_env->p.lpWSPCancelBlockingCall(&err);
    }
    return TRUE;
}

int WSPAPI query_blocking_callback(DWORD, LPBLOCKINGCALLBACK* fn, PDWORD_PTR ctx, LPINT) {
    *fn = &blocking_hook;
    *ctx = 0;
    return 0;
}

}  // namespace

TEST_CASE("a call from inside a blocking call fails WSAEINPROGRESS and WSPCancelBlockingCall ends it",
          "[wsp][close][inprogress]") {
    WSPUPCALLTABLE up{};
    up.lpWPUQueryBlockingCallback = &query_blocking_callback;
    wsp_env env(true, &up);
    g_env = &env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, 50002, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    g_other = env.socket();
    int err = 0;
    env.recv(s, 10, err);  // blocks; the hook runs inside it
    CHECK(g_hook_calls >= 1);
    CHECK(g_reentry_err == WSAEINPROGRESS);
    CHECK(g_cancel_result == 0);
    CHECK(err == WSAEINTR);
    CHECK(env.handle_valid(g_other));  // the re-entrant close did nothing
    int cancel_err = 0;
    CHECK(env.p.lpWSPCancelBlockingCall(&cancel_err) == SOCKET_ERROR);
    CHECK(cancel_err == WSAEINVAL);
    g_env = nullptr;
}
