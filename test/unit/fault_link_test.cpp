// The fault decorator by itself (ports/fault): no stack, a memlink beneath
// it and a recording sink above it.  What it promises: untouched frames
// when nothing is set, its rates per direction, the same output for the
// same seed, reordering by a gap of frames, corruption of exactly the bits
// asked for, offloaded frames made plain before they are corrupted, delays
// in real time.  How the stack fares on such a link: lossy_test.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "async_call.hpp"
#include "lwsp/fault_link.hpp"
#include "lwsp/memlink.hpp"
#include "packet.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;
using lwsp::fault_link;
using lwsp::frame_info;
using lwsp::frame_part;
using csum_kind = lwsp::frame_info::checksum;
using steady = std::chrono::steady_clock;

namespace {

const mac_addr k_stack_mac = mac_addr::parse("02:00:00:00:00:01");
const mac_addr k_peer_mac = mac_addr::parse("02:00:00:00:00:02");
const ip_addr k_stack_ip = ip_addr::parse("192.0.2.1");
const ip_addr k_peer_ip = ip_addr::parse("192.0.2.2");

// What the fault link handed towards the stack.
class recording_sink final : public lwsp::link_sink {
public:
    struct arrival {
        bytes data;
        frame_info info;
        steady::time_point when;
    };

    void deliver(const void* frame, std::size_t size) override {
        const frame_part one{frame, size};
        deliver_many(&one, 1, nullptr);
    }
    void deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) override {
        std::lock_guard<std::mutex> g(mu_);
        for (std::size_t i = 0; i < count; ++i) {
            const auto* p = static_cast<const std::uint8_t*>(frames[i].data);
            got_.push_back({bytes(p, p + frames[i].size), info ? info[i] : frame_info{}, steady::now()});
        }
    }
    void set_link_up(bool) override {}

    std::vector<arrival> take() {
        std::lock_guard<std::mutex> g(mu_);
        return std::exchange(got_, {});
    }
    std::size_t count() const {
        std::lock_guard<std::mutex> g(mu_);
        return got_.size();
    }

private:
    mutable std::mutex mu_;
    std::vector<arrival> got_;
};

// fault_link over a memlink: `to_stack` injects at the wire, `from_stack`
// transmits as the stack would (the test plays the stack: no core lock to
// take here).
struct harness {
    std::shared_ptr<lwsp::memlink> wire =
        std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"));
    std::shared_ptr<fault_link> fault;
    recording_sink sink;

    explicit harness(const fault_link::plan& p) : fault(std::make_shared<fault_link>(wire, p)) { fault->start(sink); }
    ~harness() { fault->stop(); }

    void to_stack(const bytes& f, const frame_info& info = {}) { REQUIRE(wire->inject(f, info)); }
    bool from_stack(const bytes& f, const frame_info& info = {}) {
        const frame_part one{f.data(), f.size()};
        return fault->transmit(&one, 1, info);
    }
    std::vector<bytes> arrived() {
        std::vector<bytes> out;
        for (auto& a : sink.take()) out.push_back(std::move(a.data));
        return out;
    }
    std::vector<bytes> sent() { return wire->take(); }
};

// Frame number `n`: a UDP datagram whose payload carries n, so order,
// losses and copies can be read back.
bytes numbered(std::uint32_t n, std::size_t size = 64) {
    bytes payload(size, static_cast<std::uint8_t>(n * 13));
    for (int k = 0; k < 4; ++k) payload[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(n >> (8 * k));
    return udp_frame(k_stack_mac, k_peer_mac, k_peer_ip, k_stack_ip, 4000, 5000, payload);
}
std::uint32_t number_of(const bytes& f) {
    const parsed_frame p = parse_frame(f);
    REQUIRE(p.udp);
    REQUIRE(p.udp->payload.size() >= 4);
    std::uint32_t n = 0;
    for (int k = 0; k < 4; ++k) n |= std::uint32_t{p.udp->payload[static_cast<std::size_t>(k)]} << (8 * k);
    return n;
}
std::vector<std::uint32_t> numbers(const std::vector<bytes>& frames) {
    std::vector<std::uint32_t> out;
    for (const bytes& f : frames) out.push_back(number_of(f));
    return out;
}

std::size_t bits_different(const bytes& a, const bytes& b, std::size_t& first_bit) {
    REQUIRE(a.size() == b.size());
    std::size_t n = 0;
    first_bit = a.size() * 8;
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            if (((a[i] ^ b[i]) >> bit) & 1) {
                first_bit = std::min(first_bit, i * 8 + static_cast<std::size_t>(bit));
                ++n;
            }
        }
    }
    return n;
}

