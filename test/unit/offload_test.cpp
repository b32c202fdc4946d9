// Link offloads: what tx_offload hands to a link that finishes TCP checksums
// and takes frames standing for several segments, what the stack sends to
// such a link, and how the stack treats frames a link marks as partial,
// verified or merged on receive.
//
// Every check is made on the bytes that crossed the link: a partial frame is
// completed (and a merged one cut into segments) here, independently of the
// stack, the way a NIC or the Linux kernel would, and the result must be
// exactly what lwIP would have sent with its own checksums.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fixture.hpp"
#include "lwsp/soft_offload.hpp"
#include "raw_echo.hpp"
#include "tx_offload.hpp"

using namespace lwsp::test;
using lwsp::frame_info;
using lwsp::frame_part;
using lwsp::detail::tx_offload;
using csum_kind = lwsp::frame_info::checksum;

namespace {

const mac_addr k_stack_mac = mac_addr::parse("02:00:00:00:00:01");
const mac_addr k_peer_mac = mac_addr::parse("02:00:00:00:00:02");

ip_addr stack_ip(bool v6) { return ip_addr::parse(v6 ? "2001:db8::1" : "192.0.2.1"); }
ip_addr peer_ip(bool v6) { return ip_addr::parse(v6 ? "2001:db8::2" : "192.0.2.2"); }
std::size_t l4_offset(bool v6) { return v6 ? 14 + 40 : 14 + 20; }

uint16_t rd16(const bytes& b, std::size_t at) { return static_cast<uint16_t>((b.at(at) << 8) | b.at(at + 1)); }
void wr16(bytes& b, std::size_t at, uint16_t v) {
    b.at(at) = static_cast<uint8_t>(v >> 8);
    b.at(at + 1) = static_cast<uint8_t>(v & 0xff);
}
uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// A payload whose bytes depend on their position, so that reordered,
// repeated or shifted segments are told apart.
bytes pattern(std::size_t n, std::size_t from = 0) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(((from + i) * 7 + (from + i) / 251) & 0xff);
    return b;
}

std::string info_text(const frame_info& info) {
    if (info.plain()) return "plain";
    std::string s = info.csum == csum_kind::partial    ? "partial"
                    : info.csum == csum_kind::verified ? "verified"
                                                       : "complete";
    s += " start=" + std::to_string(info.csum_start) + " off=" + std::to_string(info.csum_offset);
    if (info.gso_size) s += " gso=" + std::to_string(info.gso_size);
    return s;
}

// ---- a link that records what it is given ---------------------------------

struct sent_frame {
    bytes data;
    frame_info info;
};

class recording_link final : public lwsp::link {
public:
    std::vector<sent_frame> sent;

    std::size_t mtu() const override { return 1500; }
    lwsp::mac_address mac() const override { return *lwsp::mac_address::parse("02:00:00:00:00:01"); }
    void start(lwsp::link_sink&) override {}
    void stop() override {}
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override {
        bytes f;
        for (std::size_t i = 0; i < count; ++i) {
            const auto* p = static_cast<const uint8_t*>(parts[i].data);
            f.insert(f.end(), p, p + parts[i].size);
        }
        sent.push_back({std::move(f), info});
        return true;
    }

    std::string transcript() const {
        std::string s;
        for (const sent_frame& f : sent) s += describe(f.data) + "  {" + info_text(f.info) + "}\n";
        return s;
    }
};

// ---- frames as lwIP hands them to the link --------------------------------

// One TCP segment from the stack (192.0.2.1 / 2001:db8::1, port 80) to the
// peer (port 40000).
struct seg_spec {
    bool v6 = false;
    uint16_t sport = 80, dport = 40000;
    uint32_t seq = 1000, ack = 77000;
    uint8_t flags = tcp_ack;
    uint16_t window = 8192;
    uint16_t urgent = 0;
    std::vector<tcp_option> options;
    bytes payload;
    uint16_t ip_id = 0;
    uint8_t ttl = 64;
    mac_addr eth_dst = k_peer_mac;
};

// The frame as the peer must finally see it: every checksum valid.
bytes wire_frame(const seg_spec& s) {
    tcp_segment seg;
    seg.sport = s.sport;
    seg.dport = s.dport;
    seg.seq = s.seq;
    seg.ack = s.ack;
    seg.flags = s.flags;
    seg.window = s.window;
    seg.urgent_pointer = s.urgent;
    seg.options = s.options;
    seg.payload = s.payload;
    const ip_addr src = stack_ip(s.v6), dst = peer_ip(s.v6);
    const bytes l4 = tcp_segment_bytes(src, dst, seg);
    if (s.v6)
        return eth_frame(s.eth_dst, k_stack_mac, ethertype_ipv6, ipv6_packet(src, dst, ip_proto_tcp, l4, s.ttl), false);
    return eth_frame(s.eth_dst, k_stack_mac, ethertype_ipv4, ipv4_packet(src, dst, ip_proto_tcp, l4, s.ttl, s.ip_id),
                     false);
}

// The frame as lwIP produces it for a link that finishes TCP checksums: the
// checksum field holds nothing meaningful (here: junk, different per frame,
// so that a test notices if tx_offload compared or kept it).
bytes lwip_frame(const seg_spec& s) {
    bytes f = wire_frame(s);
    wr16(f, l4_offset(s.v6) + 16, static_cast<uint16_t>(0xbeef ^ s.seq ^ s.ip_id));
    return f;
}

bytes udp_out(bool v6) { return udp_frame(k_peer_mac, k_stack_mac, stack_ip(v6), peer_ip(v6), 53, 5353, pattern(100)); }

// Hands `f` to tx_offload in three pieces cut at awkward places (inside
// the Ethernet header, inside the IP or TCP header, three bytes before the
// end), as a chain of pbufs might be.
bool send_split(tx_offload& tx, const bytes& f) {
    std::vector<std::size_t> cuts = {0, std::min<std::size_t>(9, f.size()), std::min<std::size_t>(41, f.size()),
                                     f.size() > 3 ? f.size() - 3 : f.size(), f.size()};
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::vector<frame_part> parts;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) parts.push_back({f.data() + cuts[i], cuts[i + 1] - cuts[i]});
    return tx.send(parts.data(), parts.size());
}

// ---- what a NIC does with a partial or merged frame ------------------------

// Completes a checksum::partial frame: sums from csum_start to the end with
// the field as it is, stores the complement (lwsp/soft_offload.hpp, shared
// with the fault decorator; independent of the stack).  Other frames are
// returned as they are.
bytes complete(const bytes& f, const frame_info& info) {
    bytes out = f;
    if (info.csum != csum_kind::partial) return out;
    REQUIRE(info.csum_start < out.size());
    REQUIRE(std::size_t{info.csum_start} + info.csum_offset + 2 <= out.size());
    REQUIRE(lwsp::complete_partial_checksum(out.data(), out.size(), info));
    return out;
}

// Cuts a frame with gso_size into the segments it stands for, as TSO/GSO
// does: each carries the first one's headers with the sequence number
// advanced (IPv4: identification advanced, lengths and checksums
// recomputed); PSH and FIN only on the last one; checksums computed from
// scratch (lwsp/soft_offload.hpp).  Checked here first: the frame is what
// tx_offload promises (TCP header at csum_start, the IP length covering the
// whole frame, more payload than one segment).  A frame without gso_size is
// only completed.
std::vector<bytes> segments_of(const bytes& f, const frame_info& info) {
    if (info.gso_size == 0) return {complete(f, info)};
    REQUIRE(info.csum == csum_kind::partial);
    parsed_frame p = parse_frame(f);
    REQUIRE(p.ip);
    REQUIRE(p.tcp);
    REQUIRE_FALSE(p.ip->truncated);
    const std::size_t l4 = 14 + p.ip->header_length;
    REQUIRE(l4 == info.csum_start);
    const std::size_t hdr = l4 + std::size_t{static_cast<uint8_t>(f[l4 + 12] >> 4)} * 4;
    const std::size_t end = 14 + p.ip->total_length;
    REQUIRE(end == f.size());
    REQUIRE(end - hdr > info.gso_size);  // else it would not stand for several segments
    std::vector<bytes> out;
    REQUIRE(lwsp::to_wire_frames(f.data(), f.size(), info, out));
    REQUIRE(out.size() == (end - hdr + info.gso_size - 1) / info.gso_size);
    return out;
}

// The checks every checksum::partial TCP frame must pass: the checksum
// starts at the TCP header, its field holds the folded (not complemented)
// pseudo-header sum for the TCP length the frame carries, and completing it
// yields a checksum that validates against the real pseudo-header; the IP
// header is consistent with the frame.
void check_partial_tcp(const bytes& f, const frame_info& info) {
    INFO(describe(f) << "  {" << info_text(info) << "}");
    REQUIRE(info.csum == csum_kind::partial);
    const parsed_frame p = parse_frame(f);
    REQUIRE(p.ip);
    REQUIRE(p.tcp);
    CHECK(p.ip->header_checksum_ok);
    CHECK(14 + p.ip->total_length == f.size());
    const bool v6 = p.ip->version == 6;
    CHECK(info.csum_start == l4_offset(v6));
    CHECK(info.csum_offset == 16);
    const uint32_t tcp_len = p.ip->total_length - p.ip->header_length;
    CHECK(rd16(f, l4_offset(v6) + 16) == fold(tcp_pseudo_header_sum(p.ip->src, p.ip->dst, tcp_len)));
    const parsed_frame done = parse_frame(complete(f, info));
    REQUIRE(done.tcp);
    CHECK(done.tcp_checksum_ok);
}

// One frame a test expects from the link: plain bytes, or a partial TCP
// frame standing for `segments` (wire frames) with the given gso_size.
struct expected {
    bool plain = false;
    bytes raw;
    std::vector<bytes> segments;
    uint16_t gso = 0;
};
expected plain_frame(bytes raw) { return {true, std::move(raw), {}, 0}; }
expected partial_tcp(std::vector<bytes> segments, uint16_t gso = 0) { return {false, {}, std::move(segments), gso}; }

