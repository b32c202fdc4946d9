// The WSP data path against the scripted peer, IPv4 and IPv6: connecting
// and accepting, WSPSend/WSPRecv with WSABUF arrays, flow control and the
// receive window, end of stream, WSPShutdown, UDP, WSPSelect, and the
// options that change what goes on the wire.  Every test states the return
// value, *lpErrno, and what crossed the wire.
//
// Blocking calls run in their own thread (async_call); the manual clock only
// moves when a test advances it, and every wait is bounded in real time.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "lwip/opt.h"  // TCP_SND_BUF, TCP_SND_QUEUELEN: the stack's send-side limits
#include "wsp_fixture.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t k_port = 80;          // the stack's listener
constexpr std::uint16_t k_peer_port = 50000;  // the peer's side of accepted connections

// The stack's send buffer per connection (lwIP's TCP_SND_BUF, from
// lwipopts.h).  Not to be confused with the peer's window: the scripted peer
// sends no window-scale option, so the windows on the wire stay 16-bit
// (conn.window, at most 65535) whatever this is.
constexpr std::size_t send_buffer = TCP_SND_BUF;
// More than the send buffer holds, with a tail that is not a multiple of a
// segment: a send of this size cannot be taken whole while nothing is
// acknowledged.
constexpr std::size_t more_than_send_buffer = 2 * send_buffer + 12345;

// What a WSP call returned.
struct io {
    int rc = 0;
    int err = 0;
    DWORD bytes = 0;
    std::string data;
};

io send_parts(wsp_env& env, SOCKET s, const std::vector<std::string>& parts, DWORD flags = 0) {
    std::vector<WSABUF> bufs;
    for (const std::string& p : parts) bufs.push_back({static_cast<u_long>(p.size()), const_cast<char*>(p.data())});
    io r;
    r.bytes = 0xdeadbeef;
    r.rc = env.p.lpWSPSend(s, bufs.data(), static_cast<DWORD>(bufs.size()), &r.bytes, flags, nullptr, nullptr, nullptr,
                           &r.err);
    return r;
}

io send_text(wsp_env& env, SOCKET s, const std::string& text, DWORD flags = 0) {
    return send_parts(env, s, {text}, flags);
}

// One WSPRecv into a single buffer of `max` bytes.
io recv_text(wsp_env& env, SOCKET s, std::size_t max, DWORD flags = 0) {
    std::string buf(max, '\0');
    WSABUF b{static_cast<u_long>(max), buf.data()};
    io r;
    r.bytes = 0xdeadbeef;
    DWORD f = flags;
    r.rc = env.p.lpWSPRecv(s, &b, 1, &r.bytes, &f, nullptr, nullptr, nullptr, &r.err);
    if (r.rc == 0) r.data = buf.substr(0, r.bytes);
    return r;
}

fd_set set_of(std::initializer_list<SOCKET> socks) {
    fd_set f;
    FD_ZERO(&f);
    for (SOCKET s : socks) FD_SET(s, &f);
    return f;
}

bool in_set(SOCKET s, const fd_set& f) {
    for (u_int i = 0; i < f.fd_count; ++i)
        if (f.fd_array[i] == s) return true;
    return false;
}

// Not const: mingw-w64 declares WSPSelect's timeout as a pointer to a mutable
// timeval (the SDK and lwsp: to a const one).
timeval k_poll{0, 0};

// WSPSelect on one socket in one set (0 read, 1 write, 2 except), zero timeout.
int poll_one(wsp_env& env, SOCKET s, int which, int& err) {
    fd_set f = set_of({s});
    fd_set* sets[3] = {nullptr, nullptr, nullptr};
    sets[which] = &f;
    err = 0;
    return env.p.lpWSPSelect(0, sets[0], sets[1], sets[2], &k_poll, &err);
}

int get_int(wsp_env& env, SOCKET s, int level, int name, int& err) {
    int v = -12345, len = sizeof v;
    err = 0;
    if (env.p.lpWSPGetSockOpt(s, level, name, reinterpret_cast<char*>(&v), &len, &err) != 0) return -12345;
    return v;
}

int set_int(wsp_env& env, SOCKET s, int level, int name, int value) {
    int err = 0;
    return env.p.lpWSPSetSockOpt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value, &err) == 0 ? 0
                                                                                                                 : err;
}

u_long fionread(wsp_env& env, SOCKET s) {
    u_long n = 0xdeadbeef;
    DWORD ret = 0;
    int err = 0;
    REQUIRE(env.p.lpWSPIoctl(s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(ret == sizeof(u_long));
    return n;
}

// A sockaddr of either family, with its length.
struct any_addr {
    SOCKADDR_STORAGE storage{};
    int len = 0;
    sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage); }
};

any_addr make_addr(bool v6, const char* ip, std::uint16_t port) {
    any_addr a;
    if (v6) {
        sockaddr_in6 in6 = wsp_env::addr6(ip, port);
        std::memcpy(&a.storage, &in6, sizeof in6);
        a.len = sizeof in6;
    } else {
        sockaddr_in in = wsp_env::addr4(ip, port);
        std::memcpy(&a.storage, &in, sizeof in);
        a.len = sizeof in;
    }
    return a;
}

const char* peer_ip(bool v6) { return v6 ? "2001:db8::2" : "192.0.2.2"; }
const char* stack_ip(bool v6) { return v6 ? "2001:db8::1" : "192.0.2.1"; }

std::uint16_t port_of(const sockaddr* sa) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(sa) + 2;  // sin_port and sin6_port sit at offset 2
    return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
}

std::string ip_of(const sockaddr* sa) {
    if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        return ip_addr::from_bytes(reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr), 16).to_string();
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return ip_addr::from_bytes(reinterpret_cast<const std::uint8_t*>(&in->sin_addr), 4).to_string();
}

// Segments among `frames` that belong to `conn` (fed to it on the way).
std::vector<tcp_segment> feed(tcp_script& conn, const std::vector<parsed_frame>& frames) {
    std::vector<tcp_segment> out;
    for (const parsed_frame& f : frames)
        if (conn.accept(f)) out.push_back(*f.tcp);
    return out;
}

bool any_flag(const std::vector<tcp_segment>& segs, std::uint8_t flag) {
    for (const tcp_segment& s : segs)
        if (s.flags & flag) return true;
    return false;
}

std::size_t payload_bytes(const std::vector<tcp_segment>& segs) {
    std::size_t n = 0;
    for (const tcp_segment& s : segs) n += s.payload.size();
    return n;
}

// A counter pattern: byte i of the stream is recognisable at its place.
std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
    return s;
}

// An accepted connection on the stack's port 80 with the peer at
// k_peer_port, of either family.  `window` is what the peer advertises from
// its SYN on (lwIP ignores a window that shrinks without new data, so a
// small or closed window must be there from the start).
struct session {
    wsp_env env;
    bool v6;
    SOCKET lst;
    tcp_script conn;
    SOCKET s;
    explicit session(bool v6_, std::uint16_t window = 65535)
        : v6(v6_), lst(env.listener(k_port, v6_)), conn(env.peer(v6_), k_peer_port, k_port), s(start(window)) {}
    SOCKET start(std::uint16_t window) {
        conn.window = window;
        SOCKET a = env.accept_from_peer(lst, conn);
        feed(conn, env.pump());
        return a;
    }
    // What the stack sent on this connection since the last look.
    std::vector<tcp_segment> out() { return feed(conn, env.pump()); }
};

}  // namespace

// ---- connecting ---------------------------------------------------------------

TEST_CASE("blocking WSPConnect completes on the peer's SYN-ACK and names both ends", "[wsp][data][connect][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = env.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP);
    any_addr local = make_addr(v6, stack_ip(v6), 40000);
    int err = 0;
    REQUIRE(env.p.lpWSPBind(s, local.sa(), local.len, &err) == 0);
    any_addr remote = make_addr(v6, peer_ip(v6), 7000);

    async_call<io> call([&env, s, remote]() mutable {
        io r;
        r.rc = env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &r.err);
        return r;
    });
    tcp_script conn(env.peer(v6), 7000, 40000);
    std::vector<tcp_segment> syn;
    REQUIRE(eventually([&] {
        auto segs = feed(conn, env.pump());
        syn.insert(syn.end(), segs.begin(), segs.end());
        return !syn.empty();
    }));
    INFO(env.transcript);
    REQUIRE(syn.size() == 1);
    CHECK(syn[0].flags == tcp_syn);
    CHECK(syn[0].sport == 40000);
    CHECK(syn[0].dport == 7000);
    REQUIRE(syn[0].mss());
    CHECK(*syn[0].mss() == (v6 ? 1440 : 1460));  // 1500-byte link minus IP and TCP headers
    REQUIRE(blocked(env.st, call));              // waiting for the SYN-ACK
    CHECK_FALSE(call.done());

    conn.send_syn_ack();
    REQUIRE(call.wait());
    CHECK(call.result().rc == 0);
    auto ack = feed(conn, env.pump());
    REQUIRE(ack.size() == 1);
    CHECK(ack[0].flags == tcp_ack);
    CHECK(ack[0].ack == conn.snd_nxt());

    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    REQUIRE(env.p.lpWSPGetPeerName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(len == (v6 ? 28 : 16));
    CHECK(reinterpret_cast<sockaddr*>(&name)->sa_family == (v6 ? AF_INET6 : AF_INET));
    CHECK(ip_of(reinterpret_cast<sockaddr*>(&name)) == peer_ip(v6));
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == 7000);
    len = sizeof name;
    REQUIRE(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(len == (v6 ? 28 : 16));
    CHECK(ip_of(reinterpret_cast<sockaddr*>(&name)) == stack_ip(v6));
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == 40000);

    // Connected now: another connect fails WSAEISCONN.
    err = 0;
    CHECK(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEISCONN);
}