// ---- offloaded TCP frames, and the wire frames they stand for --------------

uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

bytes payload_of(std::size_t n, std::size_t from) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((from + i) * 31 + (from + i) / 253);
    return b;
}

// One TCP segment over IPv4 as a wire carries it: checksums valid.
bytes tcp_wire(std::uint32_t seq, const bytes& payload, std::uint8_t flags, std::uint16_t ip_id) {
    tcp_segment seg;
    seg.sport = 80;
    seg.dport = 40000;
    seg.seq = seq;
    seg.ack = 5000;
    seg.flags = flags;
    seg.window = 4096;
    seg.payload = payload;
    return eth_frame(
        k_peer_mac, k_stack_mac, ethertype_ipv4,
        ipv4_packet(k_stack_ip, k_peer_ip, ip_proto_tcp, tcp_segment_bytes(k_stack_ip, k_peer_ip, seg), 64, ip_id),
        false);
}

// The same bytes as a frame a stack hands an offloading NIC: the checksum
// field holds only the pseudo-header sum.
std::pair<bytes, frame_info> partial(bytes f, std::uint16_t gso = 0) {
    const std::size_t l4 = 14 + 20;
    const auto tcp_len = static_cast<uint32_t>(f.size() - l4);
    const uint16_t ph = fold(tcp_pseudo_header_sum(k_stack_ip, k_peer_ip, tcp_len));
    f[l4 + 16] = static_cast<std::uint8_t>(ph >> 8);
    f[l4 + 17] = static_cast<std::uint8_t>(ph);
    frame_info info;
    info.csum = csum_kind::partial;
    info.csum_start = static_cast<std::uint16_t>(l4);
    info.csum_offset = 16;
    info.gso_size = gso;
    return {std::move(f), info};
}

// A frame standing for three 1000-byte segments and a 500-byte one with
// PSH, and those four segments as the wire carries them.
struct merged_frame {
    bytes frame;
    frame_info info;
    std::vector<bytes> segments;
};
merged_frame merged() {
    merged_frame m;
    const std::uint32_t seq = 7000;
    const std::uint16_t id = 300;
    std::tie(m.frame, m.info) = partial(tcp_wire(seq, payload_of(3500, 0), tcp_ack | tcp_psh, id), 1000);
    for (std::size_t k = 0; k < 4; ++k) {
        const std::size_t n = k < 3 ? 1000 : 500;
        m.segments.push_back(tcp_wire(seq + static_cast<std::uint32_t>(k * 1000), payload_of(n, k * 1000),
                                      k < 3 ? tcp_ack : tcp_ack | tcp_psh, static_cast<std::uint16_t>(id + k)));
    }
    return m;
}

}  // namespace

