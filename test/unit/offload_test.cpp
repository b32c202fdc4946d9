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
#include <string>
#include <utility>
#include <vector>

#include "fixture.hpp"
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
uint32_t rd32(const bytes& b, std::size_t at) {
    return (static_cast<uint32_t>(rd16(b, at)) << 16) | rd16(b, at + 2);
}
void wr16(bytes& b, std::size_t at, uint16_t v) {
    b.at(at) = static_cast<uint8_t>(v >> 8);
    b.at(at + 1) = static_cast<uint8_t>(v & 0xff);
}
void wr32(bytes& b, std::size_t at, uint32_t v) {
    wr16(b, at, static_cast<uint16_t>(v >> 16));
    wr16(b, at + 2, static_cast<uint16_t>(v & 0xffff));
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
        return eth_frame(s.eth_dst, k_stack_mac, ethertype_ipv6, ipv6_packet(src, dst, ip_proto_tcp, l4, s.ttl),
                         false);
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
// the field as it is, stores the complement.  Other frames are returned as
// they are.
bytes complete(const bytes& f, const frame_info& info) {
    bytes out = f;
    if (info.csum != csum_kind::partial) return out;
    const std::size_t at = std::size_t{info.csum_start} + info.csum_offset;
    REQUIRE(info.csum_start < out.size());
    REQUIRE(at + 2 <= out.size());
    wr16(out, at, inet_checksum(out.data() + info.csum_start, out.size() - info.csum_start));
    return out;
}

// Cuts a frame with gso_size into the segments it stands for, as TSO/GSO
// does: each carries the first one's headers with the sequence number
// advanced (IPv4: identification advanced, lengths and checksums
// recomputed); PSH and FIN only on the last one.  Checksums are computed
// from scratch here.  A frame without gso_size is only completed.
std::vector<bytes> segments_of(const bytes& f, const frame_info& info) {
    if (info.gso_size == 0) return {complete(f, info)};
    REQUIRE(info.csum == csum_kind::partial);
    parsed_frame p = parse_frame(f);
    REQUIRE(p.ip);
    REQUIRE(p.tcp);
    REQUIRE_FALSE(p.ip->truncated);
    const bool v6 = p.ip->version == 6;
    const std::size_t l4 = 14 + p.ip->header_length;
    REQUIRE(l4 == info.csum_start);
    const std::size_t hdr = l4 + std::size_t{static_cast<uint8_t>(f[l4 + 12] >> 4)} * 4;
    const std::size_t end = 14 + p.ip->total_length;
    REQUIRE(end == f.size());
    const std::size_t payload = end - hdr;
    REQUIRE(payload > info.gso_size);  // else it would not stand for several segments
    std::vector<bytes> out;
    for (std::size_t off = 0, i = 0; off < payload; off += info.gso_size, ++i) {
        const std::size_t n = std::min<std::size_t>(info.gso_size, payload - off);
        const bool last = off + n == payload;
        bytes s(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(hdr));
        s.insert(s.end(), f.begin() + static_cast<std::ptrdiff_t>(hdr + off),
                 f.begin() + static_cast<std::ptrdiff_t>(hdr + off + n));
        if (v6) {
            wr16(s, 14 + 4, static_cast<uint16_t>(s.size() - 14 - 40));
        } else {
            wr16(s, 14 + 2, static_cast<uint16_t>(s.size() - 14));
            wr16(s, 14 + 4, static_cast<uint16_t>(rd16(f, 14 + 4) + i));
            wr16(s, 14 + 10, 0);
            wr16(s, 14 + 10, inet_checksum(s.data() + 14, l4 - 14));
        }
        wr32(s, l4 + 4, static_cast<uint32_t>(rd32(f, l4 + 4) + off));
        if (!last) s[l4 + 13] = static_cast<uint8_t>(s[l4 + 13] & ~(tcp_psh | tcp_fin));
        wr16(s, l4 + 16, 0);
        wr16(s, l4 + 16,
             inet_checksum(s.data() + l4, s.size() - l4,
                           tcp_pseudo_header_sum(p.ip->src, p.ip->dst, static_cast<uint32_t>(s.size() - l4))));
        out.push_back(std::move(s));
    }
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

TEST_CASE("tx_offload merges equal data segments and a shorter PSH one into one partial frame",
          "[offload][tx]") {
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

TEST_CASE("tx_offload hands over what it holds on flush, one segment as a plain partial frame",
          "[offload][tx]") {
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    recording_link link;
    tx_offload tx(link, {true, 65535});
    const auto one = run(v6, 500, 1, 1000);
    REQUIRE(send_split(tx, lwip_frame(one[0])));
    CHECK(link.sent.empty());
    REQUIRE(tx.flush());
    check_sent(link, {partial_tcp(wire_frames(one), 0)});  // one segment: no gso_size
    REQUIRE(tx.flush());                              // nothing more
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
    bytes other;  // X when it is not TCP
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

TEST_CASE("tx_offload keeps frame order across interleaved ACKs, other connections and datagrams",
          "[offload][tx]") {
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