TEST_CASE("nonblocking WSPConnect: WSAEWOULDBLOCK then writable in select once the SYN-ACK arrives",
          "[wsp][data][connect]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = env.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    any_addr remote = make_addr(v6, peer_ip(v6), 7001);
    int err = 0;
    REQUIRE(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEWOULDBLOCK);
    err = 0;
    CHECK(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEALREADY);

    auto frames = env.pump();
    INFO(env.transcript);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].tcp);
    CHECK(frames[0].tcp->flags == tcp_syn);
    CHECK(frames[0].tcp->dport == 7001);
    // The implicit bind picked an ephemeral port; WSPGetSockName shows it.
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    REQUIRE(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == frames[0].tcp->sport);
    tcp_script conn(env.peer(v6), 7001, frames[0].tcp->sport);
    REQUIRE(conn.accept(frames[0]));

    CHECK(poll_one(env, s, 1, err) == 0);  // not writable yet
    CHECK(poll_one(env, s, 2, err) == 0);  // nor failed
    conn.send_syn_ack();
    fd_set w = set_of({s}), e = set_of({s});
    err = 0;
    CHECK(env.p.lpWSPSelect(0, nullptr, &w, &e, &k_poll, &err) == 1);
    CHECK(w.fd_count == 1);
    CHECK(in_set(s, w));
    CHECK(e.fd_count == 0);
    auto ack = feed(conn, env.pump());
    REQUIRE(ack.size() == 1);
    CHECK(ack[0].flags == tcp_ack);
    CHECK(get_int(env, s, SOL_SOCKET, SO_ERROR, err) == 0);
    // The connection carries data right away.
    CHECK(send_text(env, s, "hello").bytes == 5);
    feed(conn, env.pump());
    CHECK(conn.received_string() == "hello");
}

TEST_CASE("refused nonblocking WSPConnect shows in exceptfds and SO_ERROR and the socket can connect again",
          "[wsp][data][connect]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = env.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    any_addr remote = make_addr(v6, peer_ip(v6), 7002);
    int err = 0;
    REQUIRE(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    REQUIRE(err == WSAEWOULDBLOCK);
    auto frames = env.pump();
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].tcp);
    tcp_script refuse(env.peer(v6), 7002, frames[0].tcp->sport);
    REQUIRE(refuse.accept(frames[0]));
    refuse.send_rst_ack();
    CHECK(env.pump().empty());  // nothing answers a RST

    fd_set w = set_of({s}), e = set_of({s});
    CHECK(env.p.lpWSPSelect(0, nullptr, &w, &e, &k_poll, &err) == 1);
    CHECK(w.fd_count == 0);
    CHECK(e.fd_count == 1);
    CHECK(in_set(s, e));
    CHECK(get_int(env, s, SOL_SOCKET, SO_ERROR, err) == WSAECONNREFUSED);
    CHECK(get_int(env, s, SOL_SOCKET, SO_ERROR, err) == 0);  // reading cleared it (docs/design.md)
    int perr = 0;
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    CHECK(env.p.lpWSPGetPeerName(s, reinterpret_cast<sockaddr*>(&name), &len, &perr) == SOCKET_ERROR);
    CHECK(perr == WSAENOTCONN);

    // Windows lets the same socket try again.
    err = 0;
    REQUIRE(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEWOULDBLOCK);
    frames = env.pump();
    INFO(env.transcript);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].tcp);
    CHECK(frames[0].tcp->flags == tcp_syn);
    tcp_script conn(env.peer(v6), 7002, frames[0].tcp->sport, 5000);
    REQUIRE(conn.accept(frames[0]));
    conn.send_syn_ack();
    CHECK(poll_one(env, s, 1, err) == 1);
    CHECK(poll_one(env, s, 2, err) == 0);
    len = sizeof name;
    REQUIRE(env.p.lpWSPGetPeerName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == 7002);
    feed(conn, env.pump());
    CHECK(send_text(env, s, "second try").bytes == 10);
    feed(conn, env.pump());
    CHECK(conn.received_string() == "second try");
}

// ---- accepting ----------------------------------------------------------------

TEST_CASE("WSPAccept returns the peer address and the socket inherits the listener's options", "[wsp][data][accept]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET lst = env.listener(k_port, v6);
    REQUIRE(set_int(env, lst, IPPROTO_TCP, TCP_NODELAY, 1) == 0);
    REQUIRE(env.set_linger(lst, 1, 7) == 0);
    REQUIRE(set_int(env, lst, SOL_SOCKET, SO_RCVTIMEO, 1234) == 0);
    REQUIRE(env.set_nonblocking(lst, true) == 0);

    int err = 0;
    SOCKADDR_STORAGE from{};
    int fromlen = sizeof from;
    CHECK(env.p.lpWSPAccept(lst, reinterpret_cast<sockaddr*>(&from), &fromlen, nullptr, 0, &err) == INVALID_SOCKET);
    CHECK(err == WSAEWOULDBLOCK);

    tcp_script conn(env.peer(v6), k_peer_port, k_port);
    REQUIRE(handshake(env, conn));
    fromlen = sizeof from;
    SOCKET a = env.p.lpWSPAccept(lst, reinterpret_cast<sockaddr*>(&from), &fromlen, nullptr, 0, &err);
    REQUIRE(a != INVALID_SOCKET);
    CHECK(fromlen == (v6 ? 28 : 16));
    CHECK(reinterpret_cast<sockaddr*>(&from)->sa_family == (v6 ? AF_INET6 : AF_INET));
    CHECK(ip_of(reinterpret_cast<sockaddr*>(&from)) == peer_ip(v6));
    CHECK(port_of(reinterpret_cast<sockaddr*>(&from)) == k_peer_port);
    feed(conn, env.pump());

    CHECK(get_int(env, a, IPPROTO_TCP, TCP_NODELAY, err) == 1);
    struct linger l {
        0, 0
    };
    int len = sizeof l;
    REQUIRE(env.p.lpWSPGetSockOpt(a, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), &len, &err) == 0);
    CHECK(l.l_onoff == 1);
    CHECK(l.l_linger == 7);
    CHECK(get_int(env, a, SOL_SOCKET, SO_RCVTIMEO, err) == 1234);
    // Nonblocking, inherited: an empty receive queue gives WSAEWOULDBLOCK at once.
    io r = recv_text(env, a, 10);
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAEWOULDBLOCK);
    // TCP_NODELAY, inherited, on the wire: two small sends go out without waiting for an ACK.
    CHECK(send_text(env, a, "one").bytes == 3);
    CHECK(send_text(env, a, "two").bytes == 3);
    auto segs = feed(conn, env.pump());
    CHECK(segs.size() == 2);
    CHECK(conn.received_string() == "onetwo");
}

TEST_CASE("blocking WSPAccept in a thread returns when the peer completes the handshake",
          "[wsp][data][accept][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET lst = env.listener(k_port, v6);
    struct accepted {
        SOCKET s = INVALID_SOCKET;
        int err = 0;
        int len = 0;
        SOCKADDR_STORAGE from{};
    };
    async_call<accepted> call([&env, lst] {
        accepted r;
        r.len = sizeof r.from;
        r.s = env.p.lpWSPAccept(lst, reinterpret_cast<sockaddr*>(&r.from), &r.len, nullptr, 0, &r.err);
        return r;
    });
    REQUIRE(blocked(env.st, call));
    CHECK_FALSE(call.done());

    tcp_script conn(env.peer(v6), k_peer_port, k_port);
    conn.send_syn();
    auto synack = feed(conn, env.pump());
    REQUIRE(synack.size() == 1);
    CHECK(synack[0].flags == (tcp_syn | tcp_ack));
    CHECK(stays_false([&] { return call.done(); }));  // the handshake is not complete yet

    conn.send_ack();
    REQUIRE(call.wait());
    const accepted& r = call.result();
    REQUIRE(r.s != INVALID_SOCKET);
    CHECK(r.len == (v6 ? 28 : 16));
    CHECK(ip_of(reinterpret_cast<const sockaddr*>(&r.from)) == peer_ip(v6));
    CHECK(port_of(reinterpret_cast<const sockaddr*>(&r.from)) == k_peer_port);
    conn.send_text("ping");
    int err = 0;
    CHECK(env.recv(r.s, 10, err) == "ping");
    CHECK(err == 0);
}