TEST_CASE("fault_link with nothing set hands on every frame untouched, offload metadata included", "[fault]") {
    fault_link::plan p;
    p.per_segment = false;
    harness h(p);
    const merged_frame m = merged();
    for (std::uint32_t i = 0; i < 100; ++i) {
        h.to_stack(numbered(i));
        REQUIRE(h.from_stack(numbered(1000 + i)));
    }
    h.to_stack(m.frame, m.info);
    REQUIRE(h.from_stack(m.frame, m.info));

    const auto in = h.sink.take();
    const auto out = h.wire->take_with_info();
    REQUIRE(in.size() == 101);
    REQUIRE(out.size() == 101);
    for (std::uint32_t i = 0; i < 100; ++i) {
        CHECK(in[i].data == numbered(i));
        CHECK(in[i].info.plain());
        CHECK(out[i].first == numbered(1000 + i));
    }
    CHECK(in[100].data == m.frame);
    CHECK(in[100].info.gso_size == 1000);
    CHECK(out[100].first == m.frame);
    CHECK(out[100].second.csum == csum_kind::partial);
    for (auto d : {fault_link::direction::to_stack, fault_link::direction::from_stack}) {
        const fault_link::counters c = h.fault->stats(d);
        CHECK(c.frames == 101);
        CHECK(c.passed == 101);
        CHECK(c.lost + c.corrupted + c.duplicated + c.reordered + c.cut == 0);
    }
    // The wrapped link's offloads are announced as they are.
    CHECK(h.fault->offloads().tx_tcp_segment_max == h.wire->offloads().tx_tcp_segment_max);
}

TEST_CASE("fault_link meets its rates in each direction, independently", "[fault]") {
    fault_link::plan p;
    p.seed = 2024;
    p.to_stack.loss = 0.10;
    p.to_stack.duplicate = 0.02;
    p.from_stack.loss = 0.01;
    p.from_stack.corrupt = 0.05;
    harness h(p);
    const std::uint32_t n = 20000;
    for (std::uint32_t i = 0; i < n; ++i) {
        h.to_stack(numbered(i));
        REQUIRE(h.from_stack(numbered(i)));
    }
    const fault_link::counters in = h.fault->stats(fault_link::direction::to_stack);
    const fault_link::counters out = h.fault->stats(fault_link::direction::from_stack);
    // Within 5 standard deviations of n * rate (binomial): a fixed seed
    // makes the counts fixed anyway; the bound says the rates mean what
    // they say.
    auto near = [n](std::uint64_t count, double rate) {
        const double sd = std::sqrt(n * rate * (1 - rate));
        INFO(count << " for rate " << rate << " of " << n);
        CHECK(std::fabs(static_cast<double>(count) - n * rate) <= 5 * sd + 1);
    };
    CHECK(in.frames == n);
    near(in.lost, 0.10);
    near(in.duplicated, 0.02 * 0.90);  // duplicates are drawn among the frames not lost
    CHECK(in.corrupted == 0);
    CHECK(out.frames == n);
    near(out.lost, 0.01);
    near(out.corrupted, 0.05 * 0.99);
    CHECK(out.duplicated == 0);
    // Every frame is accounted for.
    const std::vector<bytes> got = h.arrived();
    CHECK(got.size() == n - in.lost + in.duplicated);
    CHECK(in.passed == got.size());
    const std::vector<bytes> sent = h.sent();
    CHECK(sent.size() == n - out.lost);
    std::size_t damaged = 0;
    for (const bytes& f : sent) {
        const parsed_frame pf = parse_frame(f);
        damaged += !pf.ip || !pf.ip->header_checksum_ok || !pf.udp || !pf.udp->checksum_ok;
    }
    CHECK(damaged == out.corrupted);  // a single flipped bit never escapes the checksums
}

TEST_CASE("fault_link gives the same frames for the same seed and other frames for another", "[fault]") {
    auto run = [](std::uint64_t seed) {
        fault_link::plan p;
        p.seed = seed;
        for (fault_link::rates* r : {&p.to_stack, &p.from_stack}) {
            r->loss = 0.05;
            r->corrupt = 0.05;
            r->duplicate = 0.05;
            r->reorder = 0.05;
        }
        harness h(p);
        for (std::uint32_t i = 0; i < 3000; ++i) {
            h.to_stack(numbered(i, 64 + i % 700));
            h.from_stack(numbered(i, 64 + i % 500));
        }
        h.fault->flush();
        return std::make_pair(h.arrived(), h.sent());
    };
    const auto a = run(7), b = run(7), c = run(8);
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
    CHECK(a.first != c.first);
    CHECK(a.second != c.second);
    CHECK(a.first != a.second);  // the two directions draw different sequences
}