void check_sent(const recording_link& link, const std::vector<expected>& want) {
    INFO("link got:\n" << link.transcript());
    REQUIRE(link.sent.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("frame " << i);
        const sent_frame& got = link.sent[i];
        if (want[i].plain) {
            CHECK(got.info.plain());
            CHECK(got.data == want[i].raw);
            continue;
        }
        check_partial_tcp(got.data, got.info);
        CHECK(got.info.gso_size == want[i].gso);
        const std::vector<bytes> segs = segments_of(got.data, got.info);
        REQUIRE(segs.size() == want[i].segments.size());
        for (std::size_t k = 0; k < segs.size(); ++k) {
            INFO("segment " << k << ": got " << describe(segs[k]) << "\nwant " << describe(want[i].segments[k]));
            CHECK(segs[k] == want[i].segments[k]);
        }
    }
}

// `count` consecutive data segments of one connection starting at `seq`:
// `size` bytes each except the last (`last_size`, if nonzero), PSH on the
// last if `psh`; IPv4 identifications counting up from `id`.
std::vector<seg_spec> run(bool v6, uint32_t seq, std::size_t count, std::size_t size, std::size_t last_size = 0,
                          bool psh = false, uint16_t id = 100) {
    std::vector<seg_spec> out;
    std::size_t from = 0;
    for (std::size_t i = 0; i < count; ++i) {
        seg_spec s;
        s.v6 = v6;
        s.seq = seq + static_cast<uint32_t>(from);
        const std::size_t n = i + 1 == count && last_size != 0 ? last_size : size;
        s.payload = pattern(n, seq + from);
        s.flags = i + 1 == count && psh ? tcp_ack | tcp_psh : tcp_ack;
        s.ip_id = static_cast<uint16_t>(id + i);
        out.push_back(s);
        from += n;
    }
    return out;
}

std::vector<bytes> wire_frames(const std::vector<seg_spec>& specs) {
    std::vector<bytes> out;
    for (const seg_spec& s : specs) out.push_back(wire_frame(s));
    return out;
}

}  // namespace

// ============================================================================
// tx_offload, directly
// ============================================================================

TEST_CASE("tx_offload merges equal data segments and a shorter PSH one into one partial frame", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    const std::vector<seg_spec> segs = run(v6, 4294966000u, 4, 1000, 500, true);  // wraps past 2^32

    for (std::size_t i = 0; i + 1 < segs.size(); ++i) REQUIRE(send_split(tx, lwip_frame(segs[i])));
    CHECK(link.sent.empty());  // held back for merging
    CHECK(tx.holding());
    REQUIRE(send_split(tx, lwip_frame(segs.back())));  // PSH: hands over at once
    CHECK_FALSE(tx.holding());
    REQUIRE(link.sent.size() == 1);

    const sent_frame& f = link.sent[0];
    INFO(link.transcript());
    CHECK(f.info.csum == csum_kind::partial);
    CHECK(f.info.gso_size == 1000);
    CHECK(f.info.csum_start == (v6 ? 14 + 40 : 14 + 20));
    CHECK(f.info.csum_offset == 16);
    CHECK(f.data.size() == l4_offset(v6) + 20 + 3500);

    const parsed_frame p = parse_frame(f.data);
    REQUIRE(p.ip);
    REQUIRE(p.tcp);
    CHECK(p.ip->total_length == (v6 ? 40u : 20u) + 20 + 3500);
    CHECK(p.ip->header_checksum_ok);
    if (!v6) CHECK(p.ip->id == 100);  // the first segment's
    CHECK(p.eth_dst == k_peer_mac);
    CHECK(p.eth_src == k_stack_mac);
    CHECK(p.tcp->seq == 4294966000u);
    CHECK(p.tcp->ack == 77000);
    CHECK(p.tcp->flags == (tcp_ack | tcp_psh));
    CHECK(p.tcp->window == 8192);
    bytes all;
    for (const seg_spec& s : segs) all.insert(all.end(), s.payload.begin(), s.payload.end());
    CHECK(p.tcp->payload == all);

    // The checksum field: the pseudo-header sum for the merged length,
    // folded, not complemented.
    const uint32_t ph = tcp_pseudo_header_sum(stack_ip(v6), peer_ip(v6), 20 + 3500);
    CHECK(rd16(f.data, l4_offset(v6) + 16) == fold(ph));
    CHECK_FALSE(p.tcp_checksum_ok);  // not final as it is...
    const bytes done = complete(f.data, f.info);
    CHECK(inet_checksum(done.data() + l4_offset(v6), done.size() - l4_offset(v6), ph) == 0);  // ...but once completed
    CHECK(parse_frame(done).tcp_checksum_ok);

    // Cut at gso_size, it is exactly what lwIP sent, checksums and all.
    check_sent(link, {partial_tcp(wire_frames(segs), 1000)});

    CHECK(tx.stats().frames == 1);
    CHECK(tx.stats().merged_frames == 1);
    CHECK(tx.stats().segments == 4);
}

TEST_CASE("tx_offload merges data segments that carry TCP options", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    std::vector<seg_spec> segs = run(v6, 1, 3, 1388, 0, true);
    for (seg_spec& s : segs) s.options = {opt_nop(), opt_nop(), opt_timestamps(123456, 654321)};
    for (const seg_spec& s : segs) REQUIRE(send_split(tx, lwip_frame(s)));
    check_sent(link, {partial_tcp(wire_frames(segs), 1388)});
    REQUIRE(link.sent.size() == 1);
    CHECK(link.sent[0].info.csum_start == l4_offset(v6));  // the TCP header, options or not
}

TEST_CASE("tx_offload hands over what it holds on flush, one segment as a plain partial frame", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    const auto one = run(v6, 500, 1, 1000);
    REQUIRE(send_split(tx, lwip_frame(one[0])));
    CHECK(link.sent.empty());
    REQUIRE(tx.flush());
    check_sent(link, {partial_tcp(wire_frames(one), 0)});  // one segment: no gso_size
    REQUIRE(tx.flush());                                   // nothing more
    CHECK(link.sent.size() == 1);

    const auto two = run(v6, 1500, 2, 1000);  // no PSH: held until flushed
    for (const seg_spec& s : two) REQUIRE(send_split(tx, lwip_frame(s)));
    CHECK(link.sent.size() == 1);
    REQUIRE(tx.flush());
    REQUIRE(link.sent.size() == 2);
    CHECK(link.sent[1].info.gso_size == 1000);
    CHECK(segments_of(link.sent[1].data, link.sent[1].info) == wire_frames(two));
}

TEST_CASE("tx_offload stops merging at whatever breaks the run, keeping frame order", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    // A and B: two full segments; then X, the frame under test, then flush.
    std::vector<seg_spec> ab = run(v6, 1000, 2, 1000, 0, false, 10);
    for (seg_spec& s : ab) s.options = {opt_nop(), opt_nop(), opt_timestamps(5, 6)};
    seg_spec x = ab[1];  // by default it would continue the run
    x.seq = 3000;
    x.ip_id = 12;
    x.payload = pattern(1000, 3000);
    bytes other;         // X when it is not TCP
    bool x_held = true;  // X can start a run of its own, so it waits for flush()

    SECTION("a gap in sequence numbers") { x.seq = 3001; }
    SECTION("an overlap (retransmission)") { x.seq = 2000; }
    SECTION("a different source port") { x.sport = 81; }
    SECTION("a different destination port") { x.dport = 40001; }
    SECTION("a different acknowledgement number") { x.ack += 1460; }
    SECTION("a different window") { x.window = 8191; }
    SECTION("a different TTL") { x.ttl = 63; }
    SECTION("a different destination MAC") { x.eth_dst = mac_addr::parse("02:00:00:00:00:03"); }
    SECTION("different TCP options") { x.options = {opt_nop(), opt_nop(), opt_timestamps(6, 6)}; }
    SECTION("a larger segment") { x.payload = pattern(1200, 3000); }
    SECTION("SYN") {
        x.flags = tcp_syn | tcp_ack;
        x.payload.clear();
        x_held = false;
    }
    SECTION("FIN with data") {
        x.flags = tcp_fin | tcp_ack;
        x_held = false;
    }
    SECTION("RST") {
        x.flags = tcp_rst | tcp_ack;
        x.payload.clear();
        x_held = false;
    }
    SECTION("URG") {
        x.flags = tcp_urg | tcp_ack;
        x.urgent = 10;
        x_held = false;
    }
    SECTION("ECE") {
        x.flags = tcp_ece | tcp_ack;
        x_held = false;
    }
    SECTION("a pure ACK") {
        x.payload.clear();
        x_held = false;
    }
    SECTION("PSH alone, not continuing the run") {
        x.seq = 9000;
        x.flags = tcp_ack | tcp_psh;
        x_held = false;
    }
    SECTION("a UDP datagram") { other = udp_out(v6); }
    SECTION("an ARP request") {
        other = arp_request(k_stack_mac, ip_addr::parse("192.0.2.1"), ip_addr::parse("192.0.2.9"));
    }

    for (const seg_spec& s : ab) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(link.sent.empty());
    REQUIRE(send_split(tx, other.empty() ? lwip_frame(x) : other));
    // A and B went out before X, merged; X is not part of them.
    REQUIRE(link.sent.size() == (other.empty() && x_held ? 1u : 2u));
    REQUIRE(tx.flush());
    if (other.empty())
        check_sent(link, {partial_tcp(wire_frames(ab), 1000), partial_tcp({wire_frame(x)}, 0)});
    else
        check_sent(link, {partial_tcp(wire_frames(ab), 1000), plain_frame(other)});
}

