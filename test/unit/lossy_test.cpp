// The stack on a bad network (issue 10): transfers through loss,
// reordering, duplication and corruption arrive intact, and every close
// row of the CE table (README, "Close semantics") behaves as documented
// when segments are lost.
//
// Setting: the stack on a fault_link (deterministic mode, a fixed seed)
// over a memlink whose far end is a mirror (support/mirror.hpp): two of
// the stack's own sockets, one connected to peer:5000 and the one its
// listener on 5000 accepted, talk through the impaired link — two complete
// TCPs, nothing scripted.  The clock is manual: whenever no frame moves,
// time steps 10 ms, so retransmission timers fire as they would, and a
// transfer that needs minutes of TCP time takes a fraction of a second.
// An observer between the stack and the fault link sees every segment as
// the stack sent it, before any impairment.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "async_call.hpp"
#include "lwsp/fault_link.hpp"
#include "mirror.hpp"
#include "wsp_fixture.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;
using lwsp::fault_link;
using lwsp::millis;

namespace {

constexpr std::uint16_t k_port = 5000;

// Byte i of a stream seeded s: both ends check every byte without keeping
// the stream.
std::uint8_t pattern_byte(std::uint64_t i, std::uint32_t seed) {
    std::uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull + seed;
    x ^= x >> 29;
    return static_cast<std::uint8_t>(x >> (8 * (i & 7)));
}

// A link that shows every frame the stack transmits to a hook, then passes
// it on: what the stack sent, before the fault link impairs it.
class observer_link final : public lwsp::link {
public:
    using hook = std::function<void(const bytes&)>;
    observer_link(std::shared_ptr<lwsp::link> inner, hook h) : inner_(std::move(inner)), hook_(std::move(h)) {}
    std::size_t mtu() const override { return inner_->mtu(); }
    lwsp::mac_address mac() const override { return inner_->mac(); }
    void start(lwsp::link_sink& sink) override { inner_->start(sink); }
    lwsp::link_offloads offloads() const override { return inner_->offloads(); }
    bool transmit(const lwsp::frame_part* parts, std::size_t count, const lwsp::frame_info& info) override {
        bytes f;
        for (std::size_t i = 0; i < count; ++i) {
            const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
            f.insert(f.end(), p, p + parts[i].size);
        }
        hook_(f);
        return inner_->transmit(parts, count, info);
    }
    void stop() override { inner_->stop(); }

private:
    std::shared_ptr<lwsp::link> inner_;
    hook hook_;
};

// One TCP segment the stack sent, with the stack time it left.
struct sent_segment {
    millis at;
    tcp_segment seg;
};

// The stack on observer → fault_link → memlink, the WSP provider on top.
class lossy_net {
    // Declared before env: the observer runs while env attaches the link.
    std::atomic<bool> ready_{false};
    std::mutex mu_;
    std::vector<sent_segment> sent_;

public:
    explicit lossy_net(const fault_link::plan& p)
        : env(true, nullptr, [this, p](std::shared_ptr<lwsp::memlink> m) {
              fault = std::make_shared<fault_link>(std::move(m), p);
              return std::make_shared<observer_link>(fault, [this](const bytes& f) { observe(f); });
          }) {
        ready_ = true;
    }

    std::shared_ptr<fault_link> fault;  // set while env is constructed
    wsp_env env;

    // Segments the stack sent from `port`, in order.
    std::vector<sent_segment> sent_from(std::uint16_t port) {
        std::lock_guard<std::mutex> g(mu_);
        std::vector<sent_segment> out;
        for (const sent_segment& s : sent_)
            if (s.seg.sport == port) out.push_back(s);
        return out;
    }

    // Moves frames until none move; false if none moved at all.
    bool move_frames() { return reflect(env) != 0; }
    // Time passes when nothing else happens.
    void idle() { env.st.advance_time(10ms); }

