// Known bugs: minimal reproductions of open defects that the churn and soak
// tests found in the stack or the shim, each failing until its fix lands
// (CTest label unit-known-bug; `ctest -LE known-bug` leaves them out).  Each
// case says what it shows and why it happens; the fix belongs in stack/ or
// spi_shim/, not here — once fixed, the case passes and stays as a
// regression test.  (The first one found, a call racing WSPCloseSocket, is
// fixed: its cases are in close_race_test.cpp.)
//
// Data arriving with the peer's FIN after shutdown(SD_BOTH) (or SD_RECEIVE
// after SD_SEND) frees the pcb behind the endpoint's back.  Our FIN went
// first and was acknowledged (FIN_WAIT_2); the peer's last segment carries
// data and its FIN.  lwIP processes the FIN first — the pcb moves to
// TIME_WAIT — and then hands the data to tcp_endpoint::on_recv, which
// resets the connection because receiving was shut down (tcp_abort).  For
// a TIME_WAIT pcb tcp_abandon frees the pcb and returns: no RST, and no err
// callback, so the endpoint keeps its pointer.  The next call that looks at
// the pcb (getsockname, setsockopt, send, and the close itself through
// detach_pcb) reads or writes freed memory (ASan: heap-use-after-free; the
// soak test found it through a setsockopt and through WSPCloseSocket).  Once
// the allocator hands that memory to a new connection (TSan's does at once)
// the stale endpoint works on another socket's pcb: one TSan soak run saw a
// live connection's pcb closed under it (lwIP's TF_RXCLOSED abort, the flag
// tcp_close sets) and that socket's next WSPSend read freed memory.  A
// fix: in on_recv, when the pcb is in TIME_WAIT, send the RST (tcp_rst:
// tcp_abandon does not for a TIME_WAIT pcb) and free it with the endpoint
// letting go of it (as the FIN path does), instead of a bare tcp_abort.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "wsp_fixture.hpp"

using namespace lwsp::test;

TEST_CASE("KNOWN BUG: data with the peer's FIN after shutdown(SD_BOTH) leaves the endpoint a freed pcb",
          "[known-bug][shutdown]") {
    wsp_env env;
    const SOCKET lst = env.listener(80);
    tcp_script conn(env.peer4, 50000, 80);
    const SOCKET s = env.accept_from_peer(lst, conn);
    for (parsed_frame& f : env.pump()) conn.accept(f);
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(s, SD_BOTH, &err) == 0);
    for (parsed_frame& f : env.pump()) conn.accept(f);
    REQUIRE(conn.fin_received());  // our FIN
    conn.send_ack();               // acknowledged: FIN_WAIT_2
    CHECK(env.pump().empty());
    // The peer's last data and its FIN, in one segment.
    conn.send_text("late data", tcp_psh | tcp_fin);
    // Data after SD_RECEIVE resets the connection (Winsock): a RST now.
    bool reset = false;
    for (const tcp_segment& seg : env.tcp_out(80)) reset = reset || seg.has(tcp_rst);
    CHECK(reset);
    // The socket is still the application's: its name, an option, a send
    // (refused), the close — none may touch memory lwIP has freed.
    sockaddr_in name{};
    int len = sizeof name;
    CHECK(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    int one = 1;
    CHECK(env.p.lpWSPSetSockOpt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof one, &err) ==
          0);
    CHECK(env.send(s, "x") == -WSAESHUTDOWN);
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
    CHECK(env.st.stats().tcp_pcbs == 0);
}