TEST_CASE("tx_offload appends nothing after a shorter segment", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    // 1000, 600, then 600 more: the run ended with the short one.
    const auto first = run(v6, 1, 2, 1000, 600);
    const auto next = run(v6, 1601, 2, 600, 0, false, 200);
    for (const seg_spec& s : first) REQUIRE(send_split(tx, lwip_frame(s)));
    for (const seg_spec& s : next) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(tx.flush());
    check_sent(link, {partial_tcp(wire_frames(first), 1000), partial_tcp(wire_frames(next), 600)});
}

TEST_CASE("tx_offload keeps frame order across interleaved ACKs, other connections and datagrams", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    const auto ab = run(v6, 100, 2, 1000, 0, false, 1);
    seg_spec ack;  // a pure ACK of the same connection
    ack.v6 = v6;
    ack.seq = 2100;
    ack.ip_id = 3;
    const auto cd = run(v6, 2100, 2, 1000, 0, false, 4);
    std::vector<seg_spec> other = run(v6, 70, 2, 500, 0, false, 6);  // another connection
    for (seg_spec& s : other) s.sport = 8080;
    const bytes udp = udp_out(v6);
    const auto ef = run(v6, 4100, 2, 1000, 0, true, 8);
    const auto g = run(v6, 6100, 1, 1000, 0, false, 10);

    for (const seg_spec& s : ab) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(send_split(tx, lwip_frame(ack)));
    for (const seg_spec& s : cd) REQUIRE(send_split(tx, lwip_frame(s)));
    for (const seg_spec& s : other) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(send_split(tx, udp));
    for (const seg_spec& s : ef) REQUIRE(send_split(tx, lwip_frame(s)));
    for (const seg_spec& s : g) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(tx.flush());

    check_sent(link, {partial_tcp(wire_frames(ab), 1000), partial_tcp({wire_frame(ack)}, 0),
                      partial_tcp(wire_frames(cd), 1000), partial_tcp(wire_frames(other), 500), plain_frame(udp),
                      partial_tcp(wire_frames(ef), 1000), partial_tcp(wire_frames(g), 0)});
}

TEST_CASE("tx_offload never builds a merged frame longer than tx_tcp_segment_max", "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    const std::size_t hdrs = l4_offset(v6) + 20;
    // Exactly three segments fit; one byte less, two; less than one, none.
    const std::size_t per_frame = GENERATE(3, 2, 0);
    const std::size_t max = per_frame == 3 ? hdrs + 3000 : per_frame == 2 ? hdrs + 3000 - 1 : hdrs + 999;
    INFO("tx_tcp_segment_max " << max);
    recording_link link;
    tx_offload tx(link, {true, max});
    const auto segs = run(v6, 1, 8, 1000, 0, true);
    for (const seg_spec& s : segs) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(tx.flush());

    std::vector<expected> want;
    const std::vector<bytes> all = wire_frames(segs);
    const std::size_t step = per_frame == 0 ? 1 : per_frame;
    for (std::size_t i = 0; i < all.size(); i += step) {
        std::vector<bytes> group(all.begin() + static_cast<std::ptrdiff_t>(i),
                                 all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + step)));
        want.push_back(partial_tcp(group, group.size() > 1 ? 1000 : 0));
    }
    check_sent(link, want);
    for (const sent_frame& f : link.sent)
        if (f.info.gso_size != 0) CHECK(f.data.size() <= max);
}

// tx_offload once took tx_tcp_segment_max as it came, so a link announcing
// more than 14 + 65535 bytes got merged frames whose IPv4 total length /
// IPv6 payload length wrapped around.
TEST_CASE("tx_offload builds no merged frame an IP header cannot describe, whatever the link announces",
          "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 1u << 20});  // more than any IP datagram
    const auto segs = run(v6, 1, 80, 1000, 0, true);
    for (const seg_spec& s : segs) REQUIRE(send_split(tx, lwip_frame(s)));
    REQUIRE(tx.flush());
    INFO(link.transcript());
    std::vector<bytes> got;
    for (const sent_frame& f : link.sent) {
        check_partial_tcp(f.data, f.info);
        for (bytes& s : segments_of(f.data, f.info)) got.push_back(std::move(s));
    }
    CHECK(got == wire_frames(segs));
}

TEST_CASE("tx_offload with checksum offload only: every TCP frame partial, nothing merged, the rest plain",
          "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 0});
    const auto segs = run(v6, 1, 3, 1000, 10, true);
    seg_spec syn;
    syn.v6 = v6;
    syn.flags = tcp_syn | tcp_ack;
    syn.seq = 999;
    syn.options = {opt_mss(1460)};
    seg_spec ack;
    ack.v6 = v6;
    ack.seq = 2011;
    const bytes udp = udp_out(v6);
    const bytes icmp = icmp_echo_reply(k_peer_mac, k_stack_mac, stack_ip(v6), peer_ip(v6), 1, 2, pattern(32));

    REQUIRE(send_split(tx, lwip_frame(syn)));
    CHECK(link.sent.size() == 1);
    for (const seg_spec& s : segs) {
        REQUIRE(send_split(tx, lwip_frame(s)));
        CHECK_FALSE(tx.holding());  // every frame goes at once
    }
    REQUIRE(send_split(tx, udp));
    REQUIRE(send_split(tx, icmp));
    REQUIRE(send_split(tx, lwip_frame(ack)));
    CHECK(link.sent.size() == 7);
    REQUIRE(tx.flush());

    const auto w = wire_frames(segs);
    check_sent(link, {partial_tcp({wire_frame(syn)}), partial_tcp({w[0]}), partial_tcp({w[1]}), partial_tcp({w[2]}),
                      plain_frame(udp), plain_frame(icmp), partial_tcp({wire_frame(ack)})});
    CHECK(tx.stats().merged_frames == 0);
}

// ============================================================================
// Through the stack, on a link that announces offloads
// ============================================================================

namespace {

struct out_frame {
    bytes data;
    frame_info info;
    parsed_frame parsed;
};

// What the stack sent, each frame with its offload metadata; address
// resolution for the peer is answered on the way (those frames are kept).
std::vector<out_frame> pump_info(lan& net) {
    std::vector<out_frame> out;
    for (;;) {
        auto frames = net.link.take_with_info();
        if (frames.empty()) break;
        for (auto& entry : frames) {
            parsed_frame f = parse_frame(entry.first);
            net.transcript += describe(f) + "  {" + info_text(entry.second) + "}\n";
            if (!net.peer4.answer_resolution(f)) net.peer6.answer_resolution(f);
            out.push_back({std::move(entry.first), entry.second, std::move(f)});
        }
    }
    return out;
}

bool is_resolution(const parsed_frame& f) {
    return f.arp || (f.icmp && f.icmp->v6 && f.icmp->type == icmpv6_neighbor_solicitation_type);
}

// Every TCP frame the stack sends to an offloading link must be partial,
// and valid once completed.
void require_all_tcp_partial(const std::vector<out_frame>& frames) {
    for (const out_frame& f : frames) {
        if (f.parsed.tcp) {
            check_partial_tcp(f.data, f.info);
        } else {
            INFO(describe(f.parsed) << "  {" << info_text(f.info) << "}");
            CHECK(f.info.plain());
        }
    }
}

const lwsp::link_offloads k_full_offloads{true, 65535};

}  // namespace

TEST_CASE("through the stack: one large write leaves as merged partial frames cut at the peer's MSS",
          "[stack][wire][offload]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    lan net(true, k_full_offloads);
    raw_echo_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    constexpr uint16_t mss = 1000;
    tcp_script conn(net.peer(v6), 40000, 7);
    conn.send_syn({opt_mss(mss)});
    auto out = pump_info(net);
    INFO(net.transcript);

    // Handshake: the stack resolved the peer with a plain frame, then sent a
    // SYN-ACK with a partial checksum, on its own.
    bool resolved = false;
    const out_frame* synack = nullptr;
    for (const out_frame& f : out) {
        if (is_resolution(f.parsed)) {
            resolved = true;
            CHECK(f.info.plain());
        }
        if (f.parsed.tcp && f.parsed.tcp->has(tcp_syn | tcp_ack)) synack = &f;
    }
    CHECK(resolved);
    require_all_tcp_partial(out);
    REQUIRE(synack != nullptr);
    CHECK(synack->info.gso_size == 0);
    REQUIRE(conn.accept(complete(synack->data, synack->info)));
    conn.send_ack();
    CHECK(pump_info(net).empty());
    {
        auto lk = net.st.lock();
        REQUIRE(server.conn != nullptr);
        raw_detach(server.conn);
    }

    // 20000 bytes in one write; the peer acknowledges whatever arrives.
    const bytes data = pattern(20000);
    {
        auto lk = net.st.lock();
        REQUIRE(raw_write(server.conn, std::string(data.begin(), data.end())));
    }
    const uint32_t first_seq = *conn.stack_isn() + 1;
    uint32_t next_seq = first_seq;
    std::size_t merged = 0, frames = 0;
    for (int round = 0; round < 100 && next_seq != first_seq + data.size(); ++round) {
        out = pump_info(net);
        if (out.empty()) break;
        require_all_tcp_partial(out);
        for (const out_frame& f : out) {
            if (!f.parsed.tcp) continue;
            ++frames;
            INFO(describe(f.parsed) << "  {" << info_text(f.info) << "}");
            if (f.info.gso_size != 0) {
                ++merged;
                CHECK(f.info.gso_size == mss);
                CHECK(f.data.size() <= k_full_offloads.tx_tcp_segment_max);
            }
            for (const bytes& s : segments_of(f.data, f.info)) {
                const parsed_frame p = parse_frame(s);
                REQUIRE(p.tcp);
                REQUIRE(p.tcp_checksum_ok);
                const std::size_t off = p.tcp->seq - first_seq;
                INFO("segment " << describe(p));
                CHECK(p.tcp->seq == next_seq);  // in order, nothing twice, nothing left out
                REQUIRE(off + p.tcp->payload.size() <= data.size());
                CHECK(p.tcp->payload.size() <= mss);
                CHECK(p.tcp->payload == bytes(data.begin() + static_cast<std::ptrdiff_t>(off),
                                              data.begin() + static_cast<std::ptrdiff_t>(off + p.tcp->payload.size())));
                const bool last = off + p.tcp->payload.size() == data.size();
                CHECK(p.tcp->flags == (last ? tcp_ack | tcp_psh : tcp_ack));
                CHECK(p.tcp->ack == conn.snd_nxt());
                REQUIRE(conn.accept(p));
                next_seq = p.tcp->seq + static_cast<uint32_t>(p.tcp->payload.size());
            }
        }
        conn.send_ack();
    }
    CHECK(next_seq == first_seq + data.size());
    CHECK(conn.received() == data);
    CHECK(merged > 0);
    CHECK(frames < data.size() / mss);  // fewer frames than segments
    CHECK(pump_info(net).empty());
}