    std::string counters() const {
        std::string s;
        for (auto d : {fault_link::direction::from_stack, fault_link::direction::to_stack}) {
            const fault_link::counters c = fault->stats(d);
            s += d == fault_link::direction::from_stack ? "from stack: " : "to stack: ";
            s += std::to_string(c.frames) + " frames, " + std::to_string(c.lost) + " lost, " +
                 std::to_string(c.corrupted) + " corrupted, " + std::to_string(c.duplicated) + " duplicated, " +
                 std::to_string(c.reordered) + " reordered\n";
        }
        return s;
    }

private:
    void observe(const bytes& f) {
        if (!ready_) return;  // frames of the interface coming up
        const parsed_frame p = parse_frame(f);
        if (!p.tcp) return;
        std::lock_guard<std::mutex> g(mu_);
        sent_.push_back({env.st.now(), *p.tcp});  // transmit() runs under the core lock: now() is safe
    }
};

std::uint16_t local_port(wsp_env& env, SOCKET s) {
    sockaddr_storage name{};
    int len = sizeof name, err = 0;
    REQUIRE(env.p.lpWSPGetSockName(s, reinterpret_cast<sockaddr*>(&name), &len, &err) == 0);
    const auto* a = reinterpret_cast<const std::uint8_t*>(&name);
    // sin_port and sin6_port sit at the same offset, in network order.
    return static_cast<std::uint16_t>((a[2] << 8) | a[3]);
}

// A connected pair: `client` connected to peer:5000, `server` the socket the
// listener accepted.  Both nonblocking.
struct pair_of_sockets {
    SOCKET listener = INVALID_SOCKET, client = INVALID_SOCKET, server = INVALID_SOCKET;
    std::uint16_t client_port = 0;
};

pair_of_sockets connect_pair(lossy_net& net, bool v6 = false) {
    wsp_env& env = net.env;
    pair_of_sockets s;
    s.listener = env.listener(k_port, v6);
    REQUIRE(env.set_nonblocking(s.listener, true) == 0);
    s.client = env.socket(v6 ? AF_INET6 : AF_INET);
    REQUIRE(env.set_nonblocking(s.client, true) == 0);
    int err = 0, r;
    if (v6) {
        sockaddr_in6 to = wsp_env::addr6("2001:db8::2", k_port);
        r = env.p.lpWSPConnect(s.client, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr,
                               nullptr, &err);
    } else {
        sockaddr_in to = wsp_env::addr4("192.0.2.2", k_port);
        r = env.p.lpWSPConnect(s.client, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr,
                               nullptr, &err);
    }
    REQUIRE(r == SOCKET_ERROR);
    REQUIRE(err == WSAEWOULDBLOCK);
    // The server side is accepted once its handshake completed, which needs
    // the client's ACK: then the client is connected too.
    for (int step = 0; step < 60 * 100 && s.server == INVALID_SOCKET; ++step) {
        net.move_frames();
        s.server = env.p.lpWSPAccept(s.listener, nullptr, nullptr, nullptr, 0, &err);
        if (s.server == INVALID_SOCKET) {
            REQUIRE(err == WSAEWOULDBLOCK);
            net.idle();
        }
    }
    INFO(net.counters());
    REQUIRE(s.server != INVALID_SOCKET);
    REQUIRE(env.set_nonblocking(s.server, true) == 0);
    s.client_port = local_port(env, s.client);
    return s;
}

// One direction of a transfer: `total` pattern bytes from `tx` to `rx`.
struct flow {
    flow(SOCKET from, SOCKET to, std::size_t bytes, std::uint32_t pattern_seed)
        : tx(from), rx(to), total(bytes), seed(pattern_seed) {}
    SOCKET tx, rx;
    std::size_t total;
    std::uint32_t seed;
    std::size_t sent = 0, got = 0, bad = 0;
    bool eof = false;
    int error = 0;  // a send or receive that failed with anything but WSAEWOULDBLOCK
    // The next bytes to send (filled once, offered until taken) and the
    // receive buffer: nothing is allocated or computed twice while a
    // socket would block.
    std::vector<std::uint8_t> chunk;
    std::size_t chunk_at = SIZE_MAX;
    std::vector<std::uint8_t> buf;
};

// Sends what the socket takes; true if it took something.
bool pump_send(wsp_env& env, flow& f) {
    if (f.sent >= f.total || f.error != 0) return false;
    if (f.chunk_at != f.sent) {
        f.chunk.resize(std::min<std::size_t>(64 * 1024, f.total - f.sent));
        for (std::size_t k = 0; k < f.chunk.size(); ++k) f.chunk[k] = pattern_byte(f.sent + k, f.seed);
        f.chunk_at = f.sent;
    }
    WSABUF b{static_cast<u_long>(f.chunk.size()), reinterpret_cast<char*>(f.chunk.data())};
    DWORD n = 0;
    int err = 0;
    if (env.p.lpWSPSend(f.tx, &b, 1, &n, 0, nullptr, nullptr, nullptr, &err) != 0) {
        if (err != WSAEWOULDBLOCK) f.error = err;
        return false;
    }
    f.sent += n;
    return n != 0;
}

// Receives what has arrived, checking every byte; true if anything did.
bool pump_recv(wsp_env& env, flow& f) {
    bool any = false;
    f.buf.resize(64 * 1024);
    while (!f.eof && f.error == 0) {
        WSABUF b{static_cast<u_long>(f.buf.size()), reinterpret_cast<char*>(f.buf.data())};
        DWORD n = 0, flags = 0;
        int err = 0;
        if (env.p.lpWSPRecv(f.rx, &b, 1, &n, &flags, nullptr, nullptr, nullptr, &err) != 0) {
            if (err != WSAEWOULDBLOCK) f.error = err;
            break;
        }
        if (n == 0) {
            f.eof = true;
            break;
        }
        for (DWORD k = 0; k < n; ++k) f.bad += f.buf[k] != pattern_byte(f.got + k, f.seed);
        f.got += n;
        any = true;
    }
    return any;
}

// Runs the world until `done()` or `limit` of stack time passed: the
// application sends and receives, frames move, time steps when nothing
// else happens.
bool run_until(lossy_net& net, std::vector<flow*> flows, const std::function<bool()>& done, millis limit) {
    const millis end = net.env.st.now() + limit;
    while (!done()) {
        if (net.env.st.now() >= end) return false;
        bool progress = false;
        for (flow* f : flows) {
            progress |= pump_send(net.env, *f);
            progress |= pump_recv(net.env, *f);
        }
        progress |= net.move_frames();
        if (!progress) net.idle();
    }
    return true;
}

bool has(const std::vector<sent_segment>& segs, std::uint8_t flag) {
    return std::any_of(segs.begin(), segs.end(), [flag](const sent_segment& s) { return (s.seg.flags & flag) != 0; });
}

// The segments the stack sent from these ports, one a line with stack
// time: for failure messages.
std::string trace(lossy_net& net, std::initializer_list<std::uint16_t> ports) {
    std::string out;
    for (std::uint16_t port : ports) {
        for (const sent_segment& x : net.sent_from(port)) {
            out += std::to_string(x.at.count()) + " ms  " + std::to_string(x.seg.sport) + " > " +
                   std::to_string(x.seg.dport) + " [" + tcp_flags_string(x.seg.flags) +
                   "] seq=" + std::to_string(x.seg.seq) + " ack=" + std::to_string(x.seg.ack) +
                   " len=" + std::to_string(x.seg.payload.size()) + "\n";
        }
    }
    return out;
}

fault_link::plan lossy_plan(double loss, std::uint64_t seed) {
    fault_link::plan p;
    p.seed = seed;
    p.to_stack.loss = p.from_stack.loss = loss;
    return p;
}

// After a close whose RST may have been lost on the way, the other end
// learns of it at the latest when it sends: the stack answers a segment for
// a connection it no longer has with a RST (RFC 793).  Reads until an
// error, poking with one byte after 5 s of silence; returns the error.
int reset_seen_by(lossy_net& net, flow& f, bool& needed_poke) {
    needed_poke = false;
    run_until(
        net, {&f}, [&] { return f.error != 0 || f.eof; }, 5000ms);
    if (f.error == 0 && !f.eof) {
        needed_poke = true;
        char x = 'x';
        WSABUF b{1, &x};
        DWORD n = 0;
        int err = 0;
        net.env.p.lpWSPSend(f.rx, &b, 1, &n, 0, nullptr, nullptr, nullptr, &err);
        run_until(
            net, {&f}, [&] { return f.error != 0 || f.eof; }, 120000ms);
    }
    return f.eof ? 0 : f.error;
}

}  // namespace

