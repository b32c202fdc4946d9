// A WSP call that has found its socket while another thread closes it
// (issue 10; found by the soak test, fixed by the shim's request path): every
// entry point looks the handle up, then takes the core lock, and a
// WSPCloseSocket that runs in between releases the endpoint under that lock.
// Before the fix the call then used the released endpoint (a null-pointer
// crash; UBSan: "member call on null pointer"), and a few calls read the
// endpoint pointer before taking the lock (a data race with the close, for
// TSan).  The application must instead see what Winsock gives for a handle
// closed under a call: SOCKET_ERROR with WSAENOTSOCK (WSAEINTR, had it
// blocked).
//
// The interleaving is made deterministic: the test holds the core lock,
// starts the call on another thread, waits until that thread sleeps (it can
// only be waiting for the core lock), closes the socket exactly as
// WSPCloseSocket does (close_socket under the core lock) and lets go.
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "async_call.hpp"
#include "loop_env.hpp"
#include "lwsp/upcalls.h"
#include "provider.hpp"   // the handle table: the socket object behind a handle
#include "wsp_calls.hpp"  // close_socket: WSPCloseSocket's body, under a lock the test holds

using namespace lwsp::test;

// The reproductions watch a thread's scheduler state in /proc: Linux only.
#ifdef __linux__

namespace {

long this_thread_id() { return static_cast<long>(syscall(SYS_gettid)); }

// The scheduler state of one of our threads ('R' running, 'S' sleeping).
char thread_state(long tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t k = s.rfind(')');
    return k == std::string::npos || k + 2 >= s.size() ? '?' : s[k + 2];
}

// A connected pair over the loopback, and a listener.
struct pair_env {
    loop_env env;
    SOCKET lst = INVALID_SOCKET, a = INVALID_SOCKET, b = INVALID_SOCKET;
    pair_env() {
        int err = 0;
        lst = env.socket(false, err);
        REQUIRE(env.bind(lst, false, 7200) == 0);
        REQUIRE(env.listen(lst, 4) == 0);
        a = env.socket(false, err);
        REQUIRE(env.connect(a, false, 7200) == 0);
        b = env.accept(lst, err);
        REQUIRE(b != INVALID_SOCKET);
    }
};

// Runs `call` (returns 0 or the WSAE code) on another thread so that it has
// found socket `s` and waits for the core lock when `s` is closed, then
// returns what the call returned.
int call_racing_close(pair_env& pe, SOCKET s, const std::function<int()>& call) {
    std::shared_ptr<lwsp::wsp::wsp_socket> sock = lwsp::wsp::provider().handles.find(s);
    REQUIRE(sock != nullptr);
    std::atomic<long> tid{0};
    std::unique_ptr<async_call<int>> t;
    {
        lwsp::core_lock lk(pe.env.st);
        t = std::make_unique<async_call<int>>([&tid, call] {
            tid.store(this_thread_id());
            return call();
        });
        // The call has found the socket and sleeps on the core lock.
        REQUIRE(eventually([&] { return tid.load() != 0 && thread_state(tid.load()) == 'S'; }));
        REQUIRE(lwsp::wsp::close_socket(lk, *sock, true) == 0);
    }
    REQUIRE(t->wait());
    return t->result();
}

// What a call on a handle closed under it must give.
void check_closed_under_call(int code) {
    INFO("the call returned " << code << " (0 = success)");
    CHECK((code == WSAENOTSOCK || code == WSAEINTR));
}

}  // namespace

TEST_CASE("WSPSend racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        const long r = pe.env.send(pe.a, "x", 1);
        return r < 0 ? static_cast<int>(-r) : 0;
    }));
}

TEST_CASE("WSPRecv racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    REQUIRE(pe.env.send(pe.b, "x", 1) == 1);
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        char c;
        const long r = pe.env.recv(pe.a, &c, 1);
        return r < 0 ? static_cast<int>(-r) : 0;
    }));
}

TEST_CASE("WSPIoctl(FIONREAD) racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        u_long n = 0;
        return pe.env.bytes_readable(pe.a, n);
    }));
}

TEST_CASE("WSPGetSockOpt racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        int v = 0;
        return pe.env.get_int(pe.a, SOL_SOCKET, SO_REUSEADDR, v);
    }));
}

TEST_CASE("WSPSetSockOpt racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(
        call_racing_close(pe, pe.a, [&] { return pe.env.set_int(pe.a, IPPROTO_TCP, TCP_NODELAY, 1); }));
}

TEST_CASE("WSPShutdown racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.a, [&] { return pe.env.shutdown(pe.a, SD_SEND); }));
}

TEST_CASE("WSPGetSockName racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        std::uint16_t port = 0;
        return pe.env.local_port(pe.a, port);
    }));
}

TEST_CASE("WSPConnect racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    int err = 0;
    const SOCKET c = pe.env.socket(false, err);
    REQUIRE(c != INVALID_SOCKET);
    check_closed_under_call(call_racing_close(pe, c, [&] { return pe.env.connect(c, false, 7200); }));
}

TEST_CASE("WSPBind racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    int err = 0;
    const SOCKET c = pe.env.socket(false, err);
    REQUIRE(c != INVALID_SOCKET);
    check_closed_under_call(call_racing_close(pe, c, [&] { return pe.env.bind(c, false, 7201); }));
}

TEST_CASE("WSPAccept racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released listener",
          "[wsp][close-race][regression]") {
    pair_env pe;
    check_closed_under_call(call_racing_close(pe, pe.lst, [&] {
        int err = 0;
        return pe.env.accept(pe.lst, err) == INVALID_SOCKET ? err : 0;
    }));
}

TEST_CASE("WSPEventSelect racing with WSPCloseSocket fails WSAENOTSOCK instead of using the released endpoint",
          "[wsp][close-race][regression]") {
    pair_env pe;
    WSAEVENT ev = lwsp_create_event();
    check_closed_under_call(call_racing_close(pe, pe.a, [&] {
        int err = 0;
        return pe.env.p.lpWSPEventSelect(pe.a, ev, FD_READ, &err) == 0 ? 0 : err;
    }));
    lwsp_close_event(ev);
}

#endif  // __linux__