TEST_CASE("through the stack: an active open's SYN and ACK are partial, resolution and ICMP stay plain",
          "[stack][wire][offload]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    lan net(true, k_full_offloads);
    raw_client client;
    {
        auto lk = net.st.lock();
        REQUIRE(client.connect(v6 ? "2001:db8::2" : "192.0.2.2", 5000));
    }
    auto out = pump_info(net);
    INFO(net.transcript);
    bool resolved = false;
    const out_frame* syn = nullptr;
    for (const out_frame& f : out) {
        if (is_resolution(f.parsed)) resolved = true;
        if (f.parsed.tcp && f.parsed.tcp->flags == tcp_syn) syn = &f;
    }
    CHECK(resolved);
    require_all_tcp_partial(out);
    REQUIRE(syn != nullptr);
    CHECK(syn->info.gso_size == 0);
    // Learn the stack's ephemeral port from the SYN, then answer it.
    tcp_script c2(net.peer(v6), 5000, syn->parsed.tcp->sport, 9000);
    REQUIRE(c2.accept(complete(syn->data, syn->info)));
    c2.send_syn_ack();
    out = pump_info(net);
    require_all_tcp_partial(out);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].parsed.tcp);
    CHECK(out[0].parsed.tcp->flags == tcp_ack);
    CHECK(out[0].parsed.tcp->ack == 9001);
    {
        auto lk = net.st.lock();
        CHECK(client.connected);
        REQUIRE(client.send("ping"));
    }
    out = pump_info(net);
    require_all_tcp_partial(out);
    REQUIRE(out.size() == 1);
    CHECK(c2.accept(complete(out[0].data, out[0].info)));
    CHECK(c2.received_string() == "ping");

    // ICMP echo: lwIP still writes that checksum; the frame is plain.
    net.peer(v6).send_echo_request(7, 8, pattern(40));
    out = pump_info(net);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].parsed.icmp);
    CHECK(out[0].parsed.icmp->is_echo_reply());
    CHECK(out[0].parsed.icmp->checksum_ok);
    CHECK(out[0].info.plain());
}

// lwIP once wrote no TCP checksum on an offloading link, and tx_offload
// cannot finish one for a segment lwIP cut into IPv6 fragments (after an
// ICMPv6 Packet Too Big): the fragments left plain, the reassembled segment
// had checksum 0 and the peer dropped it.
TEST_CASE("through the stack: TCP segments lwIP fragments for a narrower IPv6 path still carry valid checksums",
          "[stack][wire][offload][pmtu]") {
    // Without offloads lwIP writes the checksums itself: the control.
    const bool offload = GENERATE(true, false);
    INFO((offload ? "offloading link" : "plain link"));
    lan net(true, offload ? k_full_offloads : lwsp::link_offloads{});
    raw_echo_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    tcp_script conn(net.peer6, 40000, 7);
    conn.send_syn();  // MSS 1460: the stack sends 1440-byte segments on its 1500-byte link
    const out_frame* synack = nullptr;
    auto out = pump_info(net);
    for (const out_frame& f : out)
        if (f.parsed.tcp && f.parsed.tcp->has(tcp_syn | tcp_ack)) synack = &f;
    REQUIRE(synack != nullptr);
    REQUIRE(conn.accept(complete(synack->data, synack->info)));
    conn.send_ack();
    {
        auto lk = net.st.lock();
        REQUIRE(server.conn != nullptr);
        raw_detach(server.conn);
    }
    pump_info(net);

    // A router on the way says the path to the peer takes 1280 bytes.
    bytes body = {0, 0, 0x05, 0x00};  // MTU 1280
    const bytes invoking = ipv6_packet(stack_ip(true), peer_ip(true), ip_proto_tcp, pattern(1200));
    body.insert(body.end(), invoking.begin(), invoking.end());
    REQUIRE(net.link.inject(icmp_frame(k_stack_mac, k_peer_mac, ip_addr::parse("2001:db8::fe"), stack_ip(true),
                                       icmpv6_packet_too_big_type, 0, body)));
    CHECK(pump_info(net).empty());

    const bytes data = pattern(3000);
    {
        auto lk = net.st.lock();
        REQUIRE(raw_write(server.conn, std::string(data.begin(), data.end())));
    }
    // The peer's view: fragments reassembled, partial frames completed;
    // it acknowledges what it could take (Nagle holds the short last
    // segment back until then).
    std::size_t fragments = 0;
    for (int round = 0; round < 10 && conn.received().size() < data.size(); ++round) {
        out = pump_info(net);
        if (out.empty()) break;
        std::vector<bytes> segments;
        bytes reassembly;
        for (const out_frame& f : out) {
            INFO(describe(f.parsed));
            REQUIRE(f.parsed.ip);
            CHECK(f.data.size() <= 14 + 1280);
            if (f.parsed.ip->fragment) {
                ++fragments;
                CHECK(f.info.plain());
                const std::size_t from = 14 + f.parsed.ip->header_length, to = 14 + f.parsed.ip->total_length;
                REQUIRE(f.parsed.ip->fragment_offset == reassembly.size());
                reassembly.insert(reassembly.end(), f.data.begin() + static_cast<std::ptrdiff_t>(from),
                                  f.data.begin() + static_cast<std::ptrdiff_t>(to));
                if (!f.parsed.ip->more_fragments) {
                    segments.push_back(eth_frame(k_peer_mac, k_stack_mac, ethertype_ipv6,
                                                 ipv6_packet(stack_ip(true), peer_ip(true), ip_proto_tcp, reassembly),
                                                 false));
                    reassembly.clear();
                }
            } else {
                if (offload) check_partial_tcp(f.data, f.info);
                for (bytes& s : segments_of(f.data, f.info)) segments.push_back(std::move(s));
            }
        }
        CHECK(reassembly.empty());
        for (const bytes& s : segments) {
            const parsed_frame p = parse_frame(s);
            INFO(net.transcript << "segment: " << describe(p));
            REQUIRE(p.tcp);
            CHECK(p.tcp_checksum_ok);
            conn.accept(p);
        }
        conn.send_ack();
    }
    INFO(net.transcript);
    CHECK(fragments >= 2);  // the scenario did happen
    CHECK(conn.received() == data);
}

// ============================================================================
// Receive side: what a link says about the frames it delivers
// ============================================================================

namespace {

// A data segment from the peer on `conn`, with its checksum field replaced
// by `field` (a wrong checksum).
bytes peer_data_frame(const tcp_script& conn, bool v6, const bytes& payload, uint16_t field) {
    tcp_segment seg;
    seg.sport = conn.local_port();
    seg.dport = conn.remote_port();
    seg.seq = conn.snd_nxt();
    seg.ack = conn.rcv_nxt();
    seg.flags = tcp_ack | tcp_psh;
    seg.window = conn.window;
    seg.payload = payload;
    bytes f = tcp_frame(k_stack_mac, k_peer_mac, peer_ip(v6), stack_ip(v6), seg);
    wr16(f, l4_offset(v6) + 16, field);
    REQUIRE_FALSE(parse_frame(f).tcp_checksum_ok);
    return f;
}

// The checksum field as a sender leaving the checksum to its NIC writes
// it: the pseudo-header sum only.
uint16_t partial_field(bool v6, std::size_t tcp_len) {
    return fold(tcp_pseudo_header_sum(peer_ip(v6), stack_ip(v6), static_cast<uint32_t>(tcp_len)));
}

struct echo_conn {
    lan& net;
    bool v6;
    raw_echo_server server;
    tcp_script conn;

    echo_conn(lan& n, bool v6_) : net(n), v6(v6_), conn(n.peer(v6_), 40000, 7) {
        {
            auto lk = net.st.lock();
            REQUIRE(server.listen(7));
        }
        REQUIRE(handshake(net, conn));
        net.pump();
    }
    std::size_t echoed() {
        auto lk = net.st.lock();
        return server.echoed;
    }
    // Takes what the stack sends back (ACKs and the echo), acknowledging
    // it, until nothing more comes.
    std::vector<tcp_segment> collect() {
        std::vector<tcp_segment> all;
        for (int i = 0; i < 20; ++i) {
            auto segs = net.tcp_out(7);
            if (segs.empty()) break;
            for (const tcp_segment& s : segs) {
                conn.on_segment(s, net.peer(v6).stack().ip, net.peer(v6).self().ip);
                all.push_back(s);
            }
            conn.send_ack();
        }
        return all;
    }
};

}  // namespace