// ---- data -----------------------------------------------------------------------

TEST_CASE("WSPSend of a WSABUF array arrives in order on the wire", "[wsp][data][send]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    io r = send_parts(env, c.s, {"first,", "", "second,", "third"});
    CHECK(r.rc == 0);
    CHECK(r.bytes == 18);
    c.out();
    c.conn.send_ack();  // Nagle may hold the rest until the first segment is acknowledged
    c.out();
    c.conn.send_ack();
    INFO(env.transcript);
    CHECK(c.conn.received_string() == "first,second,third");
    CHECK_FALSE(c.conn.fin_received());
    CHECK_FALSE(c.conn.rst_received());
}

TEST_CASE("WSPRecv scatters over several buffers and MSG_PEEK and FIONREAD see queued data", "[wsp][data][recv]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    CHECK(fionread(env, c.s) == 0);
    c.conn.send_text("abcdefghijkl");
    c.out();
    CHECK(fionread(env, c.s) == 12);

    // Peek over two buffers: the data stays.
    char p1[3] = {}, p2[4] = {};
    WSABUF peek[2] = {{3, p1}, {4, p2}};
    DWORD got = 0, flags = MSG_PEEK;
    int err = 0;
    REQUIRE(env.p.lpWSPRecv(c.s, peek, 2, &got, &flags, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(got == 7);
    CHECK(std::string(p1, 3) == "abc");
    CHECK(std::string(p2, 4) == "defg");
    CHECK(fionread(env, c.s) == 12);
    CHECK(c.out().empty());  // peeking opens no window

    char b1[3] = {}, b2[4] = {}, b3[10] = {};
    WSABUF bufs[3] = {{3, b1}, {4, b2}, {10, b3}};
    flags = 0;
    got = 0;
    REQUIRE(env.p.lpWSPRecv(c.s, bufs, 3, &got, &flags, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(got == 12);
    CHECK(flags == 0);
    CHECK(std::string(b1, 3) == "abc");
    CHECK(std::string(b2, 4) == "defg");
    CHECK(std::string(b3, 5) == "hijkl");
    CHECK(fionread(env, c.s) == 0);

    // Nothing queued: a nonblocking receive says so.
    REQUIRE(env.set_nonblocking(c.s, true) == 0);
    io r = recv_text(env, c.s, 10);
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAEWOULDBLOCK);
    CHECK(r.bytes == 0xdeadbeef);  // untouched on failure
}

TEST_CASE("MSG_WAITALL on a blocking socket waits until the buffers are full", "[wsp][data][recv][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    SOCKET s = c.s;
    async_call<io> call([&env, s] {
        std::string a(4, '\0'), b(6, '\0');
        WSABUF bufs[2] = {{4, a.data()}, {6, b.data()}};
        io r;
        DWORD flags = MSG_WAITALL;
        r.rc = env.p.lpWSPRecv(s, bufs, 2, &r.bytes, &flags, nullptr, nullptr, nullptr, &r.err);
        r.data = a + "|" + b;
        return r;
    });
    REQUIRE(blocked(env.st, call));
    c.conn.send_text("0123");
    // The call takes the 4 bytes (none left queued) and waits again, all
    // under the core lock: seen from here, it is back in the stack's wait.
    REQUIRE(eventually([&] { return call.done() || (fionread(env, s) == 0 && env.st.waiting_threads() == 1); }));
    CHECK_FALSE(call.done());  // 4 of 10 bytes: keeps waiting
    c.conn.send_text("456789xyz");
    REQUIRE(call.wait());
    CHECK(call.result().rc == 0);
    CHECK(call.result().bytes == 10);
    CHECK(call.result().data == "0123|456789");
    CHECK(fionread(env, c.s) == 3);
    int err = 0;
    CHECK(env.recv(c.s, 10, err) == "xyz");
}

TEST_CASE("MSG_WAITALL hands over what arrived when SO_RCVTIMEO expires", "[wsp][data][recv][threads]") {
    session c(false);
    wsp_env& env = c.env;
    REQUIRE(set_int(env, c.s, SOL_SOCKET, SO_RCVTIMEO, 1000) == 0);
    SOCKET s = c.s;
    async_call<io> call([&env, s] { return recv_text(env, s, 10, MSG_WAITALL); });
    REQUIRE(blocked(env.st, call));
    c.conn.send_text("part");
    // Taken, and waiting again for the rest, its deadline taken from the
    // clock that has not moved.
    REQUIRE(eventually([&] { return call.done() || (fionread(env, s) == 0 && env.st.waiting_threads() == 1); }));
    CHECK_FALSE(call.done());
    env.advance(1000);
    REQUIRE(call.wait());
    // The four bytes were taken from the connection (and acknowledged):
    // dropping them with the timeout error would lose stream data.
    CHECK(call.result().rc == 0);
    CHECK(call.result().bytes == 4);
    CHECK(call.result().data == "part");
    CHECK(fionread(env, c.s) == 0);
}

TEST_CASE("MSG_WAITALL returns at once with the last bytes of a stream whose end has already arrived",
          "[wsp][data][recv][threads][regression]") {
    // Found by the random-modes ordering test (a hang in about 3 % of runs):
    // a MSG_WAITALL receive that took the last bytes after the peer's FIN
    // was already in waited for more, and no event was left to wake it.
    session c(false);
    wsp_env& env = c.env;
    c.conn.send_text("tail");
    c.conn.send_fin();
    REQUIRE(eventually([&] { return fionread(env, c.s) == 4; }));
    SOCKET s = c.s;
    async_call<io> call([&env, s] { return recv_text(env, s, 10, MSG_WAITALL); });
    REQUIRE(call.wait());  // a bounded wait: before the fix it never returned
    CHECK(call.result().rc == 0);
    CHECK(call.result().bytes == 4);
    CHECK(call.result().data == "tail");
    io end = recv_text(env, s, 10, MSG_WAITALL);
    CHECK(end.rc == 0);
    CHECK(end.bytes == 0);  // then the end of the stream
}

// ---- flow control -------------------------------------------------------------

TEST_CASE("a blocking WSPSend of twice the send buffer into a small peer window completes as the peer acknowledges",
          "[wsp][data][flow][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    constexpr std::uint16_t window = 4096;
    static_assert(window < send_buffer, "the peer's window, not the send buffer, must limit what is in flight");
    session c(v6, window);
    wsp_env& env = c.env;
    const std::string data = pattern(more_than_send_buffer);
    SOCKET s = c.s;
    async_call<io> call([&env, s, &data] { return send_text(env, s, data); });

    // Nothing is acknowledged yet: the send cannot finish (it is larger than
    // the send buffer, TCP_SND_BUF), and the stack keeps to the peer's window.
    // Once the send is blocked, everything the window allows has been sent
    // (each write is followed by tcp_output under the same lock).
    REQUIRE(blocked(env.st, call));
    auto first = c.out();
    CHECK(payload_bytes(first) > 0);
    CHECK(payload_bytes(first) <= window);
    CHECK_FALSE(call.done());

    std::uint32_t acked = c.conn.rcv_nxt() - payload_bytes(first);  // what the peer acknowledged last
    std::size_t segments = 0, over_window = 0;
    bool progress = true;
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (c.conn.received().size() < data.size() && std::chrono::steady_clock::now() < end) {
        if (progress) {
            acked = c.conn.rcv_nxt();
            c.conn.send_ack();
        }
        env.link.wait_for(1, 100ms);
        auto segs = c.out();
        progress = false;
        for (const tcp_segment& seg : segs) {
            if (seg.payload.empty()) continue;
            ++segments;
            progress = true;
            if (seg.seq + seg.payload.size() - acked > window) ++over_window;
        }
    }
    c.conn.send_ack();
    INFO("segments " << segments);
    REQUIRE(call.wait());
    CHECK(call.result().rc == 0);
    CHECK(call.result().bytes == data.size());
    CHECK(over_window == 0);
    REQUIRE(c.conn.received().size() == data.size());
    CHECK(c.conn.received_string() == data);
    CHECK_FALSE(c.conn.rst_received());
}

TEST_CASE("a nonblocking WSPSend into a full send buffer returns a partial count then WSAEWOULDBLOCK",
          "[wsp][data][flow]") {
    session c(false, 0);  // the peer's window is closed: nothing leaves, everything stays queued
    wsp_env& env = c.env;
    REQUIRE(env.set_nonblocking(c.s, true) == 0);
    // More than the send buffer, but the rest (sent below once the buffer
    // has drained) fits in it whole.
    const std::string data = pattern(send_buffer + 12345);
    static_assert(12345 < send_buffer, "the second send must fit an empty send buffer");
    io r = send_text(env, c.s, data);
    CHECK(r.rc == 0);
    CHECK(r.bytes > 0);
    CHECK(r.bytes < data.size());
    CHECK(r.bytes == send_buffer);  // all of TCP_SND_BUF, nothing more
    CHECK(c.out().empty());

    int err = 0;
    CHECK(poll_one(env, c.s, 1, err) == 0);  // not writable
    io again = send_text(env, c.s, "more");
    CHECK(again.rc == SOCKET_ERROR);
    CHECK(again.err == WSAEWOULDBLOCK);
    CHECK(again.bytes == 0xdeadbeef);

    // The peer opens its window: the queued bytes flow and space comes back.
    c.conn.window = 65535;
    c.conn.send_ack();
    for (int i = 0; i < 100 && c.conn.received().size() < r.bytes; ++i) {
        auto segs = c.out();
        if (segs.empty()) break;
        c.conn.send_ack();
    }
    CHECK(c.conn.received().size() == r.bytes);
    CHECK(c.conn.received_string() == data.substr(0, r.bytes));
    CHECK(poll_one(env, c.s, 1, err) == 1);
    io rest = send_text(env, c.s, data.substr(r.bytes));
    CHECK(rest.rc == 0);
    CHECK(rest.bytes == data.size() - r.bytes);
}

TEST_CASE("a blocking WSPSend waits instead of spinning when lwIP's segment queue is full",
          "[wsp][data][flow][threads]") {
    // Many one-byte sends with TCP_NODELAY and no ACK from the peer: the
    // send buffer still has room, but lwIP's queue of segments (pbufs) is at
    // TCP_SND_QUEUELEN, so a send must wait for an ACK — without holding the
    // core lock, or the ACK could never arrive.
    session c(false);
    wsp_env& env = c.env;
    REQUIRE(set_int(env, c.s, IPPROTO_TCP, TCP_NODELAY, 1) == 0);
    // One pbuf per one-byte segment: more sends than TCP_SND_QUEUELEN fill the
    // queue long before they fill the send buffer.
    constexpr int sends = TCP_SND_QUEUELEN + 100;
    static_assert(static_cast<std::size_t>(sends) < send_buffer, "the send buffer must keep room");
    SOCKET s = c.s;
    auto count = std::make_shared<std::atomic<int>>(0);
    async_call<io> call([&env, s, count] {
        io r;
        for (int i = 0; i < sends; ++i) {
            r = send_text(env, s, std::string(1, static_cast<char>('a' + i % 26)));
            if (r.rc != 0) break;
            ++*count;
        }
        return r;
    });
    // Wait until the sender is blocked (queue full), then ACK.  If the sender
    // spins with the core lock held, neither waiting_threads() (it takes the
    // lock) nor the ACK can get through: both happen in a helper thread,
    // which this one watches, bounded.
    std::atomic<bool> sender_blocked{false}, done_before_ack{true}, acked{false};
    std::atomic<int> count_before_ack{-1};
    std::thread acker([&] {
        sender_blocked = blocked(env.st, call);
        done_before_ack = call.done();
        count_before_ack = count->load();
        feed(c.conn, env.pump());
        c.conn.send_ack();  // takes the core lock
        acked = true;
    });
    if (!eventually([&] { return acked.load(); }, 10000ms)) {
        FAIL_CHECK("the blocked WSPSend holds the core lock (spins): the stack is wedged");
        std::fflush(nullptr);
        std::abort();  // nothing can be cleaned up with the core lock held forever
    }
    acker.join();
    CHECK(sender_blocked);  // it waits in the stack instead of spinning
    CHECK_FALSE(done_before_ack);
    CHECK(count_before_ack < sends);
    // Each ACK frees the queue for more sends; until the call is done (or a
    // real-time bound that only a broken stack reaches).
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (!call.done() && std::chrono::steady_clock::now() < end) {
        feed(c.conn, env.pump());
        c.conn.send_ack();
        env.link.wait_for(1, 20ms);  // the sender's next segment, if it is quick
    }
    REQUIRE(call.wait());
    CHECK(call.result().rc == 0);
    CHECK(count->load() == sends);
    for (int round = 0; round < 50 && c.conn.received().size() < sends; ++round) {
        feed(c.conn, env.pump());
        c.conn.send_ack();
    }
    std::string expect;
    for (int i = 0; i < sends; ++i) expect += static_cast<char>('a' + i % 26);
    CHECK(c.conn.received_string() == expect);
}

TEST_CASE("the advertised window shrinks with unread data and reopens when WSPRecv consumes it",
          "[wsp][data][window]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    REQUIRE(c.conn.stack_window());
    CHECK(*c.conn.stack_window() == 65535);

    const std::string chunk = pattern(1000);
    for (int i = 0; i < 8; ++i) c.conn.send_text(chunk);
    env.advance(250);  // any delayed ACK
    auto acks = c.out();
    INFO(env.transcript);
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().ack == c.conn.snd_nxt());
    CHECK(acks.back().window == 65535 - 8000);
    CHECK(fionread(env, c.s) == 8000);

    // Reading part of it reopens the window by that part, but lwIP sends no
    // update for less than TCP_WND_UPDATE_THRESHOLD (a quarter window or
    // four segments); the next ACK carries the larger window.
    int err = 0;
    CHECK(env.recv(c.s, 2000, err).size() == 2000);
    CHECK(c.out().empty());
    c.conn.send_text("x");
    env.advance(250);  // the delayed ACK
    auto later = c.out();
    REQUIRE(later.size() == 1);
    CHECK(later[0].window == 65535 - 6001);
    CHECK(later[0].ack == c.conn.snd_nxt());

    // Consuming the rest sends a window update at once.
    CHECK(env.recv(c.s, 10000, err).size() == 6001);
    auto update = c.out();
    REQUIRE(update.size() == 1);
    CHECK(update[0].flags == tcp_ack);
    CHECK(update[0].payload.empty());
    CHECK(update[0].window == 65535);
    CHECK(update[0].ack == c.conn.snd_nxt());
}

// ---- end of stream, shutdown, reset --------------------------------------------

TEST_CASE("after the peer's FIN WSPRecv returns 0 every time and select reports readable", "[wsp][data][eof]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    CHECK(poll_one(env, c.s, 0, err) == 0);
    c.conn.send_text("last words");
    c.conn.send_fin();
    auto acks = c.out();
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().ack == c.conn.snd_nxt());  // the FIN is acknowledged
    CHECK(poll_one(env, c.s, 0, err) == 1);
    io r = recv_text(env, c.s, 100);
    CHECK(r.rc == 0);
    CHECK(r.data == "last words");
    for (int i = 0; i < 3; ++i) {
        r = recv_text(env, c.s, 100);
        CHECK(r.rc == 0);
        CHECK(r.bytes == 0);
        CHECK(poll_one(env, c.s, 0, err) == 1);
    }
    // Still open for sending (half close).
    CHECK(send_text(env, c.s, "reply").bytes == 5);
    c.out();
    CHECK(c.conn.received_string() == "reply");
}

TEST_CASE("WSPShutdown SD_SEND sends FIN and later sends fail WSAESHUTDOWN while receiving still works",
          "[wsp][data][shutdown]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    CHECK(send_text(env, c.s, "bye").bytes == 3);
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
    auto segs = c.out();
    INFO(env.transcript);
    CHECK(c.conn.received_string() == "bye");
    CHECK(c.conn.fin_received());
    CHECK_FALSE(any_flag(segs, tcp_rst));
    CHECK(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);  // repeatable
    CHECK(c.out().empty());

    io r = send_text(env, c.s, "more");
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
    CHECK(c.out().empty());

    c.conn.send_ack();
    c.conn.send_text("still listening");
    c.out();
    io got = recv_text(env, c.s, 100);
    CHECK(got.rc == 0);
    CHECK(got.data == "still listening");
    // Writable, as on Windows and POSIX: a send does not block, it fails at
    // once with WSAESHUTDOWN (above).
    CHECK(poll_one(env, c.s, 1, err) == 1);
}

TEST_CASE("a socket shut down for sending stays usable after the peer's FIN and TIME_WAIT", "[wsp][data][shutdown]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
    c.out();
    REQUIRE(c.conn.fin_received());
    c.conn.send_ack();
    c.conn.send_text("tail");
    c.conn.send_fin();
    auto acks = c.out();
    REQUIRE_FALSE(acks.empty());
    CHECK(acks.back().ack == c.conn.snd_nxt());
    CHECK(env.st.stats().tcp_time_wait_pcbs == 1);

    // lwIP frees a TIME_WAIT pcb after 2 MSL without telling anyone; the
    // socket must not have kept a pointer to it.
    env.advance(2 * 60 * 1000 + 2000, 1000);
    CHECK(env.st.stats().tcp_time_wait_pcbs == 0);
    CHECK(recv_text(env, c.s, 100).data == "tail");
    io eof = recv_text(env, c.s, 100);
    CHECK(eof.rc == 0);
    CHECK(eof.bytes == 0);
    io r = send_text(env, c.s, "x");
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
    CHECK(poll_one(env, c.s, 0, err) == 1);
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    CHECK(env.p.lpWSPGetSockName(c.s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == k_port);
    REQUIRE(env.set_linger(c.s, 1, 5) == 0);  // a lingering close has nothing to wait for
    CHECK(env.close(c.s) == 0);
    CHECK(c.out().empty());
}

TEST_CASE("WSPShutdown SD_RECEIVE fails later receives and peer data then resets the connection",
          "[wsp][data][shutdown]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, SD_RECEIVE, &err) == 0);
    CHECK(c.out().empty());  // nothing on the wire for a receive shutdown
    io r = recv_text(env, c.s, 10);
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
    // Sending still works.
    CHECK(send_text(env, c.s, "one way").bytes == 7);
    c.out();
    CHECK(c.conn.received_string() == "one way");

    // lwIP (TF_RXCLOSED) answers data after a receive shutdown with RST and
    // drops the connection — what Winsock documents for SD_RECEIVE.
    c.conn.send_text("unwanted");
    auto segs = c.out();
    INFO(env.transcript);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].has(tcp_rst));
    io s2 = send_text(env, c.s, "gone");
    CHECK(s2.rc == SOCKET_ERROR);
    CHECK(s2.err == WSAECONNABORTED);  // the local stack aborted it
    r = recv_text(env, c.s, 10);
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
}

