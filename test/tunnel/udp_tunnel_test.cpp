// The UDP tunnel port (ports/udp_tunnel) against a plain Asio UDP socket as
// its peer, on 127.0.0.1 / ::1 of the private namespace scripts/netns-run
// makes (CTest: tunnel.port).  What crosses the wire is checked byte for
// byte both ways: a frame is one datagram; datagrams too short or too long
// for a frame, and datagrams from anyone but the remote, never reach the
// stack (and are counted); open() refuses bad options with a message that
// says what is wrong.  Waits are on conditions with deadlines.
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "async_call.hpp"  // test/unit/support: eventually()
#include "lwsp/udp_tunnel.hpp"

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

constexpr auto k_deadline = 10s;  // a hang guard: every wait ends as soon as its condition holds

// The stack's side: records delivered frames.
class recording_sink : public lwsp::link_sink {
public:
    void deliver(const void* frame, std::size_t size) override {
        const auto* p = static_cast<const std::uint8_t*>(frame);
        std::lock_guard<std::mutex> g(mu_);
        frames_.emplace_back(p, p + size);
        cv_.notify_all();
    }
    void deliver_many(const lwsp::frame_part* frames, std::size_t count, const lwsp::frame_info* info) override {
        if (info != nullptr) {  // plain frames only (checked by the test's thread: Catch2 is not thread-safe)
            std::lock_guard<std::mutex> g(mu_);
            ++with_info_;
        }
        for (std::size_t i = 0; i < count; ++i) deliver(frames[i].data, frames[i].size);
    }
    void set_link_up(bool) override {}

    // The frames delivered once there are `n` of them (fewer at the deadline).
    std::vector<bytes> wait_for(std::size_t n) {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait_for(g, k_deadline, [&] { return frames_.size() >= n; });
        CHECK(with_info_ == 0);
        return frames_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<bytes> frames_;
    int with_info_ = 0;  // batches delivered with offload metadata
};

// A frame of `size` bytes: broadcast destination, the tunnel's test MAC as
// source, EtherType 0x88b5 (local experimental), then a counting pattern.
bytes make_frame(std::size_t size, std::uint8_t seed) {
    bytes f(size);
    for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(seed + i * 7);
    if (size >= 14) {
        for (int i = 0; i < 6; ++i) f[i] = 0xff;
        f[12] = 0x88;
        f[13] = 0xb5;
    }
    return f;
}

// The peer: a plain UDP socket on the loopback address of `v6`.
struct peer {
    asio::io_context io;
    udp::socket sock;
    explicit peer(bool v6 = false)
        : sock(io, udp::endpoint(v6 ? asio::ip::address(asio::ip::address_v6::loopback())
                                    : asio::ip::address(asio::ip::address_v4::loopback()),
                                 0)) {
        sock.set_option(udp::socket::receive_buffer_size(1 << 20));  // a burst of the tests' frames
    }
    std::string where() const {
        const udp::endpoint ep = sock.local_endpoint();
        const std::string host = ep.address().to_string();
        return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
    }
    udp::endpoint tunnel_at(const lwsp::udp_tunnel& t) const {
        return {sock.local_endpoint().address(), t.local_port()};
    }
    // One datagram; false when none came by the deadline.
    bool receive(bytes& out, udp::endpoint& from) {
        out.assign(70000, 0);
        bool got = false;
        sock.async_receive_from(asio::buffer(out), from, [&](const boost::system::error_code& ec, std::size_t n) {
            if (!ec) {
                out.resize(n);
                got = true;
            }
        });
        io.restart();
        io.run_for(k_deadline);
        if (!got) sock.cancel();
        io.restart();
        io.run();  // the cancelled handler, if any
        return got;
    }
    void send(const bytes& data, const udp::endpoint& to) { sock.send_to(asio::buffer(data), to); }
};

lwsp::udp_tunnel::options options_to(const peer& p) {
    lwsp::udp_tunnel::options o;
    o.remote = p.where();
    return o;
}

bool eventually(const std::function<bool()>& pred) { return lwsp::test::eventually(pred, k_deadline); }

}  // namespace

TEST_CASE("udp_tunnel: open() refuses bad options and says why", "[udp_tunnel]") {
    using Catch::Matchers::Contains;
    lwsp::udp_tunnel::options o;
    o.remote = "127.0.0.1:5555";
    auto with = [&](auto change) {
        lwsp::udp_tunnel::options c = o;
        change(c);
        return c;
    };
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote.clear(); })),
                        Contains("options.remote is required"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "localhost:5555"; })),
                        Contains("not a numeric IP address"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "127.0.0.1"; })), Contains("no port"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "127.0.0.1:65536"; })),
                        Contains("0..65535"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "127.0.0.1:0"; })), Contains("port 0"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "0.0.0.0:5555"; })),
                        Contains("unspecified address"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "::1:5555"; })), Contains("brackets"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.remote = "[::1]:5555"; })),
                        Contains("different families"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.mtu = 575; })), Contains("out of range"));
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([](auto& c) { c.mtu = 65507 - 14 + 1; })),
                        Contains("out of range"));
    REQUIRE_THROWS_AS(lwsp::udp_tunnel::open(with([](auto& c) { c.local = "192.0.2.99:0"; })),
                      lwsp::udp_tunnel_error);  // not an address of this namespace

    // A port already bound.
    auto first = lwsp::udp_tunnel::open(o);
    REQUIRE(first->local_port() != 0);
    REQUIRE(first->local() == "127.0.0.1:" + std::to_string(first->local_port()));
    REQUIRE(first->remote() == "127.0.0.1:5555");
    REQUIRE_THROWS_WITH(lwsp::udp_tunnel::open(with([&](auto& c) { c.local = first->local(); })),
                        Contains("is in use"));
    REQUIRE(lwsp::udp_tunnel::open(with([](auto& c) { c.mtu = 65507 - 14; }))->mtu() == 65493);
}