TEST_CASE("receive: a segment with a wrong checksum is dropped unless the link vouches for it",
          "[stack][wire][offload][rx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    lan net;
    echo_conn e(net, v6);
    const bytes payload = pattern(300);

    SECTION("plain (checksum::complete): dropped, not acknowledged, not delivered") {
        REQUIRE(net.link.inject(peer_data_frame(e.conn, v6, payload, partial_field(v6, 20 + payload.size()))));
        CHECK(net.tcp_out(7).empty());
        net.advance(1000);  // no delayed ACK either
        CHECK(net.tcp_out(7).empty());
        CHECK(e.echoed() == 0);
        // The same bytes with their real checksum are taken: the checksum
        // was the only reason.
        e.conn.send_data(payload);
        auto back = e.collect();
        INFO(net.transcript);
        REQUIRE_FALSE(back.empty());
        CHECK(back.front().ack == e.conn.snd_nxt());
        CHECK(e.echoed() == payload.size());
        CHECK(e.conn.received() == payload);
    }
    SECTION("checksum::partial or checksum::verified: accepted, acknowledged, delivered") {
        frame_info info;
        info.csum = GENERATE(csum_kind::partial, csum_kind::verified);
        INFO((info.csum == csum_kind::partial ? "partial" : "verified"));
        uint16_t field = 0x1234;  // verified: any wrong value
        if (info.csum == csum_kind::partial) {
            info.csum_start = static_cast<uint16_t>(l4_offset(v6));
            info.csum_offset = 16;
            field = partial_field(v6, 20 + payload.size());
        }
        REQUIRE(net.link.inject(peer_data_frame(e.conn, v6, payload, field), info));
        e.conn.set_snd_nxt(e.conn.snd_nxt() + static_cast<uint32_t>(payload.size()));
        auto back = e.collect();
        INFO(net.transcript);
        REQUIRE_FALSE(back.empty());
        CHECK(back.front().ack == e.conn.snd_nxt());
        CHECK(e.echoed() == payload.size());
        CHECK(e.conn.received() == payload);
    }
}

TEST_CASE("receive: one frame standing for three segments (gso_size) is delivered and acknowledged whole",
          "[stack][wire][offload][rx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    lan net;
    echo_conn e(net, v6);
    const std::size_t mss = v6 ? 1440 : 1460;  // what the stack announced on this 1500-byte link
    const bytes payload = pattern(3 * mss - 100, 17);
    frame_info info;
    info.csum = csum_kind::partial;
    info.csum_start = static_cast<uint16_t>(l4_offset(v6));
    info.csum_offset = 16;
    info.gso_size = static_cast<uint16_t>(mss);
    const bytes f = peer_data_frame(e.conn, v6, payload, partial_field(v6, 20 + payload.size()));
    REQUIRE(f.size() > 1514);  // longer than the link's MTU allows for one segment
    REQUIRE(net.link.inject(f, info));
    e.conn.set_snd_nxt(e.conn.snd_nxt() + static_cast<uint32_t>(payload.size()));
    auto back = e.collect();
    INFO(net.transcript);
    REQUIRE_FALSE(back.empty());
    CHECK(back.front().ack == e.conn.snd_nxt());  // all of it acknowledged at once
    CHECK(e.echoed() == payload.size());
    CHECK(e.conn.received() == payload);
}

TEST_CASE("receive: a frame standing for several segments is acknowledged at once, as two segments would be",
          "[stack][wire][offload][rx]") {
    // lwIP acknowledges every second segment and delays the ACK of a lone
    // one (up to 250 ms).  A frame carrying three segments counts as one
    // for lwIP; without the stack's hook its ACK would wait for the timer
    // (the clock is manual: it does not move while the frame is checked).
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    lan net;
    raw_holding_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    tcp_script conn(net.peer(v6), 40000, 7);
    REQUIRE(handshake(net, conn));
    net.pump();
    const std::size_t mss = v6 ? 1440 : 1460;

    // Control: one ordinary segment is not acknowledged yet (delayed ACK);
    // the timer sends that ACK, and no ACK is owed any more.
    const bytes one = pattern(mss, 3);
    conn.send_data(one);
    CHECK(net.tcp_out(7).empty());
    net.advance(500);
    auto delayed = net.tcp_out(7);
    REQUIRE(delayed.size() == 1);
    CHECK(delayed[0].ack == conn.snd_nxt());

    // Three segments in one frame: acknowledged at once, all of them.
    const bytes three = pattern(3 * mss, 4);
    frame_info info;
    info.csum = csum_kind::partial;
    info.csum_start = static_cast<uint16_t>(l4_offset(v6));
    info.csum_offset = 16;
    info.gso_size = static_cast<uint16_t>(mss);
    REQUIRE(net.link.inject(peer_data_frame(conn, v6, three, partial_field(v6, 20 + three.size())), info));
    conn.set_snd_nxt(conn.snd_nxt() + static_cast<uint32_t>(three.size()));
    auto acks = net.tcp_out(7);
    INFO(net.transcript);
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].payload.empty());
    CHECK(acks[0].ack == conn.snd_nxt());
    auto lk = net.st.lock();
    CHECK(server.bytes == one.size() + three.size());  // delivered, still unread
    server.release();
}

TEST_CASE("receive: a frame longer than 64 KiB - 1 carrying a 65535-byte IPv4 datagram is taken",
          "[stack][wire][offload][rx]") {
    // GRO on a forwarding path can build such a frame; a pbuf holds at most
    // 65535 bytes, so the stack hands the IP datagram in without its
    // Ethernet header.
    lan net;
    echo_conn e(net, false);
    const std::size_t payload_len = 65535 - 20 - 20;
    const bytes payload = pattern(payload_len, 21);
    frame_info info;
    info.csum = csum_kind::partial;
    info.csum_start = static_cast<uint16_t>(l4_offset(false));
    info.csum_offset = 16;
    info.gso_size = 1460;
    const bytes f = peer_data_frame(e.conn, false, payload, partial_field(false, 20 + payload.size()));
    REQUIRE(f.size() == 14 + 65535);
    REQUIRE(net.link.inject(f, info));
    e.conn.set_snd_nxt(e.conn.snd_nxt() + static_cast<uint32_t>(payload.size()));
    auto back = e.collect();
    INFO(net.transcript);
    REQUIRE_FALSE(back.empty());
    CHECK(e.echoed() == payload.size());
    CHECK(e.conn.received() == payload);
}

TEST_CASE("receive: a link's verified flag on the last fragment does not vouch for the whole datagram",
          "[stack][wire][offload][rx]") {
    // A UDP datagram in two IPv4 fragments, its UDP checksum wrong.  The
    // second fragment completes the reassembly; were the flag honoured for
    // it, lwIP would skip the UDP check of the whole datagram.
    lan net;
    raw_udp_counter got;
    {
        auto lk = net.st.lock();
        REQUIRE(got.bind(9000));
    }
    const bytes data = pattern(2000, 5);
    auto datagram_frames = [&](bool bad_checksum) {
        const bytes whole = udp_frame(k_stack_mac, k_peer_mac, peer_ip(false), stack_ip(false), 5000, 9000, data);
        bytes udp(whole.begin() + 14 + 20, whole.begin() + 14 + 20 + 8 + static_cast<std::ptrdiff_t>(data.size()));
        if (bad_checksum) udp[6] ^= 0x5a;
        // Two fragments: 1480 bytes at offset 0 (MF), the rest at 1480.
        std::vector<bytes> out;
        for (int k = 0; k < 2; ++k) {
            const std::size_t from = k == 0 ? 0 : 1480;
            const std::size_t to = k == 0 ? 1480 : udp.size();
            bytes ip = ipv4_packet(
                peer_ip(false), stack_ip(false), ip_proto_udp,
                bytes(udp.begin() + static_cast<std::ptrdiff_t>(from), udp.begin() + static_cast<std::ptrdiff_t>(to)),
                64, static_cast<uint16_t>(bad_checksum ? 77 : 78));
            wr16(ip, 6, static_cast<uint16_t>((k == 0 ? 0x2000 : 0) | (from / 8)));
            wr16(ip, 10, 0);
            wr16(ip, 10, inet_checksum(ip.data(), 20));
            out.push_back(eth_frame(k_stack_mac, k_peer_mac, 0x0800, ip));
        }
        return out;
    };
    frame_info verified;
    verified.csum = csum_kind::verified;

    auto bad = datagram_frames(true);
    REQUIRE(net.link.inject(bad[0]));
    REQUIRE(net.link.inject(bad[1], verified));
    {
        auto lk = net.st.lock();
        CHECK(got.datagrams == 0);  // reassembled, checked, dropped
    }
    // Control: the same datagram with its right checksum arrives.
    auto good = datagram_frames(false);
    REQUIRE(net.link.inject(good[0]));
    REQUIRE(net.link.inject(good[1], verified));
    auto lk = net.st.lock();
    CHECK(got.datagrams == 1);
    got.close();
}

// ============================================================================
// tx_offload, randomized: whatever mix of frames lwIP hands over, the link's
// view — partial checksums completed, merged frames cut the way Linux TSO
// does — is exactly what lwIP sent, byte for byte and in order
// ============================================================================

namespace {

// A reproducible random source.  std::mt19937's output is fixed by the
// standard, the <random> distributions are not, so none is used: a seed
// gives the same frames with every standard library.
class rand_source {
public:
    explicit rand_source(uint32_t seed) : gen_(seed) {}
    uint32_t bits() { return static_cast<uint32_t>(gen_()); }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : bits() % n; }                     // [0, n)
    std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
    bool chance(unsigned per_mille) { return below(1000) < per_mille; }

private:
    std::mt19937 gen_;
};

void fix_ipv4_header_checksum(bytes& f) {
    const std::size_t ihl = std::size_t{static_cast<uint8_t>(f.at(14) & 0x0f)} * 4;
    wr16(f, 14 + 10, 0);
    wr16(f, 14 + 10, inet_checksum(f.data() + 14, ihl));
}

void set_ipv4_id(bytes& f, uint16_t id) {
    wr16(f, 14 + 4, id);
    fix_ipv4_header_checksum(f);
}

// Puts a 4-byte IPv4 option (router alert) or an 8-byte IPv6 hop-by-hop
// header (one PadN option) in front of the transport header of a complete
// frame.  Neither is covered by the transport checksum, which stays valid.
void add_ip_extension(bytes& f, bool v6) {
    if (v6) {
        const uint8_t hbh[8] = {f.at(14 + 6), 0, 1, 4, 0, 0, 0, 0};
        f.insert(f.begin() + 14 + 40, hbh, hbh + 8);
        f[14 + 6] = ip_proto_hopopts;
        wr16(f, 14 + 4, static_cast<uint16_t>(rd16(f, 14 + 4) + 8));
    } else {
        const uint8_t router_alert[4] = {0x94, 0x04, 0, 0};
        f.insert(f.begin() + 14 + 20, router_alert, router_alert + 4);
        f[14] = 0x46;
        wr16(f, 14 + 2, static_cast<uint16_t>(rd16(f, 14 + 2) + 4));
        fix_ipv4_header_checksum(f);
    }
}