TEST_CASE("fault_link holds a reordered frame back until reorder_gap later frames have passed it", "[fault]") {
    fault_link::plan p;
    p.seed = 11;
    p.to_stack.reorder = 0.05;
    p.to_stack.reorder_gap = 3;
    harness h(p);
    const std::uint32_t n = 4000;
    for (std::uint32_t i = 0; i < n; ++i) h.to_stack(numbered(i));
    // Three more frames, none held back: every frame held so far is
    // overtaken by three and let go.
    h.fault->set_rates(fault_link::direction::to_stack, fault_link::rates{});
    for (std::uint32_t i = n; i < n + 3; ++i) h.to_stack(numbered(i));
    std::vector<std::uint32_t> got = numbers(h.arrived());
    REQUIRE(got.size() == n + 3);  // nothing lost, nothing repeated
    std::vector<std::uint32_t> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    for (std::uint32_t i = 0; i < n + 3; ++i) REQUIRE(sorted[i] == i);
    // Every held frame comes out exactly three places later, also when
    // several were held at once (they leave together, in order).
    const fault_link::counters c = h.fault->stats(fault_link::direction::to_stack);
    std::size_t late_by_gap = 0, late = 0;
    for (std::size_t pos = 0; pos < got.size(); ++pos) {
        if (pos > got[pos]) {
            ++late;
            late_by_gap += pos - got[pos] == 3;
        }
    }
    INFO("held " << c.reordered << ", late " << late << ", three late " << late_by_gap);
    CHECK(c.reordered > 150);
    CHECK(late == c.reordered);
    CHECK(late_by_gap == c.reordered);
    CHECK(c.passed == n + 3);
}

TEST_CASE("fault_link corrupts a plain frame by flipping exactly the bits asked for, after the Ethernet header",
          "[fault][corrupt]") {
    const unsigned bits = GENERATE(1u, 3u);
    INFO(bits << " bit(s)");
    fault_link::plan p;
    p.seed = 99;
    p.to_stack.corrupt = 1.0;
    p.to_stack.corrupt_bits = bits;
    harness h(p);
    for (std::uint32_t i = 0; i < 500; ++i) h.to_stack(numbered(i, 20 + i % 300));
    const auto got = h.sink.take();
    REQUIRE(got.size() == 500);
    std::size_t undetected = 0;
    for (std::uint32_t i = 0; i < 500; ++i) {
        std::size_t first = 0;
        CHECK(bits_different(got[i].data, numbered(i, 20 + i % 300), first) == bits);
        CHECK(first >= 14 * 8);
        CHECK(got[i].info.plain());
        const parsed_frame f = parse_frame(got[i].data);
        const bool caught = !f.ip || !f.ip->header_checksum_ok || !f.udp || !f.udp->checksum_ok;
        if (bits == 1) CHECK(caught);  // the Internet checksum catches every single-bit error
        undetected += !caught;
    }
    INFO("corrupted frames whose checksums still validate: " << undetected);
    CHECK(h.fault->stats(fault_link::direction::to_stack).corrupted == 500);
}