TEST_CASE("WSPShutdown SD_BOTH sends FIN and fails both directions", "[wsp][data][shutdown]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    CHECK(env.p.lpWSPShutdown(c.s, 3, &err) == SOCKET_ERROR);
    CHECK(err == WSAEINVAL);
    REQUIRE(env.p.lpWSPShutdown(c.s, SD_BOTH, &err) == 0);
    auto segs = c.out();
    CHECK(c.conn.fin_received());
    CHECK_FALSE(any_flag(segs, tcp_rst));
    io s1 = send_text(env, c.s, "x");
    CHECK(s1.rc == SOCKET_ERROR);
    CHECK(s1.err == WSAESHUTDOWN);
    io r = recv_text(env, c.s, 10);
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
    // The peer's own FIN is no data: the close completes without a reset.
    c.conn.send_ack();
    c.conn.send_fin();
    segs = c.out();
    REQUIRE(segs.size() == 1);
    CHECK(segs[0].flags == tcp_ack);
    CHECK(segs[0].ack == c.conn.snd_nxt());
    CHECK(env.close(c.s) == 0);
    CHECK(c.out().empty());
}

TEST_CASE("peer FIN, then WSPShutdown, then the peer's ACK: the socket still answers and closes cleanly",
          "[wsp][data][shutdown][regression]") {
    // The everyday "peer closed -> shutdown -> closesocket" pattern.  lwIP
    // frees the pcb when the ACK of our FIN ends LAST_ACK; with its receive
    // side closed (TF_RXCLOSED) it says nothing, so the endpoint must never
    // set that flag on a pcb it still holds (it used to: use after free).
    const bool v6 = GENERATE(false, true);
    const int how = GENERATE(SD_BOTH, SD_RECEIVE, SD_SEND);
    INFO((v6 ? "IPv6" : "IPv4") << " how=" << how);
    session c(v6);
    wsp_env& env = c.env;
    c.conn.send_text("last words");
    c.conn.send_fin();
    c.out();
    io r = recv_text(env, c.s, 64);
    CHECK(r.rc == 0);
    CHECK(r.data == "last words");
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, how, &err) == 0);
    if (how == SD_RECEIVE) REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
    auto segs = c.out();
    INFO(env.transcript);
    CHECK(c.conn.fin_received());
    CHECK_FALSE(any_flag(segs, tcp_rst));
    c.conn.send_ack();  // LAST_ACK ends: lwIP frees the pcb
    CHECK(c.out().empty());
    // Every call that used to reach the freed pcb answers from the socket.
    io s1 = send_text(env, c.s, "x");
    CHECK(s1.rc == SOCKET_ERROR);
    CHECK(s1.err == WSAESHUTDOWN);
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    CHECK(env.p.lpWSPGetSockName(c.s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == k_port);
    REQUIRE(env.set_linger(c.s, 1, 0) == 0);  // even an abortive close: nothing left to reset
    CHECK(env.close(c.s) == 0);
    CHECK(c.out().empty());
    CHECK(env.st.stats().tcp_pcbs == 1);  // the listener only
}