// ---- transfers ---------------------------------------------------------------

TEST_CASE("a transfer both ways through 10 % loss on each crossing arrives intact", "[lossy][loss]") {
    const std::uint64_t seed = GENERATE(1u, 2u);
    const bool v6 = GENERATE(false, true);
    INFO("seed " << seed << (v6 ? ", IPv6" : ", IPv4"));
    lossy_net net(lossy_plan(0.10, seed));
    const pair_of_sockets s = connect_pair(net, v6);
    flow up{s.client, s.server, 512 * 1024, 1};
    flow down{s.server, s.client, 512 * 1024, 2};
    const millis t0 = net.env.st.now();
    const bool finished = run_until(
        net, {&up, &down}, [&] { return up.got == up.total && down.got == down.total; }, 30min);
    INFO(net.counters() << "stack time " << (net.env.st.now() - t0).count() << " ms");
    REQUIRE(finished);
    CHECK(up.bad == 0);
    CHECK(down.bad == 0);
    CHECK(up.error == 0);
    CHECK(down.error == 0);
    const auto out = net.fault->stats(fault_link::direction::from_stack);
    CHECK(out.lost > out.frames / 20);  // the loss really happened
}

TEST_CASE("a transfer both ways arrives intact through reordering, duplication, corruption and all of them at once",
          "[lossy]") {
    const std::string kind = GENERATE(as<std::string>{}, "reorder", "duplicate", "corrupt", "all");
    INFO(kind);
    fault_link::plan p;
    p.seed = 42;
    for (fault_link::rates* r : {&p.to_stack, &p.from_stack}) {
        if (kind == "reorder" || kind == "all") r->reorder = 0.05;
        if (kind == "duplicate" || kind == "all") r->duplicate = 0.05;
        if (kind == "corrupt" || kind == "all") r->corrupt = 0.05;
        if (kind == "all") r->loss = 0.02;
    }
    lossy_net net(p);
    const pair_of_sockets s = connect_pair(net);
    flow up{s.client, s.server, 1 << 20, 3};
    flow down{s.server, s.client, 1 << 20, 4};
    const bool finished = run_until(
        net, {&up, &down}, [&] { return up.got == up.total && down.got == down.total; }, 30min);
    INFO(net.counters());
    REQUIRE(finished);
    CHECK(up.bad == 0);
    CHECK(down.bad == 0);
    const auto out = net.fault->stats(fault_link::direction::from_stack);
    CHECK(out.reordered + out.duplicated + out.corrupted > 0);
}