// One connection of the random traffic: what its next segment looks like.
struct rand_conn {
    seg_spec hdr;  // ports, addresses, ACK number, window, TTL (seq, flags, payload and ID set per frame)
    uint32_t snd_nxt = 0;
    std::size_t mss = 0;
    bool ext = false;  // IPv4 header option / IPv6 hop-by-hop header
    bool ts = false;   // TCP timestamps on every segment
    uint32_t tsval = 0;
    uint8_t tos = 0;    // IPv4 type of service / IPv6 traffic class
    uint32_t flow = 0;  // IPv6 flow label
    bool df = false;    // IPv4 don't fragment
    bool sack = false;  // a SACK option (a longer TCP header)
    uint32_t sack_left = 0;
    uint32_t salt = 0;  // payload pattern offset, so that connections' bytes differ

    std::string text() const {
        std::ostringstream s;
        s << (hdr.v6 ? "IPv6" : "IPv4") << " port " << hdr.sport << " mss " << mss << (ext ? " +ip-ext" : "")
          << (ts ? " +timestamps" : "");
        return s.str();
    }
};

// The frames lwIP would hand to the link, in order, every checksum correct,
// from four connections (IPv4 and IPv6, with and without IP options /
// extension headers): data runs (equal segments, maybe a shorter and/or PSH
// last one), retransmissions, gaps, header changes between two segments (ACK
// number, window, timestamps, SACK, TTL, next hop, TOS, flow label, DF),
// pure ACKs, SYN, FIN, RST, odd flags, segments cut into IP fragments,
// segments that would continue a run but for an address or port, UDP, ICMP,
// ARP.  One IPv4 identification counter for every IPv4 datagram, as lwIP's
// ip4_output has, starting just below the wrap.
class rand_traffic {
public:
    rand_source& rnd;
    std::vector<rand_conn> conns;
    uint16_t ip_id;
    std::vector<bytes> frames;

    explicit rand_traffic(rand_source& r) : rnd(r), ip_id(static_cast<uint16_t>(65536 - r.between(1, 1500))) {
        // 0: plain IPv4; 1: IPv4 with an IP option; 2: plain IPv6; 3: IPv6
        // with a hop-by-hop header (its segment size is set by the test).
        // TCP timestamps at random.
        static const std::size_t mss_choices[] = {1460, 1460, 1440, 1220, 1000, 536, 100, 1, 8960, 16000};
        for (int i = 0; i < 4; ++i) {
            rand_conn c;
            c.hdr.v6 = i >= 2;
            c.hdr.sport = static_cast<uint16_t>(80 + i);
            c.hdr.dport = static_cast<uint16_t>(40000 + i);
            c.hdr.ack = rnd.bits();
            c.hdr.window = static_cast<uint16_t>(rnd.between(1, 65535));
            c.ext = i % 2 == 1;
            c.ts = rnd.chance(500);
            c.tsval = rnd.bits();
            c.mss = mss_choices[rnd.below(sizeof mss_choices / sizeof mss_choices[0])];
            // Sometimes just below 2^32, so that runs wrap around.
            c.snd_nxt = rnd.chance(300) ? static_cast<uint32_t>(0u - rnd.between(1, 20000)) : rnd.bits();
            c.salt = rnd.bits();
            conns.push_back(c);
        }
    }

    void generate(std::size_t count) {
        std::size_t last = 0;
        while (frames.size() < count) {
            // Often the connection that sent last again, so that its runs
            // go on where they stopped.
            if (rnd.chance(400)) last = rnd.below(conns.size());
            rand_conn& c = conns[last];
            const std::size_t what = rnd.below(100);
            if (what < 45) {
                data_run(c);
            } else if (what < 49) {  // a retransmission from before snd_nxt
                const std::size_t back = rnd.between(1, 3 * c.mss);
                const std::size_t n = std::min(back, c.mss);
                tcp(c, c.snd_nxt - static_cast<uint32_t>(back), rnd.chance(300) ? tcp_ack | tcp_psh : tcp_ack, n);
            } else if (what < 52) {  // a gap: the next data does not continue the last
                c.snd_nxt += static_cast<uint32_t>(rnd.between(1, 3 * c.mss));
            } else if (what < 61) {  // a header change, maybe announced by a pure ACK
                change_header(c);
                if (rnd.chance(300)) tcp(c, c.snd_nxt, tcp_ack, 0);
            } else if (what < 69) {  // a pure ACK
                tcp(c, c.snd_nxt, tcp_ack, 0);
            } else if (what < 71) {  // SYN or SYN-ACK, with an MSS option
                std::vector<tcp_option> o = {opt_mss(static_cast<uint16_t>(std::min<std::size_t>(c.mss, 65535)))};
                if (c.ts) o.push_back(opt_timestamps(c.tsval, 0));
                tcp(c, c.snd_nxt, rnd.chance(500) ? tcp_syn : tcp_syn | tcp_ack, 0, &o);
                c.snd_nxt += 1;
            } else if (what < 74) {  // FIN, with or without data
                const std::size_t n = rnd.chance(500) ? 0 : rnd.between(1, c.mss);
                tcp(c, c.snd_nxt, rnd.chance(500) ? tcp_fin | tcp_ack : tcp_fin | tcp_ack | tcp_psh, n);
                c.snd_nxt += static_cast<uint32_t>(n + 1);
            } else if (what < 76) {  // RST
                tcp(c, c.snd_nxt, rnd.chance(500) ? tcp_rst : tcp_rst | tcp_ack, 0);
            } else if (what < 86) {  // a UDP datagram (small ones padded to 60 bytes)
                const bool v6 = rnd.chance(500);
                bytes f = udp_frame(k_peer_mac, k_stack_mac, stack_ip(v6), peer_ip(v6),
                                    static_cast<uint16_t>(rnd.between(1, 65535)), 53,
                                    pattern(rnd.between(0, 1472), rnd.bits()));
                if (!v6) set_ipv4_id(f, ip_id++);
                frames.push_back(std::move(f));
            } else if (what < 90) {  // an ICMP echo reply
                const bool v6 = rnd.chance(500);
                bytes f = icmp_echo_reply(k_peer_mac, k_stack_mac, stack_ip(v6), peer_ip(v6), 7,
                                          static_cast<uint16_t>(rnd.bits()), pattern(rnd.between(0, 200)));
                if (!v6) set_ipv4_id(f, ip_id++);
                frames.push_back(std::move(f));
            } else if (what < 93) {  // ARP
                frames.push_back(rnd.chance(500) ? arp_request(k_stack_mac, stack_ip(false), peer_ip(false))
                                                 : arp_reply(k_stack_mac, stack_ip(false), k_peer_mac, peer_ip(false)));
            } else if (what < 95) {  // a data segment lwIP cut into IP fragments (after a Packet Too Big)
                const std::size_t n = rnd.between(1, c.mss);
                fragments(tcp_bytes(c, c.snd_nxt, tcp_ack, n), c.hdr.v6, c.ext);
                c.snd_nxt += static_cast<uint32_t>(n);
            } else if (what < 97) {
                impostor(c, c.mss);
            } else {  // a data segment with an unusual flag
                static const uint8_t odd[] = {tcp_ack | tcp_urg,           tcp_ack | tcp_ece, tcp_ack | tcp_cwr,
                                              tcp_ack | tcp_psh | tcp_ece, tcp_psh,           0};
                const std::size_t n = rnd.between(1, c.mss);
                tcp(c, c.snd_nxt, odd[rnd.below(sizeof odd)], n);
                c.snd_nxt += static_cast<uint32_t>(n);
            }
        }
    }

private:
    // A run of data segments: `size` bytes each, maybe a shorter last one,
    // maybe PSH on the last (rarely on one in the middle).
    void data_run(rand_conn& c) {
        const std::size_t count =
            rnd.chance(100) && c.mss <= 1460 ? rnd.between(10, 100) : rnd.between(1, c.mss <= 1460 ? 8 : 5);
        const std::size_t size = rnd.chance(900) ? c.mss : rnd.between(1, c.mss);
        const bool short_last = size > 1 && rnd.chance(300);
        const bool psh_last = rnd.chance(400);
        for (std::size_t i = 0; i < count; ++i) {
            const bool last = i + 1 == count;
            const std::size_t n = last && short_last ? rnd.between(1, size - 1) : size;
            const bool psh = (last && psh_last) || rnd.chance(20);
            if (rnd.chance(30)) change_header(c);  // between two calls into lwIP, say
            if (rnd.chance(20)) impostor(c, n);
            tcp(c, c.snd_nxt, psh ? tcp_ack | tcp_psh : tcp_ack, n);
            c.snd_nxt += static_cast<uint32_t>(n);
        }
    }

    // What c's next segment would be in every respect but one that makes it
    // another connection's: an address or a port.  c does not move on.
    void impostor(const rand_conn& c, std::size_t n) {
        frames.push_back(tcp_bytes(c, c.snd_nxt, tcp_ack, n, nullptr, 1 + static_cast<int>(rnd.below(4))));
    }