TEST_CASE("data with the peer's FIN after shutdown(SD_BOTH): RST, and the socket still answers and closes cleanly",
          "[wsp][data][shutdown][regression]") {
    // Our FIN went first and was acknowledged (FIN_WAIT_2); the peer's last
    // segment carries data and its FIN.  lwIP takes the FIN first (TIME_WAIT)
    // and then hands over the data, which resets the connection because
    // receiving was shut down.  For a TIME_WAIT pcb lwIP's abort sends no RST
    // and frees the pcb with no callback: the endpoint used to keep the
    // freed pointer (heap-use-after-free in the calls below; found by the
    // soak test).
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

TEST_CASE("WSPShutdown SD_SEND from another thread ends a blocked WSPSend with WSAESHUTDOWN",
          "[wsp][data][shutdown][threads]") {
    session c(false, 0);  // closed window: the send buffer fills and the send blocks
    wsp_env& env = c.env;
    SOCKET s = c.s;
    const std::string data = pattern(more_than_send_buffer);
    async_call<io> call([&env, s, &data] { return send_text(env, s, data); });
    REQUIRE(blocked(env.st, call));  // the send buffer is full
    CHECK_FALSE(call.done());
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, SD_SEND, &err) == 0);
    REQUIRE(call.wait());
    CHECK(call.result().rc == SOCKET_ERROR);
    CHECK(call.result().err == WSAESHUTDOWN);
    // What was queued before the shutdown still goes, then the FIN.
    c.conn.window = 65535;
    c.conn.send_ack();
    for (int i = 0; i < 100 && !c.conn.fin_received(); ++i) {
        if (c.out().empty()) break;
        c.conn.send_ack();
    }
    CHECK(c.conn.fin_received());
    CHECK(c.conn.received().size() == send_buffer);  // what the send buffer held
    CHECK(c.conn.received_string() == data.substr(0, send_buffer));
    CHECK_FALSE(c.conn.rst_received());
}