// ---- the close table under loss ------------------------------------------------

TEST_CASE("graceful close under 10 % loss: every queued byte, then end of stream, FIN, never RST", "[lossy][close]") {
    const std::uint64_t seed = GENERATE(1u, 2u, 3u, 4u);
    INFO("seed " << seed);
    lossy_net net(lossy_plan(0.10, seed));
    wsp_env& env = net.env;
    const pair_of_sockets s = connect_pair(net);
    flow up{s.client, s.server, 300 * 1024, 5};
    // Queue everything (more than the peer's window), then close at once.
    REQUIRE(run_until(
        net, {&up}, [&] { return up.sent == up.total; }, 10min));
    REQUIRE(env.close(s.client) == 0);  // SO_DONTLINGER: returns at once
    REQUIRE(run_until(
        net, {&up}, [&] { return up.eof || up.error != 0; }, 30min));
    INFO(net.counters());
    CHECK(up.got == up.total);
    CHECK(up.bad == 0);
    CHECK(up.eof);
    CHECK(up.error == 0);
    const auto segs = net.sent_from(s.client_port);
    CHECK(has(segs, tcp_fin));
    CHECK_FALSE(has(segs, tcp_rst));
    // Both ends closed: the stack finishes both disconnects through the loss
    // and frees everything but the listener (TIME_WAIT included, 2 MSL).
    REQUIRE(env.close(s.server) == 0);
    const bool freed = run_until(
        net, {}, [&] { return env.st.stats().tcp_pcbs == 1; }, 10min);
    CHECK(freed);
    CHECK(env.st.stats().tcp_segments == 0);
}