    // What may change between two segments of a connection: the ACK number
    // or window (the peer sent something), the timestamp clock, the route
    // (TTL, next hop's MAC), the IP header's TOS / traffic class, flow
    // label or DF bit.
    void change_header(rand_conn& c) {
        switch (rnd.below(8)) {
            case 0: c.hdr.ack += static_cast<uint32_t>(rnd.between(1, 5000)); break;
            case 1: c.hdr.window = static_cast<uint16_t>(rnd.between(1, 65535)); break;
            case 2:
                if (c.ts) {
                    c.tsval += static_cast<uint32_t>(rnd.between(1, 10));
                    break;
                }
                c.hdr.ack += 1;
                break;
            case 3: c.hdr.ttl = static_cast<uint8_t>(rnd.chance(500) ? 64 : rnd.between(1, 255)); break;
            case 4:
                c.hdr.eth_dst = c.hdr.eth_dst == k_peer_mac ? mac_addr::parse("02:00:00:00:00:03") : k_peer_mac;
                break;
            case 5: c.tos = static_cast<uint8_t>(rnd.chance(500) ? 0 : rnd.bits()); break;
            case 6:
                if (c.hdr.v6) {
                    c.flow = rnd.chance(500) ? 0 : rnd.bits() & 0xfffff;
                    break;
                }
                c.df = !c.df;
                break;
            case 7:
                c.sack = !c.sack;
                c.sack_left = rnd.bits();
                break;
            default: c.hdr.window = static_cast<uint16_t>(c.hdr.window ^ (1u << rnd.below(16))); break;
        }
    }

    // The frame split into two or more IP fragments, IPv4 (one ID for all,
    // from the counter) or IPv6 (a fragment header, after the hop-by-hop
    // header if `ext`).  Plain frames: lwIP completed the TCP checksum
    // before cutting.  (lwIP fragments only what does not fit, so never into
    // one IPv6 "atomic fragment": that would be a whole TCP segment behind a
    // fragment header, which tx_offload rightly leaves plain.)
    void fragments(const bytes& f, bool v6, bool ext) {
        const std::size_t ip_hdr = v6 ? 40 + (ext ? 8 : 0) : std::size_t{static_cast<uint8_t>(f[14] & 0x0f)} * 4;
        const std::size_t payload = f.size() - 14 - ip_hdr;
        const std::size_t chunk = 8 * rnd.between(1, std::min<std::size_t>(64, (payload - 1) / 8));  // < payload
        const uint32_t v6_id = rnd.bits();
        const uint16_t v4_id = v6 ? 0 : rd16(f, 14 + 4);
        for (std::size_t off = 0; off < payload; off += chunk) {
            const std::size_t n = std::min(chunk, payload - off);
            const bool more = off + n < payload;
            bytes g(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(14 + ip_hdr));
            if (v6) {
                const std::size_t next_at = ext ? 14 + 40 : 14 + 6;
                const uint8_t next = g[next_at];
                g[next_at] = ip_proto_fragment;
                const uint8_t fh[8] = {next,
                                       0,
                                       static_cast<uint8_t>(off >> 8),
                                       static_cast<uint8_t>((off & 0xf8) | (more ? 1 : 0)),
                                       static_cast<uint8_t>(v6_id >> 24),
                                       static_cast<uint8_t>(v6_id >> 16),
                                       static_cast<uint8_t>(v6_id >> 8),
                                       static_cast<uint8_t>(v6_id)};
                g.insert(g.end(), fh, fh + 8);
                wr16(g, 14 + 4, static_cast<uint16_t>(ip_hdr - 40 + 8 + n));
            } else {
                wr16(g, 14 + 2, static_cast<uint16_t>(ip_hdr + n));
                wr16(g, 14 + 4, v4_id);
                wr16(g, 14 + 6, static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8)));  // MF, offset; no DF
                fix_ipv4_header_checksum(g);
            }
            const auto from = f.begin() + static_cast<std::ptrdiff_t>(14 + ip_hdr + off);
            g.insert(g.end(), from, from + static_cast<std::ptrdiff_t>(n));
            frames.push_back(std::move(g));
        }
    }

    void tcp(const rand_conn& c, uint32_t seq, uint8_t flags, std::size_t n,
             const std::vector<tcp_option>* options = nullptr) {
        frames.push_back(tcp_bytes(c, seq, flags, n, options));
    }

    // A segment of c, every checksum complete.  `other` nonzero: one thing
    // differs from c's — 1: destination address, 2: source address,
    // 3: source port, 4: destination port.
    bytes tcp_bytes(const rand_conn& c, uint32_t seq, uint8_t flags, std::size_t n,
                    const std::vector<tcp_option>* options = nullptr, int other = 0) {
        seg_spec s = c.hdr;
        s.seq = seq;
        s.flags = flags;
        s.payload = pattern(n, c.salt + seq);
        if (other == 3) s.sport = static_cast<uint16_t>(s.sport + 1000);
        if (other == 4) s.dport = static_cast<uint16_t>(s.dport + 1000);
        if (options) {
            s.options = *options;
        } else {
            if (c.ts) s.options = {opt_nop(), opt_nop(), opt_timestamps(c.tsval, 0x5eed)};
            if (c.sack) {
                tcp_option sack{tcp_opt_sack, {}};
                for (const uint32_t edge : {c.sack_left, c.sack_left + 500})
                    for (int b = 3; b >= 0; --b) sack.data.push_back(static_cast<uint8_t>(edge >> (8 * b)));
                s.options.push_back(opt_nop());
                s.options.push_back(opt_nop());
                s.options.push_back(sack);
            }
        }
        if (flags & tcp_urg) s.urgent = static_cast<uint16_t>(std::max<std::size_t>(n, 1));
        if (!s.v6) s.ip_id = ip_id++;
        bytes f = wire_frame(s);
        if (s.v6) {  // neither traffic class nor flow label is in the pseudo-header
            f[14] = static_cast<uint8_t>(0x60 | (c.tos >> 4));
            f[15] = static_cast<uint8_t>(((c.tos & 0x0f) << 4) | ((c.flow >> 16) & 0x0f));
            f[16] = static_cast<uint8_t>(c.flow >> 8);
            f[17] = static_cast<uint8_t>(c.flow);
        } else {
            f[15] = c.tos;
            if (c.df) f[14 + 6] |= 0x40;
            fix_ipv4_header_checksum(f);
        }
        if (c.ext) add_ip_extension(f, s.v6);
        if (other == 1 || other == 2) {  // another address: IP and TCP checksums redone
            const std::size_t at = s.v6 ? (other == 1 ? 14 + 24 : 14 + 8) : (other == 1 ? 14 + 16 : 14 + 12);
            f[at + (s.v6 ? 15 : 3)] = static_cast<uint8_t>(f[at + (s.v6 ? 15 : 3)] + 100);
            if (!s.v6) fix_ipv4_header_checksum(f);
            const parsed_frame p = parse_frame(f);
            const std::size_t l4 = 14 + p.ip->header_length;
            wr16(f, l4 + 16, 0);
            wr16(f, l4 + 16,
                 inet_checksum(f.data() + l4, f.size() - l4,
                               tcp_pseudo_header_sum(p.ip->src, p.ip->dst, static_cast<uint32_t>(f.size() - l4))));
        }
        return f;
    }
};

// `f` as 1 to 5 parts cut at random places (a zero-length part now and
// then), as a pbuf chain may be.
std::vector<frame_part> random_parts(rand_source& rnd, const bytes& f) {
    std::vector<std::size_t> cuts = {0, f.size()};
    for (std::size_t k = rnd.below(5); k > 0; --k) cuts.push_back(rnd.below(f.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    std::vector<frame_part> parts;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) parts.push_back({f.data() + cuts[i], cuts[i + 1] - cuts[i]});
    return parts;
}

// A TCP frame's layout, from its bytes.
struct tcp_layout {
    bool tcp = false, v6 = false;
    std::size_t l4 = 0, hdr = 0, payload = 0;
    uint32_t seq = 0;
    uint8_t flags = 0;
};
tcp_layout layout_of(const bytes& f, const parsed_frame& p) {
    tcp_layout t;
    if (!p.ip || !p.tcp || p.ip->fragment || p.ip->truncated) return t;
    t.tcp = true;
    t.v6 = p.ip->version == 6;
    t.l4 = 14 + p.ip->header_length;
    t.hdr = t.l4 + std::size_t{static_cast<uint8_t>(f.at(t.l4 + 12) >> 4)} * 4;
    t.payload = 14 + p.ip->total_length - t.hdr;
    t.seq = p.tcp->seq;
    t.flags = p.tcp->flags;
    return t;
}

// Whether two TCP frames' headers are the same but for what differs from
// segment to segment of one run: IPv4 length, ID and header checksum (IPv6:
// payload length), TCP sequence number, flags and checksum.
bool same_run_headers(const bytes& a, const tcp_layout& la, const bytes& b, const tcp_layout& lb) {
    if (la.v6 != lb.v6 || la.l4 != lb.l4 || la.hdr != lb.hdr) return false;
    for (std::size_t i = 0; i < la.hdr; ++i) {
        const bool varies =
            (la.v6 ? i >= 14 + 4 && i < 14 + 6 : (i >= 14 + 2 && i < 14 + 6) || (i >= 14 + 10 && i < 14 + 12)) ||
            (i >= la.l4 + 4 && i < la.l4 + 8) || i == la.l4 + 13 || (i >= la.l4 + 16 && i < la.l4 + 18);
        if (!varies && a[i] != b[i]) return false;
    }
    return true;
}

}  // namespace