TEST_CASE("WSPShutdown on an unconnected stream socket fails WSAENOTCONN", "[wsp][data][shutdown]") {
    wsp_env env;
    SOCKET s = env.socket();
    int err = 0;
    CHECK(env.p.lpWSPShutdown(s, SD_SEND, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTCONN);
    SOCKET lst = env.listener(k_port);
    err = 0;
    CHECK(env.p.lpWSPShutdown(lst, SD_BOTH, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTCONN);
    CHECK(env.pump().empty());
}

TEST_CASE("a peer reset fails a blocked WSPSend with WSAECONNRESET", "[wsp][data][reset][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6, 0);  // closed window: the send buffer fills and the send blocks
    wsp_env& env = c.env;
    SOCKET s = c.s;
    const std::string data = pattern(more_than_send_buffer);
    async_call<io> call([&env, s, &data] { return send_text(env, s, data); });
    REQUIRE(blocked(env.st, call));  // the send buffer is full
    CHECK_FALSE(call.done());
    CHECK(c.out().empty());  // nothing fits in a closed window
    c.conn.send_rst();
    REQUIRE(call.wait());
    CHECK(call.result().rc == SOCKET_ERROR);
    CHECK(call.result().err == WSAECONNRESET);
    CHECK(c.out().empty());  // no answer to a RST
    io again = send_text(env, c.s, "x");
    CHECK(again.rc == SOCKET_ERROR);
    CHECK(again.err == WSAECONNRESET);
    CHECK(env.close(c.s) == 0);
    CHECK(c.out().empty());
}

// ---- UDP -------------------------------------------------------------------------

namespace {

SOCKET udp_socket(wsp_env& env, bool v6, std::uint16_t bind_port = 0) {
    SOCKET s = env.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (bind_port != 0) {
        any_addr a = make_addr(v6, v6 ? "::" : "0.0.0.0", bind_port);
        int err = 0;
        REQUIRE(env.p.lpWSPBind(s, a.sa(), a.len, &err) == 0);
    }
    return s;
}

io sendto_text(wsp_env& env, SOCKET s, const std::string& text, any_addr to) {
    WSABUF b{static_cast<u_long>(text.size()), const_cast<char*>(text.data())};
    io r;
    r.bytes = 0xdeadbeef;
    r.rc = env.p.lpWSPSendTo(s, &b, 1, &r.bytes, 0, to.sa(), to.len, nullptr, nullptr, nullptr, &r.err);
    return r;
}

struct from_io : io {
    SOCKADDR_STORAGE from{};
    int fromlen = 0;
};

from_io recvfrom_text(wsp_env& env, SOCKET s, std::size_t max, DWORD flags = 0) {
    std::string buf(max, '\0');
    WSABUF b{static_cast<u_long>(max), buf.data()};
    from_io r;
    r.bytes = 0xdeadbeef;
    r.fromlen = sizeof r.from;
    DWORD f = flags;
    r.rc = env.p.lpWSPRecvFrom(s, &b, 1, &r.bytes, &f, reinterpret_cast<sockaddr*>(&r.from), &r.fromlen, nullptr,
                               nullptr, nullptr, &r.err);
    if (r.rc == 0 || r.err == WSAEMSGSIZE) r.data = buf.substr(0, r.bytes);
    return r;
}

std::vector<udp_info> udp_out(wsp_env& env) {
    std::vector<udp_info> out;
    for (parsed_frame& f : env.pump())
        if (f.udp) out.push_back(*f.udp);
    return out;
}

bytes to_bytes(const std::string& s) { return bytes(s.begin(), s.end()); }

}  // namespace

TEST_CASE("UDP WSPSendTo puts one datagram on the wire and binds an ephemeral port", "[wsp][data][udp]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = udp_socket(env, v6);
    int err = 0;
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    CHECK(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == SOCKET_ERROR);
    CHECK(err == WSAEINVAL);  // not bound yet

    io r = sendto_text(env, s, "datagram one", make_addr(v6, peer_ip(v6), 9000));
    CHECK(r.rc == 0);
    CHECK(r.bytes == 12);
    std::vector<parsed_frame> frames = env.pump();
    INFO(env.transcript);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].udp);
    REQUIRE(frames[0].ip);
    const udp_info& u = *frames[0].udp;
    CHECK(frames[0].ip->src.to_string() == stack_ip(v6));
    CHECK(frames[0].ip->dst.to_string() == peer_ip(v6));
    CHECK(frames[0].eth_dst == env.peer(v6).self().mac);
    CHECK(u.dport == 9000);
    CHECK(u.sport >= 49152);
    CHECK(u.length == 8 + 12);
    CHECK(u.checksum_present);
    CHECK(u.checksum_ok);
    CHECK(u.payload == to_bytes("datagram one"));

    len = sizeof name;
    REQUIRE(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(len == (v6 ? 28 : 16));
    CHECK(ip_of(reinterpret_cast<sockaddr*>(&name)) == (v6 ? "::" : "0.0.0.0"));
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == u.sport);

    // The same port again for the next datagram; an empty datagram is a datagram.
    r = sendto_text(env, s, "", make_addr(v6, peer_ip(v6), 9000));
    CHECK(r.rc == 0);
    CHECK(r.bytes == 0);
    auto next = udp_out(env);
    REQUIRE(next.size() == 1);
    CHECK(next[0].sport == u.sport);
    CHECK(next[0].payload.empty());
    CHECK(next[0].checksum_ok);

    // Without a destination there is nowhere to send.
    io none = send_text(env, s, "nowhere");
    CHECK(none.rc == SOCKET_ERROR);
    CHECK(none.err == WSAENOTCONN);
    CHECK(env.pump().empty());
}

TEST_CASE("UDP WSPRecvFrom gives payload and sender and keeps datagram boundaries", "[wsp][data][udp]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = udp_socket(env, v6, 5000);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    from_io none = recvfrom_text(env, s, 100);
    CHECK(none.rc == SOCKET_ERROR);
    CHECK(none.err == WSAEWOULDBLOCK);

    env.peer(v6).send_udp(6000, 5000, to_bytes("first"));
    env.peer(v6).send_udp(6001, 5000, to_bytes("second datagram"));
    CHECK(env.pump().empty());          // nothing to answer
    CHECK(fionread(env, s) == 5 + 15);  // all queued bytes (docs/wsp-contract.md, WSPIoctl FIONREAD)

    from_io a = recvfrom_text(env, s, 100);
    CHECK(a.rc == 0);
    CHECK(a.bytes == 5);
    CHECK(a.data == "first");
    CHECK(a.fromlen == (v6 ? 28 : 16));
    CHECK(reinterpret_cast<sockaddr*>(&a.from)->sa_family == (v6 ? AF_INET6 : AF_INET));
    CHECK(ip_of(reinterpret_cast<sockaddr*>(&a.from)) == peer_ip(v6));
    CHECK(port_of(reinterpret_cast<sockaddr*>(&a.from)) == 6000);

    // A buffer too small: the first part, WSAEMSGSIZE, the rest discarded.
    from_io b = recvfrom_text(env, s, 6);
    CHECK(b.rc == SOCKET_ERROR);
    CHECK(b.err == WSAEMSGSIZE);
    CHECK(b.bytes == 6);
    CHECK(b.data == "second");
    CHECK(port_of(reinterpret_cast<sockaddr*>(&b.from)) == 6001);
    from_io c = recvfrom_text(env, s, 100);
    CHECK(c.rc == SOCKET_ERROR);
    CHECK(c.err == WSAEWOULDBLOCK);

    // Two datagrams, two receives, even with room for both.
    env.peer(v6).send_udp(6000, 5000, to_bytes("AAAA"));
    env.peer(v6).send_udp(6000, 5000, to_bytes("BBBBBB"));
    from_io d1 = recvfrom_text(env, s, 100);
    from_io d2 = recvfrom_text(env, s, 100);
    CHECK(d1.data == "AAAA");
    CHECK(d2.data == "BBBBBB");
    CHECK(d2.bytes == 6);

    // fromlen too small: WSAEFAULT and the datagram stays.
    env.peer(v6).send_udp(6000, 5000, to_bytes("kept"));
    char buf[10];
    WSABUF wb{sizeof buf, buf};
    DWORD got = 0, flags = 0;
    SOCKADDR_STORAGE from{};
    int fromlen = 8;
    int err = 0;
    CHECK(env.p.lpWSPRecvFrom(s, &wb, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &fromlen, nullptr, nullptr,
                              nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEFAULT);
    CHECK(recvfrom_text(env, s, 100).data == "kept");
}

TEST_CASE("UDP MSG_PEEK returns the datagram without consuming it", "[wsp][data][udp]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    wsp_env env;
    SOCKET s = udp_socket(env, v6, 5001);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    env.peer(v6).send_udp(6000, 5001, to_bytes("peeked"));
    from_io p = recvfrom_text(env, s, 100, MSG_PEEK);
    CHECK(p.rc == 0);
    CHECK(p.data == "peeked");
    CHECK(port_of(reinterpret_cast<sockaddr*>(&p.from)) == 6000);
    CHECK(fionread(env, s) == 6);
    from_io r = recvfrom_text(env, s, 100);
    CHECK(r.rc == 0);
    CHECK(r.data == "peeked");
    CHECK(fionread(env, s) == 0);
    from_io none = recvfrom_text(env, s, 100);
    CHECK(none.rc == SOCKET_ERROR);
    CHECK(none.err == WSAEWOULDBLOCK);
}

TEST_CASE("UDP WSPConnect sets the default peer and filters other senders until dissolved", "[wsp][data][udp]") {
    const bool v6 = GENERATE(false, true);
    const bool unspec = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4") << (unspec ? ", dissolved with AF_UNSPEC" : ", dissolved with the all-zero address"));
    wsp_env env;
    SOCKET s = udp_socket(env, v6, 5002);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    any_addr peer = make_addr(v6, peer_ip(v6), 6000);
    int err = 0;
    REQUIRE(env.p.lpWSPConnect(s, peer.sa(), peer.len, nullptr, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(env.pump().empty());  // no handshake for UDP
    SOCKADDR_STORAGE name{};
    int len = sizeof name;
    REQUIRE(env.p.lpWSPGetPeerName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    CHECK(port_of(reinterpret_cast<sockaddr*>(&name)) == 6000);

    io r = send_text(env, s, "to the default peer");
    CHECK(r.rc == 0);
    CHECK(r.bytes == 19);
    auto out = udp_out(env);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sport == 5002);
    CHECK(out[0].dport == 6000);
    CHECK(out[0].payload == to_bytes("to the default peer"));

    // A datagram from another port is not for this socket: lwIP answers
    // with port unreachable, as no socket takes it.
    env.peer(v6).send_udp(6001, 5002, to_bytes("stranger"));
    auto answer = env.pump();
    INFO(env.transcript);
    REQUIRE(answer.size() == 1);
    REQUIRE(answer[0].icmp);
    CHECK(answer[0].icmp->type == (v6 ? icmpv6_dest_unreachable_type : icmp_dest_unreachable_type));
    CHECK(answer[0].icmp->code == (v6 ? 4 : 3));  // port unreachable
    env.peer(v6).send_udp(6000, 5002, to_bytes("friend"));
    CHECK(env.pump().empty());
    from_io got = recvfrom_text(env, s, 100);
    CHECK(got.rc == 0);
    CHECK(got.data == "friend");
    from_io none = recvfrom_text(env, s, 100);
    CHECK(none.rc == SOCKET_ERROR);
    CHECK(none.err == WSAEWOULDBLOCK);

    // Dissolve the association.
    if (unspec) {
        sockaddr sa{};
        sa.sa_family = AF_UNSPEC;
        REQUIRE(env.p.lpWSPConnect(s, &sa, sizeof sa, nullptr, nullptr, nullptr, nullptr, &err) == 0);
    } else {
        any_addr zero = make_addr(v6, v6 ? "::" : "0.0.0.0", 0);
        REQUIRE(env.p.lpWSPConnect(s, zero.sa(), zero.len, nullptr, nullptr, nullptr, nullptr, &err) == 0);
    }
    len = sizeof name;
    err = 0;
    CHECK(env.p.lpWSPGetPeerName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTCONN);
    io s2 = send_text(env, s, "no default any more");
    CHECK(s2.rc == SOCKET_ERROR);
    CHECK(s2.err == WSAENOTCONN);
    env.peer(v6).send_udp(6001, 5002, to_bytes("welcome now"));
    CHECK(env.pump().empty());
    from_io w = recvfrom_text(env, s, 100);
    CHECK(w.rc == 0);
    CHECK(w.data == "welcome now");
    CHECK(port_of(reinterpret_cast<sockaddr*>(&w.from)) == 6001);
}

TEST_CASE("UDP sendto 255.255.255.255 needs SO_BROADCAST and goes to the broadcast MAC", "[wsp][data][udp]") {
    wsp_env env;
    SOCKET s = udp_socket(env, false, 5003);
    any_addr all = make_addr(false, "255.255.255.255", 9999);
    io denied = sendto_text(env, s, "hello all", all);
    CHECK(denied.rc == SOCKET_ERROR);
    CHECK(denied.err == WSAEACCES);
    CHECK(env.pump().empty());

    int err = 0;
    CHECK(get_int(env, s, SOL_SOCKET, SO_BROADCAST, err) == 0);
    REQUIRE(set_int(env, s, SOL_SOCKET, SO_BROADCAST, 1) == 0);
    CHECK(get_int(env, s, SOL_SOCKET, SO_BROADCAST, err) == 1);
    io r = sendto_text(env, s, "hello all", all);
    CHECK(r.rc == 0);
    CHECK(r.bytes == 9);
    auto frames = env.pump();
    INFO(env.transcript);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].udp);
    CHECK(frames[0].eth_dst == mac_addr::broadcast());
    CHECK(frames[0].ip->dst.to_string() == "255.255.255.255");
    CHECK(frames[0].udp->sport == 5003);
    CHECK(frames[0].udp->dport == 9999);
    CHECK(frames[0].udp->checksum_ok);
    CHECK(frames[0].udp->payload == to_bytes("hello all"));
}

TEST_CASE("UDP WSPShutdown fails sendto after SD_SEND and recvfrom after SD_RECEIVE", "[wsp][data][udp][shutdown]") {
    wsp_env env;
    SOCKET s = udp_socket(env, false, 5004);
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(s, SD_SEND, &err) == 0);
    io r = sendto_text(env, s, "x", make_addr(false, peer_ip(false), 9000));
    CHECK(r.rc == SOCKET_ERROR);
    CHECK(r.err == WSAESHUTDOWN);
    CHECK(env.pump().empty());
    env.peer4.send_udp(6000, 5004, to_bytes("still received"));
    from_io got = recvfrom_text(env, s, 100);
    CHECK(got.rc == 0);
    CHECK(got.data == "still received");
    REQUIRE(env.p.lpWSPShutdown(s, SD_RECEIVE, &err) == 0);
    env.peer4.send_udp(6000, 5004, to_bytes("dropped"));
    from_io none = recvfrom_text(env, s, 100);
    CHECK(none.rc == SOCKET_ERROR);
    CHECK(none.err == WSAESHUTDOWN);
}