TEST_CASE("udp_tunnel: one frame per datagram, both ways, bytes intact", "[udp_tunnel]") {
    const bool v6 = GENERATE(false, true);
    CAPTURE(v6);
    peer p(v6);
    lwsp::udp_tunnel::options o = options_to(p);
    o.local = v6 ? "[::1]:0" : "127.0.0.1:0";
    o.mtu = 1500;
    auto t = lwsp::udp_tunnel::open(o);
    REQUIRE(t->mtu() == 1500);
    REQUIRE(t->mac() == o.mac);
    REQUIRE(!t->offloads().tx_checksum);
    REQUIRE(t->offloads().tx_tcp_segment_max == 0);

    const bytes f = make_frame(1514, 1);
    const lwsp::frame_part parts[3] = {{f.data(), 14}, {f.data() + 14, 100}, {f.data() + 114, f.size() - 114}};
    REQUIRE_FALSE(t->transmit(parts, 3, {}));  // not started: nothing is sent

    recording_sink sink;
    t->start(sink);
    // Stack -> peer: the parts arrive as one datagram from the tunnel's port.
    REQUIRE(t->transmit(parts, 3, {}));
    bytes got;
    udp::endpoint from;
    REQUIRE(p.receive(got, from));
    REQUIRE(got == f);
    REQUIRE(from == p.tunnel_at(*t));
    // A frame longer than MTU + 14 is not sent.
    const bytes big = make_frame(1515, 2);
    const lwsp::frame_part big_part{big.data(), big.size()};
    REQUIRE_FALSE(t->transmit(&big_part, 1, {}));

    // Peer -> stack: whole frames in order; runts, empty and oversize
    // datagrams are dropped, the largest frame (MTU + 14) is not.
    const bytes small = make_frame(60, 3), largest = make_frame(1514, 4);
    p.send(small, p.tunnel_at(*t));
    p.send(make_frame(13, 5), p.tunnel_at(*t));
    p.send(bytes{}, p.tunnel_at(*t));
    p.send(make_frame(1515, 6), p.tunnel_at(*t));
    p.send(make_frame(9000, 7), p.tunnel_at(*t));
    p.send(largest, p.tunnel_at(*t));
    const std::vector<bytes> frames = sink.wait_for(2);
    REQUIRE(frames.size() == 2);
    REQUIRE(frames[0] == small);
    REQUIRE(frames[1] == largest);

    const auto c = t->stats();
    CHECK(c.frames_out == 1);
    CHECK(c.bytes_out == 1514);
    CHECK(c.dropped == 1);  // the long one
    CHECK(c.frames_in == 2);
    CHECK(c.bytes_in == 60 + 1514);
    CHECK(c.rx_runt == 2);
    CHECK(c.rx_oversize == 2);
    CHECK(c.rx_foreign == 0);
    CHECK(c.queued == 0);

    t->stop();
    REQUIRE_FALSE(t->transmit(parts, 3, {}));  // stopped: nothing is sent
}

TEST_CASE("udp_tunnel: datagrams from anyone but the remote are dropped", "[udp_tunnel]") {
    peer p, stranger;
    auto t = lwsp::udp_tunnel::open(options_to(p));
    recording_sink sink;
    t->start(sink);
    stranger.send(make_frame(64, 1), stranger.tunnel_at(*t));
    REQUIRE(eventually([&] { return t->stats().rx_foreign == 1; }));
    const bytes fence = make_frame(64, 2);  // sent after the stranger's: arrives after it
    p.send(fence, p.tunnel_at(*t));
    const std::vector<bytes> frames = sink.wait_for(1);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0] == fence);
    REQUIRE(t->stats().frames_in == 1);
}

TEST_CASE("udp_tunnel: a burst arrives whole and in order, stop and start again", "[udp_tunnel]") {
    peer p;
    auto t = lwsp::udp_tunnel::open(options_to(p));
    recording_sink sink;
    t->start(sink);
    std::vector<bytes> sent;
    sent.reserve(200);
    for (int i = 0; i < 200; ++i) sent.push_back(make_frame(64 + i, static_cast<std::uint8_t>(i)));
    for (const bytes& f : sent) p.send(f, p.tunnel_at(*t));
    REQUIRE(sink.wait_for(sent.size()) == sent);

    // Stack -> peer, many frames back to back: every one arrives, in order.
    for (int i = 0; i < 200; ++i) {
        const lwsp::frame_part part{sent[i].data(), sent[i].size()};
        REQUIRE(t->transmit(&part, 1, {}));
    }
    for (int i = 0; i < 200; ++i) {
        bytes got;
        udp::endpoint from;
        REQUIRE(p.receive(got, from));
        REQUIRE(got == sent[i]);
    }
    REQUIRE(t->stats().frames_out == 200);

    t->stop();
    recording_sink again;
    t->start(again);
    const bytes f = make_frame(100, 9);
    p.send(f, p.tunnel_at(*t));
    const std::vector<bytes> frames = again.wait_for(1);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0] == f);
    const lwsp::frame_part part{f.data(), f.size()};
    REQUIRE(t->transmit(&part, 1, {}));
    bytes got;
    udp::endpoint from;
    REQUIRE(p.receive(got, from));
    REQUIRE(got == f);
}