TEST_CASE("abortive close under 10 % loss: RST at once, never FIN, the other end reads WSAECONNRESET",
          "[lossy][close]") {
    const std::uint64_t seed = GENERATE(1u, 2u, 3u, 4u);
    INFO("seed " << seed);
    lossy_net net(lossy_plan(0.10, seed));
    wsp_env& env = net.env;
    const pair_of_sockets s = connect_pair(net);
    flow up{s.client, s.server, 64 * 1024, 6};
    REQUIRE(run_until(
        net, {&up}, [&] { return up.got == up.total; }, 10min));
    REQUIRE(env.set_linger(s.client, 1, 0) == 0);
    const millis at = env.st.now();
    REQUIRE(env.close(s.client) == 0);
    const auto segs = net.sent_from(s.client_port);
    REQUIRE_FALSE(segs.empty());
    CHECK(segs.back().seg.has(tcp_rst));  // sent inside close, before any time passed
    CHECK(segs.back().at == at);
    CHECK_FALSE(has(segs, tcp_fin));
    bool poked = false;
    const int err = reset_seen_by(net, up, poked);
    INFO(net.counters() << (poked ? "the RST was lost: the stack reset the connection again when the other end sent"
                                  : "the RST arrived"));
    CHECK(err == WSAECONNRESET);
    CHECK(up.got == up.total);
    CHECK(up.bad == 0);
    CHECK(net.sent_from(s.client_port).size() >= segs.size());
}

TEST_CASE("linger under 10 % loss: close waits until data and FIN are acknowledged, then returns 0 with no RST",
          "[lossy][close][linger]") {
    const std::uint64_t seed = GENERATE(1u, 2u, 3u, 4u);
    INFO("seed " << seed);
    lossy_net net(lossy_plan(0.10, seed));
    wsp_env& env = net.env;
    const pair_of_sockets s = connect_pair(net);
    flow up{s.client, s.server, 64 * 1024, 7};
    REQUIRE(run_until(
        net, {&up}, [&] { return up.sent == up.total; }, 10min));
    REQUIRE(env.set_nonblocking(s.client, false) == 0);
    // Long enough for lwIP at this loss rate (no SACK, RTOs of 1.5 s and
    // more, doubling): 64 KiB take tens of seconds of stack time.
    REQUIRE(env.set_linger(s.client, 1, 600) == 0);
    const millis t0 = env.st.now();
    async_call<int> closer([&] { return env.close(s.client); });
    REQUIRE(eventually([&] { return !env.handle_valid(s.client); }));  // close is waiting
    // Time passes (and frames move) while close blocks; the other end reads.
    // Once the other end has the FIN, the closing thread needs real time to
    // return (a wake-up, then scheduling: slow under Wine or on a busy
    // machine), while each turn of this loop moves the manual clock 10 ms:
    // every turn from then on waits for it a little (a condition wait), so
    // stack time cannot run out before the thread has run.
    const bool closed = run_until(
        net, {&up}, [&] { return up.eof && closer.wait(std::chrono::milliseconds(20)); }, 599s);
    INFO(net.counters() << "close took " << (env.st.now() - t0).count() << " ms of stack time\n"
                        << trace(net, {s.client_port, k_port}));
    REQUIRE(closer.wait());
    CHECK(closed);
    CHECK(closer.result() == 0);
    CHECK(env.st.now() - t0 < 600s);  // before the deadline
    CHECK(up.got == up.total);
    CHECK(up.bad == 0);
    CHECK(up.eof);
    const auto segs = net.sent_from(s.client_port);
    CHECK(has(segs, tcp_fin));
    CHECK_FALSE(has(segs, tcp_rst));
}