// ---- WSPSelect ------------------------------------------------------------------

TEST_CASE("WSPSelect reports data and pending accepts and FIN and rewrites several sets at once",
          "[wsp][data][select]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    tcp_script conn2(env.peer(v6), k_peer_port + 1, k_port);
    SOCKET quiet = env.accept_from_peer(c.lst, conn2);
    feed(conn2, env.pump());
    int err = 0;

    // Nothing readable; both connected sockets writable.
    fd_set r = set_of({c.s, quiet, c.lst}), w = set_of({c.s, quiet});
    CHECK(env.p.lpWSPSelect(0, &r, &w, nullptr, &k_poll, &err) == 2);
    CHECK(r.fd_count == 0);
    CHECK(w.fd_count == 2);
    CHECK(in_set(c.s, w));
    CHECK(in_set(quiet, w));

    // Data on one, a connection waiting on the listener.
    c.conn.send_text("data");
    tcp_script conn3(env.peer(v6), k_peer_port + 2, k_port);
    REQUIRE(handshake(env, conn3));
    c.out();
    r = set_of({c.s, quiet, c.lst});
    w = set_of({c.s, quiet});
    fd_set e = set_of({c.s, quiet, c.lst});
    CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 4);
    REQUIRE(r.fd_count == 2);
    CHECK(r.fd_array[0] == c.s);  // in the caller's order
    CHECK(r.fd_array[1] == c.lst);
    CHECK(w.fd_count == 2);
    CHECK(e.fd_count == 0);

    // Duplicates collapse; a FIN makes the quiet one readable.
    conn2.send_fin();
    feed(conn2, env.pump());
    r = set_of({quiet});
    r.fd_array[1] = quiet;
    r.fd_count = 2;
    CHECK(env.p.lpWSPSelect(0, &r, nullptr, nullptr, &k_poll, &err) == 1);
    CHECK(r.fd_count == 1);
    CHECK(r.fd_array[0] == quiet);

    // A bad handle: WSAENOTSOCK and the sets untouched.
    r = set_of({c.s, static_cast<SOCKET>(0x7777)});
    err = 0;
    CHECK(env.p.lpWSPSelect(0, &r, nullptr, nullptr, &k_poll, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);
    CHECK(r.fd_count == 2);
}

TEST_CASE("WSPSelect with a timeout in a thread returns when data arrives", "[wsp][data][select][threads]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    struct sel {
        int rc = 0;
        int err = 0;
        fd_set r{};
    };
    SOCKET s = c.s;
    async_call<sel> call([&env, s] {
        sel out;
        out.r = set_of({s});
        timeval ten_s{10, 0};
        out.rc = env.p.lpWSPSelect(0, &out.r, nullptr, nullptr, &ten_s, &out.err);
        return out;
    });
    REQUIRE(blocked(env.st, call));
    CHECK_FALSE(call.done());
    c.conn.send_text("wake up");
    REQUIRE(call.wait());
    CHECK(call.result().rc == 1);
    CHECK(call.result().r.fd_count == 1);
    CHECK(call.result().r.fd_array[0] == s);
    CHECK(env.st.now() == lwsp::millis(0));  // the manual clock never moved
}

TEST_CASE("WSPSelect with a timeout returns 0 and empty sets once the clock passes it",
          "[wsp][data][select][threads]") {
    session c(false);
    wsp_env& env = c.env;
    struct sel {
        int rc = -2;
        int err = 0;
        fd_set r{}, w{};
    };
    SOCKET s = c.s;
    SOCKET lst = c.lst;
    const auto start = env.st.now();
    async_call<sel> call([&env, s, lst] {
        sel out;
        out.r = set_of({s, lst});
        timeval two_s{1, 500000};
        out.rc = env.p.lpWSPSelect(0, &out.r, nullptr, nullptr, &two_s, &out.err);
        return out;
    });
    // The call computes its deadline from the clock as it starts: let it be
    // waiting before the clock moves.
    REQUIRE(blocked(env.st, call));
    env.advance(1499);
    CHECK(stays_false([&] { return call.done(); }));  // one millisecond early
    env.advance(1);
    REQUIRE(call.wait());
    CHECK(call.result().rc == 0);
    CHECK(call.result().r.fd_count == 0);
    CHECK(env.st.now() - start == lwsp::millis(1500));
}

// ---- options with effect on the wire ----------------------------------------------