TEST_CASE("fault_link makes an offloaded frame the plain frames a wire carries before it corrupts one of them",
          "[fault][corrupt][offload]") {
    const bool to_stack = GENERATE(false, true);
    INFO((to_stack ? "towards the stack" : "from the stack"));
    fault_link::plan p;
    p.seed = 5;
    p.per_segment = false;  // only corruption makes frames plain here
    (to_stack ? p.to_stack : p.from_stack).corrupt = 1.0;
    harness h(p);
    auto through = [&](const bytes& f, const frame_info& info) {
        if (to_stack) {
            h.to_stack(f, info);
            std::vector<std::pair<bytes, frame_info>> out;
            for (auto& a : h.sink.take()) out.emplace_back(std::move(a.data), a.info);
            return out;
        }
        REQUIRE(h.from_stack(f, info));
        return h.wire->take_with_info();
    };

    SECTION("a frame standing for four segments: four plain segments, one of them damaged") {
        const merged_frame m = merged();
        const auto out = through(m.frame, m.info);
        REQUIRE(out.size() == 4);
        std::size_t damaged = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            CHECK(out[k].second.plain());
            std::size_t first = 0;
            const std::size_t diff = bits_different(out[k].first, m.segments[k], first);
            CHECK(diff <= 1);
            if (diff == 1) {
                ++damaged;
                const parsed_frame f = parse_frame(out[k].first);
                CHECK((!f.ip || !f.ip->header_checksum_ok || !f.tcp || !f.tcp_checksum_ok));
            }
        }
        CHECK(damaged == 1);
        const auto c = h.fault->stats(to_stack ? fault_link::direction::to_stack : fault_link::direction::from_stack);
        CHECK(c.made_plain == 1);
        CHECK(c.cut == 1);
        CHECK(c.corrupted == 1);
    }
    SECTION("a partial frame: completed, then one bit flipped") {
        const bytes wire = tcp_wire(100, payload_of(700, 0), tcp_ack, 9);
        const auto [f, info] = partial(wire);
        const auto out = through(f, info);
        REQUIRE(out.size() == 1);
        CHECK(out[0].second.plain());
        std::size_t first = 0;
        CHECK(bits_different(out[0].first, wire, first) == 1);
        const parsed_frame pf = parse_frame(out[0].first);
        CHECK((!pf.ip->header_checksum_ok || !pf.tcp || !pf.tcp_checksum_ok));
    }
    SECTION("a verified frame whose checksum field is stale: recomputed, then one bit flipped") {
        const bytes wire = tcp_wire(100, payload_of(300, 0), tcp_ack, 9);
        bytes stale = wire;
        stale[14 + 20 + 16] ^= 0x5a;  // a link that verified need not keep the field
        frame_info info;
        info.csum = csum_kind::verified;
        const auto out = through(stale, info);
        REQUIRE(out.size() == 1);
        CHECK(out[0].second.plain());
        std::size_t first = 0;
        CHECK(bits_different(out[0].first, wire, first) == 1);
    }
}

TEST_CASE("fault_link per segment: a frame standing for several segments is cut, each segment impaired alone",
          "[fault][offload]") {
    fault_link::plan p;
    p.seed = 3;
    harness h(p);
    lwsp::link_offloads big;
    big.tx_checksum = true;
    big.tx_tcp_segment_max = 65535;
    h.wire->set_offloads(big);
    CHECK(h.fault->offloads().tx_checksum);
    CHECK(h.fault->offloads().tx_tcp_segment_max == 0);  // merged frames would only be cut again

    const merged_frame m = merged();
    h.to_stack(m.frame, m.info);
    REQUIRE(h.from_stack(m.frame, m.info));
    const auto in = h.sink.take();
    const auto out = h.wire->take_with_info();
    REQUIRE(in.size() == 4);
    REQUIRE(out.size() == 4);
    for (std::size_t k = 0; k < 4; ++k) {
        CHECK(in[k].data == m.segments[k]);
        CHECK(in[k].info.plain());
        CHECK(out[k].first == m.segments[k]);
        CHECK(out[k].second.plain());
    }
    CHECK(h.fault->stats(fault_link::direction::to_stack).frames == 4);
    CHECK(h.fault->stats(fault_link::direction::to_stack).cut == 1);

    // Loss then hits segments: over many frames, about the rate of them.
    fault_link::rates lossy;
    lossy.loss = 0.25;
    h.fault->set_rates(fault_link::direction::to_stack, lossy);
    for (int i = 0; i < 250; ++i) h.to_stack(m.frame, m.info);
    const auto c = h.fault->stats(fault_link::direction::to_stack);
    CHECK(c.frames == 4 + 1000);
    CHECK(c.lost > 180);
    CHECK(c.lost < 320);
}