TEST_CASE(
    "linger timeout under 10 % loss: close resets exactly at the deadline, the other end reads what "
    "arrived, then WSAECONNRESET",
    "[lossy][close][linger]") {
    const std::uint64_t seed = GENERATE(1u, 2u, 3u, 4u);
    INFO("seed " << seed);
    lossy_net net(lossy_plan(0.10, seed));
    wsp_env& env = net.env;
    const pair_of_sockets s = connect_pair(net);
    // The other end reads nothing: its window (256 KiB) closes, and the
    // client has queued more than the window can take.
    flow up{s.client, s.server, 1 << 20, 8};
    flow unread = up;
    run_until(
        net, {},
        [&] {
            pump_send(env, up);
            return up.sent > 300 * 1024 && !pump_send(env, up);
        },
        10min);
    REQUIRE(up.sent > 300 * 1024);
    REQUIRE(env.set_nonblocking(s.client, false) == 0);
    REQUIRE(env.set_linger(s.client, 1, 2) == 0);
    const millis t0 = env.st.now();
    async_call<int> closer([&] { return env.close(s.client); });
    // The handle goes first, under the core lock that close holds until it
    // waits: once it is gone, the deadline is set and time may move.
    REQUIRE(eventually([&] { return !env.handle_valid(s.client); }));
    // Up to 10 ms before the deadline, then exactly to it.
    while (env.st.now() < t0 + 1990ms) {
        if (!net.move_frames()) net.idle();
    }
    CHECK_FALSE(closer.done());
    env.st.advance_time(t0 + 2000ms - env.st.now());
    REQUIRE(closer.wait());
    CHECK(closer.result() == 0);
    const auto segs = net.sent_from(s.client_port);
    REQUIRE_FALSE(segs.empty());
    CHECK(segs.back().seg.has(tcp_rst));
    CHECK(segs.back().at == t0 + 2000ms);
    CHECK_FALSE(std::any_of(segs.begin(), segs.end() - 1, [](const sent_segment& x) { return x.seg.has(tcp_rst); }));
    // The other end: the bytes that arrived, in order, then the reset.
    unread.sent = unread.total = up.sent;  // nothing more to send: only to read
    bool poked = false;
    const int err = reset_seen_by(net, unread, poked);
    INFO(net.counters() << (poked ? "the RST was lost: the stack reset the connection again when the other end sent"
                                  : "the RST arrived"));
    CHECK(err == WSAECONNRESET);
    CHECK(unread.got > 0);
    CHECK(unread.got < up.sent);
    CHECK(unread.bad == 0);
}

// ---- corruption and the link's checksum flags ------------------------------------