// The IPv4 identification: a merged frame carries the first segment's, and
// cutting it (segments_of, like Linux TSO) gives the segments after it
// first + 1, first + 2, ...  lwIP numbers every IPv4 datagram from one
// counter, and tx_offload only merges segments handed to it one right after
// the other (anything in between, IPv4 or not, breaks the run), so within a
// run lwIP's IDs are consecutive too and the comparison below includes them,
// across the wrap from 65535 to 0 as well.  (What this cannot show: lwIP
// with ARP_QUEUEING sends the packets it queued for an unresolved neighbour
// in one burst once the reply arrives; if another destination's datagrams
// took IDs meanwhile, a merged run of them had non-consecutive IDs, and the
// cut segments get renumbered: tx_offload does not compare IDs.  The new
// IDs lie within the span of the original ones, whose gaps went to other
// destinations, so no two datagrams to that peer share one and reassembly
// after fragmentation on the path is unaffected.)
TEST_CASE("tx_offload, random traffic: the link's frames, completed and cut, are exactly lwIP's frames",
          "[offload][tx][random]") {
    const uint32_t seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u);
    rand_source rnd(seed);
    rand_traffic traffic(rnd);

    // The link's limit, one kind per seed: checksum offload only; less than
    // any frame; exactly three of connection 0's segments, one byte less
    // (two fit), two and one byte; a jumbo frame; some random size; 65535;
    // the most an IP header describes; more than that.
    const std::size_t conn0_hdrs = 14 + 20 + 20 + (traffic.conns[0].ts ? 12 : 0);
    const std::size_t conn0_mss = traffic.conns[0].mss;
    std::size_t limit = 0;
    switch ((seed - 1) % 10) {
        case 0: limit = 0; break;
        case 1: limit = 1; break;
        case 2: limit = conn0_hdrs + 3 * conn0_mss; break;
        case 3: limit = conn0_hdrs + 3 * conn0_mss - 1; break;
        case 4: limit = conn0_hdrs + 2 * conn0_mss + 1; break;
        case 5: limit = 9014; break;
        case 6: limit = rnd.between(100, 20000); break;
        case 7: limit = 65535; break;
        case 8: limit = 14 + 65535; break;
        default: limit = std::size_t{1} << 20; break;
    }
    const std::size_t effective = std::min<std::size_t>(limit, 14 + 65535);
    // Connection 3 sends large segments, so that merged frames reach what
    // an IP header can describe: 7 * 8960, 4 * 16000, and 5 * 13091 plus its
    // 82 or 94 bytes of headers, which is more than 65535 but not more than
    // 14 + 65535 (seeds 8, 9 and 10 meet one each, in this order).
    static const std::size_t large_mss[] = {8960, 13091, 16000};
    traffic.conns[3].mss = large_mss[(seed + 1) % 3];
    const unsigned flush_per_mille = static_cast<unsigned>(rnd.between(20, 250));
    traffic.generate(2500);
    const std::vector<bytes>& in = traffic.frames;

    std::ostringstream setup;
    setup << "seed " << seed << ", tx_tcp_segment_max " << limit << ", " << in.size() << " frames, flush() after "
          << flush_per_mille << "/1000 of them";
    for (const rand_conn& c : traffic.conns) setup << "\n  connection " << c.text();
    INFO(setup.str());
    std::vector<tcp_layout> in_layout;
    std::size_t bad_input = 0;  // the generator's own check: complete checksums everywhere
    while (bad_input < in.size()) {
        const parsed_frame p = parse_frame(in[bad_input]);
        if ((p.ip && !p.ip->header_checksum_ok) || (p.tcp && !p.tcp_checksum_ok) || (p.udp && !p.udp->checksum_ok) ||
            (p.icmp && !p.icmp->checksum_ok))
            break;
        in_layout.push_back(layout_of(in[bad_input], p));
        ++bad_input;
    }
    REQUIRE(bad_input == in.size());

    recording_link link;
    tx_offload tx(link, {true, limit});
    std::vector<bool> flushed_after(in.size(), false);
    bool all_accepted = true;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::vector<frame_part> parts = random_parts(rnd, in[i]);
        all_accepted = tx.send(parts.data(), parts.size()) && all_accepted;
        if (rnd.chance(flush_per_mille)) {
            all_accepted = tx.flush() && all_accepted;
            flushed_after[i] = true;
        }
    }
    all_accepted = tx.flush() && all_accepted;
    flushed_after.back() = true;
    CHECK_FALSE(tx.holding());
    REQUIRE(all_accepted);

    // The link's view, frame by frame: checked, then completed and cut.
    std::vector<bytes> got;
    struct span {
        std::size_t first, count;  // the input frames an output frame stands for
    };
    std::vector<span> spans;
    std::string problem;
    std::size_t merged = 0, merged_segments = 0;
    for (std::size_t i = 0; i < link.sent.size() && problem.empty(); ++i) {
        const sent_frame& s = link.sent[i];
        auto fail = [&](const std::string& what) {
            problem = "output frame " + std::to_string(i) + " (standing for input frames from " +
                      std::to_string(got.size()) + "): " + what + "\n  " + describe(s.data) + "  {" +
                      info_text(s.info) + "}, " + std::to_string(s.data.size()) + " bytes";
        };
        const parsed_frame p = parse_frame(s.data);
        const tcp_layout t = layout_of(s.data, p);
        std::vector<bytes> segs;
        if (t.tcp) {
            const uint32_t tcp_len = static_cast<uint32_t>(s.data.size() - t.l4);
            if (s.info.csum != csum_kind::partial) {
                fail("a TCP frame not checksum::partial");
            } else if (s.info.csum_start != t.l4 || s.info.csum_offset != 16) {
                fail("csum_start/csum_offset not at the TCP checksum");
            } else if (14 + p.ip->total_length != s.data.size() || !p.ip->header_checksum_ok) {
                fail("IP header inconsistent with the frame");
            } else if (rd16(s.data, t.l4 + 16) != fold(tcp_pseudo_header_sum(p.ip->src, p.ip->dst, tcp_len))) {
                fail("the checksum field is not the folded pseudo-header sum");
            } else if (s.info.gso_size == 0) {
                // One segment: it may be longer than the limit (the link
                // takes any one frame lwIP sends), but then, as everything
                // else, it must be exactly lwIP's frame (compared below).
                segs.push_back(complete(s.data, s.info));
            } else if (effective == 0) {
                fail("gso_size on a link that takes no merged frames");
            } else if (s.data.size() > effective) {
                fail("a merged frame longer than " + std::to_string(effective) + " bytes");
            } else if (t.payload <= s.info.gso_size) {
                fail("gso_size on a frame carrying only one segment");
            } else {
                segs = segments_of(s.data, s.info);
                ++merged;
                merged_segments += segs.size();
                for (std::size_t k = 0; k < segs.size(); ++k) {
                    const std::size_t n = segs[k].size() - t.hdr;
                    if (k + 1 < segs.size() ? n != s.info.gso_size : n == 0 || n > s.info.gso_size)
                        fail("segment " + std::to_string(k) + " of " + std::to_string(n) + " bytes");
                }
            }
        } else if (!s.info.plain()) {
            fail("a frame other than TCP not plain");
        } else {
            segs.push_back(s.data);
        }
        spans.push_back({got.size(), segs.size()});
        for (bytes& b : segs) got.push_back(std::move(b));
    }
    INFO("link got " << link.sent.size() << " frames, " << merged << " of them merged (" << merged_segments
                     << " segments)");
    INFO(problem);
    REQUIRE(problem.empty());

    // The property: in order, byte for byte.
    std::size_t k = 0;
    while (k < got.size() && k < in.size() && got[k] == in[k]) ++k;
    if (k < got.size() || k < in.size()) {
        std::size_t out_frame = 0;
        while (out_frame + 1 < spans.size() && spans[out_frame + 1].first <= k) ++out_frame;
        std::ostringstream m;
        m << "first difference at input frame " << k << " (output frame " << out_frame << ")";
        const std::size_t from = k >= 3 ? k - 3 : 0;
        for (std::size_t j = from; j < std::min(in.size(), k + 3); ++j)
            m << "\n  in  " << j << ": " << describe(in[j]) << (flushed_after[j] ? "  [flush]" : "");
        for (std::size_t j = from; j < std::min(got.size(), k + 3); ++j)
            m << "\n  got " << j << ": " << describe(got[j]);
        if (k < got.size() && k < in.size()) {
            std::size_t b = 0;
            while (b < got[k].size() && b < in[k].size() && got[k][b] == in[k][b]) ++b;
            // The 64 bytes or so around the difference.
            const std::size_t lo = b >= 32 ? (b - 32) / 16 * 16 : 0;
            auto window = [&](const bytes& f) {
                return hex_dump(bytes(f.begin() + static_cast<std::ptrdiff_t>(std::min(lo, f.size())),
                                      f.begin() + static_cast<std::ptrdiff_t>(std::min(lo + 80, f.size()))));
            };
            m << "\n  frame " << k << " first differs at byte " << b << " (sizes " << in[k].size() << " / "
              << got[k].size() << "); from byte " << lo << ", want:\n"
              << window(in[k]) << "got:\n"
              << window(got[k]);
        }
        FAIL(m.str());
    }

    // Nothing left unmerged that could have been: an output frame that is
    // a run still open (ACK only, no shorter last segment, room for one more
    // segment) must not be followed, without a flush() in between, by a
    // segment that continues it.
    for (std::size_t i = 0; i + 1 < spans.size(); ++i) {
        const span& x = spans[i];
        const span& y = spans[i + 1];
        const std::size_t x_last = x.first + x.count - 1;
        if (flushed_after[x_last]) continue;
        const tcp_layout &a = in_layout[x.first], &z = in_layout[x_last], &b = in_layout[y.first];
        if (!a.tcp || !b.tcp || a.flags != tcp_ack || a.payload == 0 || z.flags != tcp_ack || z.payload != a.payload ||
            link.sent[i].data.size() + a.payload > effective)
            continue;
        const bool continues = (b.flags == tcp_ack || b.flags == (tcp_ack | tcp_psh)) && b.payload > 0 &&
                               b.payload <= a.payload && b.seq == z.seq + static_cast<uint32_t>(z.payload) &&
                               same_run_headers(in[x.first], a, in[y.first], b);
        if (continues)
            FAIL_CHECK("output frame " << i << " (" << x.count << " segments): " << describe(link.sent[i].data)
                                       << "\nnot merged with the next: " << describe(in[y.first]));
    }

    CHECK(tx.stats().frames == link.sent.size());
    CHECK(tx.stats().merged_frames == merged);
    CHECK(tx.stats().segments == merged_segments);
    // The mix did exercise merging where the link allows it.
    if (effective >= conn0_hdrs + 3 * traffic.conns[0].mss) CHECK(merged > 0);
    if (effective < 14 + 20 + 20 + 2) CHECK(merged == 0);
}