TEST_CASE("fault_link refuses a plan it cannot carry out", "[fault]") {
    auto wire = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"));
    fault_link::plan p;
    CHECK_THROWS_AS(fault_link(nullptr, p), std::invalid_argument);
    p.to_stack.loss = 1.5;
    CHECK_THROWS_AS(fault_link(wire, p), std::invalid_argument);
    p.to_stack.loss = 0;
    p.from_stack.corrupt_bits = 0;
    CHECK_THROWS_AS(fault_link(wire, p), std::invalid_argument);
    p.from_stack.corrupt_bits = 1;
    p.from_stack.delay = 5ms;  // deterministic mode has no time
    CHECK_THROWS_AS(fault_link(wire, p), std::invalid_argument);
    p.mode = fault_link::timing::real_time;
    CHECK_NOTHROW(fault_link(wire, p));
    fault_link ok(wire, fault_link::plan{});
    fault_link::rates bad;
    bad.jitter = 1ms;
    CHECK_THROWS_AS(ok.set_rates(fault_link::direction::to_stack, bad), std::invalid_argument);
}

TEST_CASE("fault_link in real time delays frames by delay plus or minus jitter, in both directions", "[fault][delay]") {
    fault_link::plan p;
    p.seed = 17;
    p.mode = fault_link::timing::real_time;
    p.to_stack.delay = 30ms;
    p.to_stack.jitter = 10ms;
    p.from_stack.delay = 20ms;
    harness h(p);
    const std::uint32_t n = 50;
    std::vector<steady::time_point> sent_at;
    for (std::uint32_t i = 0; i < n; ++i) {
        sent_at.push_back(steady::now());
        h.to_stack(numbered(i));
    }
    const auto t_out = steady::now();
    REQUIRE(h.from_stack(numbered(999)));
    REQUIRE(eventually([&] { return h.sink.count() == n; }, 5000ms));
    REQUIRE(h.wire->wait_for(1, 5000ms));
    CHECK(steady::now() - t_out >= 20ms);
    const auto got = h.sink.take();
    bool reordered = false;
    for (std::size_t k = 0; k < got.size(); ++k) {
        const std::uint32_t i = number_of(got[k].data);
        const auto waited = got[k].when - sent_at[i];
        INFO("frame " << i << " waited " << std::chrono::duration_cast<std::chrono::microseconds>(waited).count()
                      << " us");
        CHECK(waited >= 20ms);   // delay - jitter
        CHECK(waited < 2000ms);  // delay + jitter, and a loaded machine's scheduling
        reordered |= k != i;
    }
    // Frames sent microseconds apart with 10 ms of jitter overtake each other.
    CHECK(reordered);
    CHECK(h.fault->stats(fault_link::direction::to_stack).delayed == n);
}

TEST_CASE("fault_link in real time lets a held-back frame go after reorder_hold when nothing overtakes it",
          "[fault][delay]") {
    fault_link::plan p;
    p.mode = fault_link::timing::real_time;
    p.reorder_hold = 20ms;
    p.from_stack.reorder = 1.0;
    p.from_stack.reorder_gap = 100;
    harness h(p);
    const auto t0 = steady::now();
    REQUIRE(h.from_stack(numbered(1)));
    REQUIRE(h.wire->wait_for(1, 5000ms));
    CHECK(steady::now() - t0 >= 20ms);
    CHECK(numbers(h.sent()) == std::vector<std::uint32_t>{1});
}

TEST_CASE("fault_link's stop drops what is still held or delayed and joins its thread", "[fault][delay]") {
    fault_link::plan p;
    p.mode = fault_link::timing::real_time;
    p.reorder_hold = 60s;
    p.from_stack.reorder = 1.0;
    p.to_stack.delay = 60s;
    harness h(p);
    REQUIRE(h.from_stack(numbered(1)));
    h.to_stack(numbered(2));
    h.fault->stop();
    CHECK(h.sent().empty());
    CHECK(h.sink.count() == 0);
    h.fault->flush();  // nothing left to hand on
    CHECK(h.sent().empty());
    CHECK(h.sink.count() == 0);
    h.fault->start(h.sink);  // and it starts again (the harness stops it)
    h.to_stack(numbered(3));
    CHECK(h.fault->stats(fault_link::direction::to_stack).delayed == 2);
}