namespace {

uint16_t fold16(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// The peer's next data segment on `conn` as a frame, described by `info`:
// plain (checksum valid), verified (field left valid), or partial with
// gso_size (the field holds the pseudo-header sum only, as a sender that
// leaves checksums to its NIC writes it).
bytes peer_frame(tcp_script& conn, lan& net, const bytes& payload, const lwsp::frame_info& info) {
    tcp_segment seg;
    seg.sport = conn.local_port();
    seg.dport = conn.remote_port();
    seg.seq = conn.snd_nxt();
    seg.ack = conn.rcv_nxt();
    seg.flags = tcp_ack | tcp_psh;
    seg.window = conn.window;
    seg.payload = payload;
    const endpoint_config& me = net.peer4.self();
    const endpoint_config& it = net.peer4.stack();
    bytes f = tcp_frame(it.mac, me.mac, me.ip, it.ip, seg);
    if (info.csum == lwsp::frame_info::checksum::partial) {
        const std::size_t l4 = 14 + 20;
        const uint16_t ph = fold16(tcp_pseudo_header_sum(me.ip, it.ip, static_cast<uint32_t>(f.size() - l4)));
        f[l4 + 16] = static_cast<std::uint8_t>(ph >> 8);
        f[l4 + 17] = static_cast<std::uint8_t>(ph);
    }
    return f;
}

bytes numbered_payload(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = pattern_byte(i, 77);
    return b;
}

std::string read_all(wsp_env& env, SOCKET s) {
    std::string all;
    for (;;) {
        int err = 0;
        const std::string got = env.recv(s, 65536, err);
        if (err != 0 || got.empty()) return all;
        all += got;
    }
}

}  // namespace

TEST_CASE("corrupted frames never reach the application, also when the link marked them verified or merged",
          "[lossy][corrupt][offload]") {
    fault_link::plan p;
    p.per_segment = false;  // merged frames pass as they are unless corrupted
    lossy_net net(p);
    wsp_env& env = net.env;
    SOCKET lst = env.listener(80);
    tcp_script conn(env.peer4, 40000, 80);
    SOCKET s = env.accept_from_peer(lst, conn);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    env.pump();
    fault_link::rates corrupting;
    corrupting.corrupt = 1.0;
    const bytes payload = numbered_payload(3000);
    const std::string want(payload.begin(), payload.end());

    lwsp::frame_info info;
    SECTION("verified: made plain, then damaged: dropped") { info.csum = lwsp::frame_info::checksum::verified; }
    SECTION("partial, standing for three segments: cut, one segment damaged, only it is dropped") {
        info.csum = lwsp::frame_info::checksum::partial;
        info.csum_start = 14 + 20;
        info.csum_offset = 16;
        info.gso_size = 1000;
    }
    SECTION("plain") {}
    INFO("frame_info: csum " << static_cast<int>(info.csum) << ", gso " << info.gso_size);
    const bytes f = peer_frame(conn, env, payload, info);
    net.fault->set_rates(fault_link::direction::to_stack, corrupting);
    REQUIRE(env.link.inject(f, info));
    const std::string damaged_pass = read_all(env, s);
    // What arrived is the undamaged beginning, if anything: the segment
    // with the flipped bit, and the rest of the stream after it, is not.
    CHECK(damaged_pass.size() < want.size());
    CHECK(want.compare(0, damaged_pass.size(), damaged_pass) == 0);
    CHECK(net.fault->stats(fault_link::direction::to_stack).corrupted == 1);
    CHECK(net.fault->stats(fault_link::direction::to_stack).made_plain == (info.plain() ? 0u : 1u));

    // The peer retransmits over a clean link: everything, intact.
    net.fault->set_rates(fault_link::direction::to_stack, fault_link::rates{});
    REQUIRE(env.link.inject(f, info));
    CHECK(damaged_pass + read_all(env, s) == want);
    env.close(s);
    env.close(lst);
}

// Why fault_link makes a frame plain before it flips a bit: a link's flag
// is trusted.  Damage in a frame that still says "verified" is taken as
// data (what the stack must do: the flag means the checksum was checked on
// the wire already).
TEST_CASE("a damaged frame that still carries the verified flag is taken as it is", "[lossy][corrupt][offload]") {
    lossy_net net(fault_link::plan{});
    wsp_env& env = net.env;
    SOCKET lst = env.listener(80);
    tcp_script conn(env.peer4, 40000, 80);
    SOCKET s = env.accept_from_peer(lst, conn);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    env.pump();
    lwsp::frame_info verified;
    verified.csum = lwsp::frame_info::checksum::verified;
    bytes f = peer_frame(conn, env, numbered_payload(100), verified);
    f[f.size() - 1] ^= 0x01;  // the last payload byte
    REQUIRE(env.link.inject(f, verified));
    const std::string got = read_all(env, s);
    REQUIRE(got.size() == 100);
    CHECK(static_cast<std::uint8_t>(got[99]) == (pattern_byte(99, 77) ^ 0x01));
    env.close(s);
    env.close(lst);
}