TEST_CASE("TCP_NODELAY sends a second small segment without waiting for the ACK", "[wsp][data][options]") {
    const bool v6 = GENERATE(false, true);
    const bool nodelay = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4") << (nodelay ? ", TCP_NODELAY" : ", Nagle"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    CHECK(get_int(env, c.s, IPPROTO_TCP, TCP_NODELAY, err) == 0);
    if (nodelay) {
        REQUIRE(set_int(env, c.s, IPPROTO_TCP, TCP_NODELAY, 1) == 0);
        CHECK(get_int(env, c.s, IPPROTO_TCP, TCP_NODELAY, err) == 1);
    }
    CHECK(send_text(env, c.s, "first").bytes == 5);
    auto one = c.out();
    REQUIRE(one.size() == 1);
    CHECK(one[0].payload == to_bytes("first"));
    CHECK(send_text(env, c.s, "second").bytes == 6);
    auto two = c.out();
    INFO(env.transcript);
    if (nodelay) {
        REQUIRE(two.size() == 1);
        CHECK(two[0].payload == to_bytes("second"));
    } else {
        CHECK(two.empty());  // Nagle: held until the first is acknowledged
        c.conn.send_ack();
        two = c.out();
        REQUIRE(two.size() == 1);
        CHECK(two[0].payload == to_bytes("second"));
    }
    CHECK(c.conn.received_string() == "firstsecond");
}

TEST_CASE("SO_KEEPALIVE sends a probe after two idle hours", "[wsp][data][options]") {
    const bool v6 = GENERATE(false, true);
    const bool keepalive = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4") << (keepalive ? ", SO_KEEPALIVE" : ", no keepalive"));
    session c(v6);
    wsp_env& env = c.env;
    int err = 0;
    CHECK(get_int(env, c.s, SOL_SOCKET, SO_KEEPALIVE, err) == 0);
    if (keepalive) {
        REQUIRE(set_int(env, c.s, SOL_SOCKET, SO_KEEPALIVE, 1) == 0);
        CHECK(get_int(env, c.s, SOL_SOCKET, SO_KEEPALIVE, err) == 1);
    }
    env.advance(2 * 3600 * 1000 - 1000, 60000);
    CHECK(c.out().empty());
    env.advance(2000);
    auto probe = c.out();
    INFO(env.transcript);
    if (keepalive) {
        REQUIRE(probe.size() == 1);
        CHECK(probe[0].flags == tcp_ack);
        CHECK(probe[0].payload.size() <= 1);
        CHECK(probe[0].seq == c.conn.rcv_nxt() - 1);  // one below snd_nxt: forces an ACK
        c.conn.send_ack();
        CHECK(c.out().empty());
        CHECK(send_text(env, c.s, "alive").bytes == 5);
        c.out();
        CHECK(c.conn.received_string() == "alive");
    } else {
        CHECK(probe.empty());
    }
}

TEST_CASE("IP_TTL and IPV6_UNICAST_HOPS set the hop limit of the stack's segments", "[wsp][data][options]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    session c(v6);
    wsp_env& env = c.env;
    const int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    const int name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
    int err = 0;
    CHECK(get_int(env, c.s, level, name, err) == 255);
    CHECK(send_text(env, c.s, "default").bytes == 7);
    auto frames = env.pump();
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].ip);
    CHECK(frames[0].ip->ttl == 255);
    c.conn.accept(frames[0]);
    c.conn.send_ack();

    REQUIRE(set_int(env, c.s, level, name, 33) == 0);
    CHECK(get_int(env, c.s, level, name, err) == 33);
    CHECK(send_text(env, c.s, "lower").bytes == 5);
    frames = env.pump();
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].ip);
    CHECK(frames[0].ip->ttl == 33);
    c.conn.accept(frames[0]);
    CHECK(c.conn.received_string() == "defaultlower");
    CHECK(set_int(env, c.s, level, name, 0) == WSAEINVAL);
    CHECK(set_int(env, c.s, level, name, 256) == WSAEINVAL);
}

// ---- WSPSelect as Windows reports it ------------------------------------------------
//
// Where the SPI text is silent, Windows' behaviour as Wine's ws2_32 conformance
// tests record it (test_select, test_errors, test_WSAPoll) decides.

TEST_CASE("a refused nonblocking connect is in exceptfds only, also after SO_ERROR was read", "[wsp][data][select]") {
    wsp_env env;
    SOCKET s = env.socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    any_addr remote = make_addr(false, peer_ip(false), 7002);
    int err = 0;
    REQUIRE(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    REQUIRE(err == WSAEWOULDBLOCK);
    {
        fd_set r = set_of({s}), w = set_of({s}), e = set_of({s});
        CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 0);  // nothing before the answer
    }
    auto frames = env.pump();
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].tcp);
    tcp_script refuse(env.peer(false), 7002, frames[0].tcp->sport);
    REQUIRE(refuse.accept(frames[0]));
    refuse.send_rst_ack();
    env.pump();
    for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        fd_set r = set_of({s}), w = set_of({s}), e = set_of({s});
        CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 1);
        CHECK(r.fd_count == 0);  // not readable: there is no connection to read from
        CHECK(w.fd_count == 0);
        CHECK(e.fd_count == 1);
        // Reading SO_ERROR clears it (CE's documentation), not the failure.
        CHECK(get_int(env, s, SOL_SOCKET, SO_ERROR, err) == (round == 0 ? WSAECONNREFUSED : 0));
    }
    // Another attempt starts afresh.
    REQUIRE(env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
    CHECK(err == WSAEWOULDBLOCK);
    fd_set e = set_of({s});
    CHECK(env.p.lpWSPSelect(0, nullptr, nullptr, &e, &k_poll, &err) == 0);
    CHECK(env.close(s) == 0);
}

TEST_CASE("a refused blocking connect leaves the socket in exceptfds and no pending SO_ERROR",
          "[wsp][data][select][threads]") {
    wsp_env env;
    SOCKET s = env.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    any_addr local = make_addr(false, stack_ip(false), 40000);
    int err = 0;
    REQUIRE(env.p.lpWSPBind(s, local.sa(), local.len, &err) == 0);
    any_addr remote = make_addr(false, peer_ip(false), 7000);
    async_call<io> call([&env, s, remote]() mutable {
        io r;
        r.rc = env.p.lpWSPConnect(s, remote.sa(), remote.len, nullptr, nullptr, nullptr, nullptr, &r.err);
        return r;
    });
    tcp_script conn(env.peer(false), 7000, 40000);
    REQUIRE(eventually([&] { return !feed(conn, env.pump()).empty(); }));
    conn.send_rst_ack();
    REQUIRE(call.wait());
    CHECK(call.result().rc == SOCKET_ERROR);
    CHECK(call.result().err == WSAECONNREFUSED);
    fd_set r = set_of({s}), w = set_of({s}), e = set_of({s});
    CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 1);
    CHECK(r.fd_count == 0);
    CHECK(w.fd_count == 0);
    CHECK(e.fd_count == 1);
    CHECK(get_int(env, s, SOL_SOCKET, SO_ERROR, err) == 0);  // the call itself reported it
    CHECK(env.close(s) == 0);
}

TEST_CASE("after its own shutdown a socket is not readable for SD_RECEIVE and stays writable for SD_SEND",
          "[wsp][data][select][shutdown]") {
    const int how = GENERATE(SD_RECEIVE, SD_SEND);
    INFO("how=" << how);
    session c(false);
    wsp_env& env = c.env;
    int err = 0;
    REQUIRE(env.p.lpWSPShutdown(c.s, how, &err) == 0);
    c.out();
    fd_set r = set_of({c.s}), w = set_of({c.s}), e = set_of({c.s});
    // Readable means data, a connection to accept, or the peer's end — none
    // of them; writable means a send does not block (after SD_SEND it fails
    // at once with WSAESHUTDOWN).
    CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 1);
    CHECK(r.fd_count == 0);
    CHECK(w.fd_count == 1);
    CHECK(e.fd_count == 0);
    if (how == SD_SEND) {
        io s1 = send_text(env, c.s, "x");
        CHECK(s1.rc == SOCKET_ERROR);
        CHECK(s1.err == WSAESHUTDOWN);
    }
}

TEST_CASE("the peer's reset makes a socket readable and writable, not exceptional", "[wsp][data][select][reset]") {
    session c(false);
    wsp_env& env = c.env;
    c.conn.send_rst();
    env.pump();
    int err = 0;
    fd_set r = set_of({c.s}), w = set_of({c.s}), e = set_of({c.s});
    CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 2);
    CHECK(r.fd_count == 1);
    CHECK(w.fd_count == 1);
    CHECK(e.fd_count == 0);
    io rr = recv_text(env, c.s, 10);
    CHECK(rr.rc == SOCKET_ERROR);
    CHECK(rr.err == WSAECONNRESET);
}

TEST_CASE("an unconnected socket and a listener with nothing pending are in no set", "[wsp][data][select]") {
    wsp_env env;
    SOCKET s = env.socket(AF_INET, SOCK_STREAM, 0);
    SOCKET l = env.listener(81);
    int err = 0;
    fd_set r = set_of({s, l}), w = set_of({s, l}), e = set_of({s, l});
    CHECK(env.p.lpWSPSelect(0, &r, &w, &e, &k_poll, &err) == 0);
    CHECK(r.fd_count == 0);
    CHECK(w.fd_count == 0);
    CHECK(e.fd_count == 0);
}
