// Tests of the unit tests' own wire-format library (support/packet.hpp) and
// scripted peer (support/scripted_peer.hpp). Everything else that checks
// "what crossed the wire" leans on these, so they are checked against
// independently produced bytes, not only against themselves.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <vector>

#include "packet.hpp"
#include "scripted_peer.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <arpa/inet.h>
#define LWSP_TEST_HAVE_INET_PTON 1
#endif

using namespace lwsp::test;

namespace {

bytes from_hex(const std::string& hex) {
    bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    return out;
}

bytes text(const std::string& s) { return bytes(s.begin(), s.end()); }

const mac_addr mac1{{0x02, 0, 0, 0, 0, 0x01}};
const mac_addr mac2{{0x02, 0, 0, 0, 0, 0x02}};

ip_addr ip(const char* s) { return ip_addr::parse(s); }

// Size of the IP packet inside an Ethernet frame, from our own builder's
// output (the frames below are never padded, so this is frame size - 14).
size_t l3_size(const bytes& frame) { return frame.size() - 14; }

// Reference frames produced by scapy 2.5.0 (Ether()/IP(id=0,flags=0,ttl=64)
// /..., padded with zeros to 60 bytes), i.e. by an implementation that shares
// nothing with this library or with lwIP.
const char* const ref_tcp4 =
    "02000000000202000000000108004500004100000000400666b50a0000010a00000200500fa00000000100000002"
    "a012ffffd72a0000020405b40303070402080a00000001000000020068656c6c6f";
const char* const ref_tcp6 =
    "02000000000202000000000186dd600000000026064020010db800000000000000000000000120010db800000000"
    "00000000000000020fa00050fffffff01234567850180400f9180000474554202f20485454502f312e300d0a0d0a";
const char* const ref_udp4 =
    "02000000000202000000000108004500001f000000004011f77ac0a80101c0a8010214e90035000ba30361626300"
    "0000000000000000000000000000";
const char* const ref_udp6 =
    "02000000000202000000000186dd6000000000111140fe800000000000000000000000000001fe80000000000000"
    "000000000000000204d2162e00112525646174616772616d21";
const char* const ref_icmp4 =
    "02000000000202000000000108004500002000000000400166db0a0000010a000002080006f41234000770696e67"
    "0000000000000000000000000000";
const char* const ref_icmp6 =
    "02000000000202000000000186dd60000000000c3a40fe800000000000000000000000000001fe80000000000000"
    "0000000000000002800091a81234000770696e67";
const char* const ref_arp_request =
    "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a00000200000000"
    "0000000000000000000000000000";
const char* const ref_arp_reply =
    "020000000002020000000001080600010800060400020200000000010a0000010200000000020a00000200000000"
    "0000000000000000000000000000";
const char* const ref_ns =
    "3333ff00000202000000000186dd6000000000203afffe800000000000000000000000000001ff02000000000000"
    "00000001ff00000287007a9700000000fe8000000000000000000000000000020101020000000001";
const char* const ref_na =
    "02000000000202000000000186dd6000000000203afffe800000000000000000000000000001fe80000000000000"
    "00000000000000028800181c60000000fe8000000000000000000000000000010201020000000001";

tcp_segment ref_tcp4_segment() {
    tcp_segment t;
    t.sport = 80;
    t.dport = 4000;
    t.seq = 1;
    t.ack = 2;
    t.flags = tcp_syn | tcp_ack;
    t.window = 65535;
    t.options = {opt_mss(1460), opt_wscale(7), opt_sack_permitted(), opt_timestamps(1, 2)};
    t.payload = text("hello");
    return t;
}

tcp_segment ref_tcp6_segment() {
    tcp_segment t;
    t.sport = 4000;
    t.dport = 80;
    t.seq = 0xfffffff0u;
    t.ack = 0x12345678u;
    t.flags = tcp_psh | tcp_ack;
    t.window = 1024;
    t.payload = text("GET / HTTP/1.0\r\n\r\n");
    return t;
}

// A segment the stack would send to the peer (stack = mac2/ip2, peer = mac1/ip1).
bytes from_stack(const ip_addr& stack_ip, const ip_addr& peer_ip, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, const bytes& payload = {}) {
    tcp_segment t;
    t.sport = sport;
    t.dport = dport;
    t.seq = seq;
    t.ack = ack;
    t.flags = flags;
    t.window = 8192;
    t.payload = payload;
    return tcp_frame(mac1, mac2, stack_ip, peer_ip, t);
}

}  // namespace

// ------------------------------------------------------------------ checksums

TEST_CASE("inet_checksum matches RFC 1071 vectors", "[packet]") {
    // The classic IPv4 header example, checksum field zeroed.
    bytes hdr = from_hex("450000730000400040110000c0a80001c0a800c7");
    CHECK(inet_checksum(hdr) == 0xb861);
    hdr[10] = 0xb8;
    hdr[11] = 0x61;
    CHECK(inet_checksum(hdr) == 0);

    // RFC 1071 section 3 example: the one's complement sum is ddf2.
    bytes rfc = from_hex("0001f203f4f5f6f7");
    CHECK(inet_checksum(rfc) == static_cast<uint16_t>(~0xddf2 & 0xffff));

    // An odd trailing byte counts as the high half of a zero-padded word.
    CHECK(inet_checksum(from_hex("01")) == 0xfeff);
    CHECK(inet_checksum(from_hex("0100")) == 0xfeff);

    // Empty data, and data that sums to all ones, checksum to ffff / 0.
    CHECK(inet_checksum(nullptr, 0) == 0xffff);
    CHECK(inet_checksum(from_hex("ffff")) == 0);

    // The initial sum is folded in like any other words.
    CHECK(inet_checksum(from_hex("1234"), 0x5678) == inet_checksum(from_hex("12345678")));

    // Large inputs must not lose carries.
    bytes big(200000, 0xff);
    CHECK(inet_checksum(big) == 0);
}

TEST_CASE("pseudo header sums follow RFC 793 and RFC 8200", "[packet]") {
    // 10.0.0.1 + 10.0.0.2 + proto 6 + length 20, word by word.
    uint32_t v4 = tcp_pseudo_header_sum(ip("10.0.0.1"), ip("10.0.0.2"), 20);
    CHECK(v4 == 0x0a00u + 0x0001u + 0x0a00u + 0x0002u + 6u + 20u);
    CHECK(udp_pseudo_header_sum(ip("10.0.0.1"), ip("10.0.0.2"), 20) == v4 - 6 + 17);

    uint32_t v6 = icmpv6_pseudo_header_sum(ip("fe80::1"), ip("ff02::2"), 8);
    CHECK(v6 == 0xfe80u + 1u + 0xff02u + 2u + 8u + 58u);
    // IPv6 lengths are 32 bits wide.
    CHECK(pseudo_header_sum(ip("::"), ip("::"), 6, 0x00012345u) == 0x0001u + 0x2345u + 6u);

    CHECK_THROWS_AS(tcp_pseudo_header_sum(ip("10.0.0.1"), ip("::1"), 20), std::runtime_error);
    CHECK_THROWS_AS(icmpv6_pseudo_header_sum(ip("10.0.0.1"), ip("10.0.0.2"), 8), std::runtime_error);
}

// ------------------------------------------------------------------ addresses

TEST_CASE("mac_addr text and helpers", "[packet]") {
    CHECK(mac1.to_string() == "02:00:00:00:00:01");
    CHECK(mac_addr::broadcast().to_string() == "ff:ff:ff:ff:ff:ff");
    CHECK(mac_addr::parse("02:00:00:00:00:01") == mac1);
    CHECK(mac_addr::parse("0a:B:c:d:e:ff").to_string() == "0a:0b:0c:0d:0e:ff");
    CHECK(mac1 != mac2);
    CHECK_FALSE(mac1.is_multicast());
    CHECK(mac_addr::broadcast().is_multicast());
    CHECK_THROWS_AS(mac_addr::parse("02:00:00:00:00"), std::runtime_error);
    CHECK_THROWS_AS(mac_addr::parse("02:00:00:00:00:001"), std::runtime_error);
    CHECK(multicast_mac(ip("ff02::1:ff00:2")).to_string() == "33:33:ff:00:00:02");
    CHECK(multicast_mac(ip("224.128.1.2")).to_string() == "01:00:5e:00:01:02");
}

TEST_CASE("ip_addr parses and prints IPv4 and IPv6 text", "[packet]") {
    ip_addr a = ip_addr::v4(10, 0, 0, 1);
    CHECK(a.is_v4());
    CHECK_FALSE(a.is_v6());
    CHECK(a.size() == 4);
    CHECK(a.to_string() == "10.0.0.1");
    CHECK(ip("10.0.0.1") == a);
    CHECK(ip("255.255.255.255").to_string() == "255.255.255.255");
    CHECK(ip_addr().to_string() == "0.0.0.0");
    CHECK(ip_addr().is_unspecified());
    CHECK(a.raw() == bytes{10, 0, 0, 1});

    // Canonical (RFC 5952) output for a range of inputs.
    const std::pair<const char*, const char*> cases[] = {
        {"::", "::"},
        {"::1", "::1"},
        {"1::", "1::"},
        {"fe80::1", "fe80::1"},
        {"FE80:0:0:0:0:0:0:1", "fe80::1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // first of equal runs
        {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},              // longest run
        {"1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"},         // no "::" for one group
        {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
        {"2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"},
        {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
        {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
        {"ff02::1:ff00:2", "ff02::1:ff00:2"},
    };
    for (const auto& c : cases) {
        INFO(c.first);
        ip_addr v = ip(c.first);
        CHECK(v.is_v6());
        CHECK(v.size() == 16);
        CHECK(v.to_string() == c.second);
        CHECK(ip(v.to_string().c_str()) == v);
    }

    const char* bad[] = {"",      "1.2.3",   "1.2.3.4.5", "256.1.1.1",    "01.2.3.4",          "1.2.3.-4",      ":",
                         ":::",   "1::2::3", "12345::",   "g::1",         "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1::",
                         "1::2:", "::1.2.3", "1.2.3.4::", "fe80::1%eth0", "1:2:3:4:5:6:7::8"};
    for (const char* s : bad) {
        INFO(s);
        CHECK_FALSE(ip_addr::try_parse(s).has_value());
        CHECK_THROWS_AS(ip_addr::parse(s), std::runtime_error);
    }

    CHECK(ip("fe80::1") != ip("fe80::2"));
    CHECK(ip("::") != ip("0.0.0.0"));  // different families never compare equal
    CHECK(ip("2001:db8::1:2:3").solicited_node() == ip("ff02::1:ff02:3"));
    CHECK_THROWS_AS(ip("10.0.0.1").solicited_node(), std::runtime_error);
    CHECK_THROWS_AS(ip_addr::from_bytes(a.data(), 5), std::runtime_error);
}

#ifdef LWSP_TEST_HAVE_INET_PTON
TEST_CASE("ip_addr agrees with the C library's inet_pton/inet_ntop", "[packet]") {
    std::mt19937 rng(12345);
    for (int i = 0; i < 2000; ++i) {
        std::array<uint8_t, 16> raw{};
        // Mostly-zero groups, so that every compression case comes up.
        for (size_t g = 0; g < 8; ++g) {
            if (rng() % 2) continue;
            raw[2 * g] = static_cast<uint8_t>(rng() % 3 == 0 ? rng() : 0);
            raw[2 * g + 1] = static_cast<uint8_t>(rng());
        }
        ip_addr v = ip_addr::v6(raw);
        char buf[INET6_ADDRSTRLEN];
        REQUIRE(inet_ntop(AF_INET6, raw.data(), buf, sizeof buf) != nullptr);
        std::string libc = buf;
        // glibc prints IPv4-compatible addresses (::a.b.c.d, deprecated) with a
        // dotted tail; RFC 5952 does not ask for that, so only compare parsing.
        if (libc.find('.') == std::string::npos || libc.rfind("::ffff:", 0) == 0) {
            INFO(libc);
            CHECK(v.to_string() == libc);
        }
        std::array<uint8_t, 16> back{};
        REQUIRE(inet_pton(AF_INET6, v.to_string().c_str(), back.data()) == 1);
        CHECK(back == raw);
        CHECK(ip(libc.c_str()) == v);
    }
}
#endif

// ------------------------------------------------------------------ builders vs reference

TEST_CASE("builders produce the same bytes as an independent implementation", "[packet]") {
    CHECK(tcp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), ref_tcp4_segment()) == from_hex(ref_tcp4));
    CHECK(tcp_frame(mac2, mac1, ip("2001:db8::1"), ip("2001:db8::2"), ref_tcp6_segment()) == from_hex(ref_tcp6));
    CHECK(udp_frame(mac2, mac1, ip("192.168.1.1"), ip("192.168.1.2"), 5353, 53, text("abc")) == from_hex(ref_udp4));
    CHECK(udp_frame(mac2, mac1, ip("fe80::1"), ip("fe80::2"), 1234, 5678, text("datagram!")) == from_hex(ref_udp6));
    CHECK(icmp_echo_request(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), 0x1234, 7, text("ping")) ==
          from_hex(ref_icmp4));
    CHECK(icmp_echo_request(mac2, mac1, ip("fe80::1"), ip("fe80::2"), 0x1234, 7, text("ping")) == from_hex(ref_icmp6));
    CHECK(arp_request(mac1, ip("10.0.0.1"), ip("10.0.0.2")) == from_hex(ref_arp_request));
    CHECK(arp_reply(mac1, ip("10.0.0.1"), mac2, ip("10.0.0.2")) == from_hex(ref_arp_reply));
    CHECK(ndp_neighbor_solicitation(mac1, ip("fe80::1"), ip("fe80::2")) == from_hex(ref_ns));
    CHECK(ndp_neighbor_advertisement(mac1, ip("fe80::1"), mac2, ip("fe80::2"), true) == from_hex(ref_na));
}

TEST_CASE("reference frames parse with valid checksums", "[packet]") {
    for (const char* hex : {ref_tcp4, ref_tcp6, ref_udp4, ref_udp6, ref_icmp4, ref_icmp6, ref_ns, ref_na}) {
        parsed_frame f = parse_frame(from_hex(hex));
        INFO(describe(f));
        REQUIRE(f.ip);
        CHECK(f.ip->header_checksum_ok);
        if (f.tcp) CHECK(f.tcp_checksum_ok);
        if (f.udp) CHECK(f.udp->checksum_ok);
        if (f.icmp) CHECK(f.icmp->checksum_ok);
        CHECK((f.tcp || f.udp || f.icmp));
    }
}

// ------------------------------------------------------------------ round trips

TEST_CASE("eth_frame pads to the Ethernet minimum unless told not to", "[packet]") {
    bytes f = eth_frame(mac2, mac1, 0x88b5, text("x"));
    CHECK(f.size() == eth_min_frame);
    CHECK(f[14] == 'x');
    CHECK(f[15] == 0);
    CHECK(eth_frame(mac2, mac1, 0x88b5, text("x"), false).size() == 15);
    parsed_frame p = parse_frame(f);
    CHECK(p.valid_ethernet);
    CHECK(p.eth_dst == mac2);
    CHECK(p.eth_src == mac1);
    CHECK(p.ethertype == 0x88b5);
    CHECK_FALSE(p.ip);
    CHECK_FALSE(p.arp);
    CHECK(describe(p) == "02:00:00:00:00:01 > 02:00:00:00:00:02 ethertype 0x88b5 len 60");
}

TEST_CASE("ARP request and reply round-trip", "[packet]") {
    parsed_frame rq = parse_frame(arp_request(mac1, ip("10.0.0.1"), ip("10.0.0.2")));
    CHECK(rq.eth_dst == mac_addr::broadcast());
    CHECK(rq.eth_src == mac1);
    CHECK(rq.ethertype == ethertype_arp);
    REQUIRE(rq.arp);
    CHECK(rq.arp->op == arp_op_request);
    CHECK(rq.arp->sender_mac == mac1);
    CHECK(rq.arp->sender_ip == ip("10.0.0.1"));
    CHECK(rq.arp->target_mac == mac_addr{});
    CHECK(rq.arp->target_ip == ip("10.0.0.2"));
    CHECK(describe(rq) == "ARP who-has 10.0.0.2 tell 10.0.0.1");

    parsed_frame rp = parse_frame(arp_reply(mac2, ip("10.0.0.2"), mac1, ip("10.0.0.1")));
    CHECK(rp.eth_dst == mac1);
    REQUIRE(rp.arp);
    CHECK(rp.arp->op == arp_op_reply);
    CHECK(rp.arp->sender_mac == mac2);
    CHECK(rp.arp->sender_ip == ip("10.0.0.2"));
    CHECK(rp.arp->target_mac == mac1);
    CHECK(rp.arp->target_ip == ip("10.0.0.1"));
    CHECK(describe(rp) == "ARP reply 10.0.0.2 is-at 02:00:00:00:00:02");

    CHECK_THROWS_AS(arp_request(mac1, ip("fe80::1"), ip("fe80::2")), std::runtime_error);
}

TEST_CASE("ICMP echo round-trips over IPv4 and IPv6", "[packet]") {
    SECTION("IPv4") {
        bytes fr = icmp_echo_request(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, text("abcd"));
        parsed_frame f = parse_frame(fr);
        REQUIRE(f.ip);
        CHECK(f.ethertype == ethertype_ipv4);
        CHECK(f.ip->version == 4);
        CHECK(f.ip->protocol == ip_proto_icmp);
        CHECK(f.ip->ttl == 64);
        CHECK(f.ip->total_length == 20 + 8 + 4);
        CHECK(f.ip->header_checksum_ok);
        CHECK_FALSE(f.ip->fragment);
        REQUIRE(f.icmp);
        CHECK_FALSE(f.icmp->v6);
        CHECK(f.icmp->type == icmp_echo_request_type);
        CHECK(f.icmp->is_echo_request());
        CHECK(f.icmp->id == 1);
        CHECK(f.icmp->seq == 2);
        CHECK(f.icmp->data == text("abcd"));
        CHECK(f.icmp->checksum_ok);
        CHECK(describe(f) == "ICMP 10.0.0.1 > 10.0.0.2 echo request id=1 seq=2 len=4");

        parsed_frame r = parse_frame(icmp_echo_reply(mac1, mac2, ip("10.0.0.2"), ip("10.0.0.1"), 1, 2, text("abcd")));
        REQUIRE(r.icmp);
        CHECK(r.icmp->is_echo_reply());
        CHECK(r.icmp->checksum_ok);
        CHECK(describe(r) == "ICMP 10.0.0.2 > 10.0.0.1 echo reply id=1 seq=2 len=4");
    }
    SECTION("IPv6") {
        bytes fr = icmp_echo_request(mac2, mac1, ip("fe80::1"), ip("fe80::2"), 7, 9, {});
        parsed_frame f = parse_frame(fr);
        REQUIRE(f.ip);
        CHECK(f.ethertype == ethertype_ipv6);
        CHECK(f.ip->version == 6);
        CHECK(f.ip->protocol == ip_proto_icmpv6);
        CHECK(f.ip->next_header == ip_proto_icmpv6);
        CHECK(f.ip->ttl == 64);
        CHECK(f.ip->total_length == 40 + 8);
        CHECK(f.ip->header_length == 40);
        REQUIRE(f.icmp);
        CHECK(f.icmp->v6);
        CHECK(f.icmp->type == icmpv6_echo_request_type);
        CHECK(f.icmp->id == 7);
        CHECK(f.icmp->seq == 9);
        CHECK(f.icmp->data.empty());
        CHECK(f.icmp->checksum_ok);
        CHECK(describe(f) == "ICMPv6 fe80::1 > fe80::2 echo request id=7 seq=9 len=0");
    }
}

TEST_CASE("neighbour discovery messages round-trip", "[packet]") {
    bytes ns = ndp_neighbor_solicitation(mac1, ip("2001:db8::1"), ip("2001:db8::aa:bbcc"));
    parsed_frame f = parse_frame(ns);
    CHECK(f.eth_dst.to_string() == "33:33:ff:aa:bb:cc");
    REQUIRE(f.ip);
    CHECK(f.ip->dst == ip("ff02::1:ffaa:bbcc"));
    CHECK(f.ip->ttl == 255);
    REQUIRE(f.icmp);
    CHECK(f.icmp->type == icmpv6_neighbor_solicitation_type);
    CHECK(f.icmp->checksum_ok);
    REQUIRE(f.icmp->nd_target);
    CHECK(*f.icmp->nd_target == ip("2001:db8::aa:bbcc"));
    REQUIRE(f.icmp->nd_source_lladdr);
    CHECK(*f.icmp->nd_source_lladdr == mac1);
    CHECK_FALSE(f.icmp->nd_target_lladdr);
    CHECK(describe(f) ==
          "ICMPv6 2001:db8::1 > ff02::1:ffaa:bbcc neighbor solicitation who-has 2001:db8::aa:bbcc "
          "src-lladdr 02:00:00:00:00:01");

    // Duplicate address detection: unspecified source, no link-layer option.
    parsed_frame dad = parse_frame(ndp_neighbor_solicitation(mac1, ip("::"), ip("fe80::2")));
    REQUIRE(dad.icmp);
    CHECK(dad.icmp->checksum_ok);
    CHECK_FALSE(dad.icmp->nd_source_lladdr);

    for (bool solicited : {true, false}) {
        parsed_frame na = parse_frame(ndp_neighbor_advertisement(mac2, ip("fe80::2"), mac1, ip("fe80::1"), solicited));
        CHECK(na.eth_dst == mac1);
        REQUIRE(na.ip);
        CHECK(na.ip->ttl == 255);
        REQUIRE(na.icmp);
        CHECK(na.icmp->type == icmpv6_neighbor_advertisement_type);
        CHECK(na.icmp->checksum_ok);
        CHECK(na.icmp->nd_flags == (nd_flag_override | (solicited ? nd_flag_solicited : 0)));
        REQUIRE(na.icmp->nd_target);
        CHECK(*na.icmp->nd_target == ip("fe80::2"));
        REQUIRE(na.icmp->nd_target_lladdr);
        CHECK(*na.icmp->nd_target_lladdr == mac2);
        CHECK(describe(na) == std::string("ICMPv6 fe80::2 > fe80::1 neighbor advertisement fe80::2 [") +
                                  (solicited ? "SO" : "O") + "] is-at 02:00:00:00:00:02");
    }
}

TEST_CASE("TCP segments round-trip over IPv4 and IPv6", "[packet]") {
    tcp_segment t;
    t.sport = 4000;
    t.dport = 80;
    t.seq = 0x01020304;
    t.ack = 0xfffffffe;
    t.flags = tcp_ack | tcp_psh | tcp_urg;
    t.window = 12345;
    t.urgent_pointer = 3;
    t.options = {opt_nop(), opt_nop(), opt_timestamps(100, 200), tcp_option{30, {1, 2, 3}}};
    t.payload = text("some payload bytes");

    for (const char* src : {"10.1.2.3", "2001:db8::10"}) {
        const ip_addr s = ip(src);
        const ip_addr d = s.is_v6() ? ip("2001:db8::20") : ip("10.3.2.1");
        INFO(src);
        bytes fr = tcp_frame(mac2, mac1, s, d, t);
        parsed_frame f = parse_frame(fr);
        REQUIRE(f.ip);
        CHECK(f.ip->src == s);
        CHECK(f.ip->dst == d);
        CHECK(f.ip->protocol == ip_proto_tcp);
        CHECK(f.ip->ttl == 64);
        CHECK(f.ip->total_length == l3_size(fr));
        CHECK(f.ip->header_checksum_ok);
        REQUIRE(f.tcp);
        CHECK(f.tcp_checksum_ok);
        CHECK(f.tcp->sport == t.sport);
        CHECK(f.tcp->dport == t.dport);
        CHECK(f.tcp->seq == t.seq);
        CHECK(f.tcp->ack == t.ack);
        CHECK(f.tcp->flags == t.flags);
        CHECK(f.tcp->window == t.window);
        CHECK(f.tcp->urgent_pointer == 3);
        CHECK(f.tcp->payload == t.payload);
        // NOPs are layout and are dropped; everything else survives in order.
        REQUIRE(f.tcp->options.size() == 2);
        CHECK(f.tcp->options[0] == opt_timestamps(100, 200));
        CHECK(f.tcp->options[1] == (tcp_option{30, {1, 2, 3}}));
        REQUIRE(f.tcp->timestamps());
        CHECK(f.tcp->timestamps()->first == 100);
        CHECK(f.tcp->timestamps()->second == 200);
        CHECK_FALSE(f.tcp->mss());
        CHECK_FALSE(f.tcp->wscale());
        CHECK_FALSE(f.udp);
        CHECK_FALSE(f.icmp);
    }

    parsed_frame syn = parse_frame(from_hex(ref_tcp4));
    REQUIRE(syn.tcp);
    CHECK(syn.tcp->mss() == uint16_t{1460});
    CHECK(syn.tcp->wscale() == uint8_t{7});
    CHECK(syn.tcp->sack_permitted());
    CHECK(syn.tcp->seq_len() == 5 + 1);
    CHECK(describe(syn) ==
          "TCP 10.0.0.1:80 > 10.0.0.2:4000 [S.] seq=1 ack=2 win=65535 len=5 "
          "<mss 1460,wscale 7,sackOK,TS val 1 ecr 2>");

    parsed_frame data6 = parse_frame(from_hex(ref_tcp6));
    CHECK(describe(data6) ==
          "TCP [2001:db8::1]:4000 > [2001:db8::2]:80 [P.] seq=4294967280 ack=305419896 win=1024 "
          "len=18");
}

TEST_CASE("TCP option layout: padding, limits and malformed input", "[packet]") {
    tcp_segment t;
    t.flags = tcp_syn;
    t.options = {opt_mss(536)};
    bytes seg = tcp_segment_bytes(ip("10.0.0.1"), ip("10.0.0.2"), t);
    CHECK(seg.size() == 24);
    CHECK((seg[12] >> 4) == 6);

    t.options = {opt_wscale(14)};  // 3 bytes -> one EOL of padding
    seg = tcp_segment_bytes(ip("10.0.0.1"), ip("10.0.0.2"), t);
    REQUIRE(seg.size() == 24);
    CHECK(seg[20] == tcp_opt_wscale);
    CHECK(seg[21] == 3);
    CHECK(seg[22] == 14);
    CHECK(seg[23] == tcp_opt_eol);

    t.options = {tcp_option{99, bytes(38, 0)}, opt_nop()};  // 40 + 1 bytes
    CHECK_THROWS_AS(tcp_segment_bytes(ip("10.0.0.1"), ip("10.0.0.2"), t), std::runtime_error);
    t.options = {tcp_option{99, bytes(38, 0)}};
    CHECK_NOTHROW(tcp_segment_bytes(ip("10.0.0.1"), ip("10.0.0.2"), t));
    CHECK_THROWS_AS(tcp_segment_bytes(ip("10.0.0.1"), ip("::1"), t), std::runtime_error);

    // Hand-made option areas: a zero length and an overlong length stop option
    // parsing without losing the segment or what came before.
    auto with_options = [](const bytes& opts) {
        tcp_segment s;
        s.flags = tcp_ack;
        bytes b = tcp_segment_bytes(ip("10.0.0.1"), ip("10.0.0.2"), s);
        b.insert(b.begin() + 20, opts.begin(), opts.end());
        b[12] = static_cast<uint8_t>(((20 + opts.size()) / 4) << 4);
        b[16] = b[17] = 0;
        uint16_t ck =
            inet_checksum(b, tcp_pseudo_header_sum(ip("10.0.0.1"), ip("10.0.0.2"), static_cast<uint32_t>(b.size())));
        b[16] = static_cast<uint8_t>(ck >> 8);
        b[17] = static_cast<uint8_t>(ck);
        return parse_frame(ip_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), ip_proto_tcp, b));
    };
    parsed_frame f =
        with_options(from_hex("020405b4"
                              "0800"
                              "0000"));
    REQUIRE(f.tcp);
    CHECK(f.tcp_checksum_ok);
    CHECK(f.tcp->options.size() == 1);
    CHECK(f.tcp->mss() == uint16_t{1460});

    f =
        with_options(from_hex("01"
                              "03"
                              "ff"
                              "00"));
    REQUIRE(f.tcp);
    CHECK(f.tcp->options.empty());

    f =
        with_options(from_hex("00"
                              "020405b4"
                              "000000"));  // everything after EOL ignored
    REQUIRE(f.tcp);
    CHECK(f.tcp->options.empty());
}

TEST_CASE("UDP datagrams round-trip over IPv4 and IPv6", "[packet]") {
    for (const char* src : {"192.0.2.1", "2001:db8::1"}) {
        const ip_addr s = ip(src);
        const ip_addr d = s.is_v6() ? ip("2001:db8::2") : ip("192.0.2.2");
        INFO(src);
        bytes fr = udp_frame(mac2, mac1, s, d, 5000, 53, text("query"));
        parsed_frame f = parse_frame(fr);
        REQUIRE(f.ip);
        CHECK(f.ip->protocol == ip_proto_udp);
        REQUIRE(f.udp);
        CHECK(f.udp->sport == 5000);
        CHECK(f.udp->dport == 53);
        CHECK(f.udp->length == 8 + 5);
        CHECK(f.udp->payload == text("query"));
        CHECK(f.udp->checksum_present);
        CHECK(f.udp->checksum_ok);
        CHECK_FALSE(f.tcp);
    }
    CHECK(describe(parse_frame(udp_frame(mac2, mac1, ip("192.0.2.1"), ip("192.0.2.2"), 5000, 53, text("query")))) ==
          "UDP 192.0.2.1:5000 > 192.0.2.2:53 len=5");

    // IPv4 allows "no checksum" (0); IPv6 does not.
    bytes v4 = udp_frame(mac2, mac1, ip("192.0.2.1"), ip("192.0.2.2"), 1, 2, text("x"));
    v4[14 + 20 + 6] = v4[14 + 20 + 7] = 0;
    parsed_frame f4 = parse_frame(v4);
    REQUIRE(f4.udp);
    CHECK_FALSE(f4.udp->checksum_present);
    CHECK(f4.udp->checksum_ok);

    bytes v6 = udp_frame(mac2, mac1, ip("::1"), ip("::2"), 1, 2, text("x"));
    v6[14 + 40 + 6] = v6[14 + 40 + 7] = 0;
    parsed_frame f6 = parse_frame(v6);
    REQUIRE(f6.udp);
    CHECK_FALSE(f6.udp->checksum_ok);
}

TEST_CASE("IPv6 hop-by-hop header (as MLD reports carry) is skipped", "[packet]") {
    const ip_addr src = ip("fe80::1");
    const ip_addr dst = ip("ff02::16");
    // MLDv2 report with one record, as a stack joining ff02::1:ff00:1 sends it.
    bytes mld = from_hex(
        "8f000000"
        "00000001"
        "04000000"
        "ff020000000000000000000001ff0001");
    uint16_t ck = inet_checksum(mld, icmpv6_pseudo_header_sum(src, dst, static_cast<uint32_t>(mld.size())));
    mld[2] = static_cast<uint8_t>(ck >> 8);
    mld[3] = static_cast<uint8_t>(ck);
    // Next header ICMPv6, length 0 (8 bytes), router alert (MLD), PadN.
    bytes payload = from_hex(
        "3a00"
        "05020000"
        "0100");
    payload.insert(payload.end(), mld.begin(), mld.end());
    bytes fr = eth_frame(multicast_mac(dst), mac1, ethertype_ipv6, ipv6_packet(src, dst, ip_proto_hopopts, payload, 1));
    parsed_frame f = parse_frame(fr);
    REQUIRE(f.ip);
    CHECK(f.ip->next_header == ip_proto_hopopts);
    CHECK(f.ip->protocol == ip_proto_icmpv6);
    CHECK(f.ip->header_length == 48);
    CHECK(f.ip->ttl == 1);
    REQUIRE(f.icmp);
    CHECK(f.icmp->type == 143);
    CHECK(f.icmp->checksum_ok);
    CHECK(describe(f) == "ICMPv6 fe80::1 > ff02::16 multicast listener report v2");

    // A hop-by-hop header that claims more than the packet holds.
    payload[1] = 9;
    parsed_frame bad = parse_frame(
        eth_frame(multicast_mac(dst), mac1, ethertype_ipv6, ipv6_packet(src, dst, ip_proto_hopopts, payload, 1)));
    REQUIRE(bad.ip);
    CHECK_FALSE(bad.icmp);
}

TEST_CASE("fragments are recognised and not parsed further", "[packet]") {
    tcp_segment t;
    t.flags = tcp_ack;
    t.payload = bytes(100, 'x');
    bytes fr = tcp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), t);
    // Set MF, refresh the header checksum.
    fr[14 + 6] = 0x20;
    fr[14 + 10] = fr[14 + 11] = 0;
    uint16_t ck = inet_checksum(&fr[14], 20);
    fr[14 + 10] = static_cast<uint8_t>(ck >> 8);
    fr[14 + 11] = static_cast<uint8_t>(ck);
    parsed_frame f = parse_frame(fr);
    REQUIRE(f.ip);
    CHECK(f.ip->header_checksum_ok);
    CHECK(f.ip->fragment);
    CHECK(f.ip->more_fragments);
    CHECK(f.ip->fragment_offset == 0);
    CHECK_FALSE(f.tcp);
    CHECK(describe(f) == "IP 10.0.0.1 > 10.0.0.2 frag id=0 off=0+ proto 6 len 140");

    // IPv6 fragment header, offset 8, last fragment.
    bytes payload = from_hex(
        "06000008"
        "0000abcd");
    payload.insert(payload.end(), 16, 0);
    parsed_frame f6 = parse_frame(
        eth_frame(mac2, mac1, ethertype_ipv6, ipv6_packet(ip("::1"), ip("::2"), ip_proto_fragment, payload)));
    REQUIRE(f6.ip);
    CHECK(f6.ip->fragment);
    CHECK_FALSE(f6.ip->more_fragments);
    CHECK(f6.ip->fragment_offset == 8);
    CHECK(f6.ip->id == 0xabcd);
    CHECK(f6.ip->protocol == ip_proto_tcp);
    CHECK_FALSE(f6.tcp);
}

// ------------------------------------------------------------------ corruption

TEST_CASE("a corrupted byte is reported as a bad checksum", "[packet]") {
    SECTION("TCP over IPv4: any byte of the IP packet") {
        bytes good = tcp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), ref_tcp4_segment());
        for (size_t i = 14; i < good.size(); ++i) {
            bytes b = good;
            b[i] ^= 0x5a;
            parsed_frame f = parse_frame(b);
            INFO("byte " << i << ": " << describe(f));
            CHECK_FALSE((f.ip && f.ip->header_checksum_ok && f.tcp && f.tcp_checksum_ok));
        }
    }
    SECTION("TCP over IPv6: every byte the checksum covers") {
        bytes good = tcp_frame(mac2, mac1, ip("2001:db8::1"), ip("2001:db8::2"), ref_tcp6_segment());
        for (size_t i = 14 + 4; i < good.size(); ++i) {
            if (i == 14 + 7) continue;  // hop limit: not covered
            bytes b = good;
            b[i] ^= 0x01;
            parsed_frame f = parse_frame(b);
            INFO("byte " << i << ": " << describe(f));
            CHECK_FALSE((f.tcp && f.tcp_checksum_ok));
        }
    }
    SECTION("payload bytes of each protocol") {
        bytes tcp = tcp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), ref_tcp4_segment());
        tcp.back() ^= 0x80;
        parsed_frame ft = parse_frame(tcp);
        REQUIRE(ft.tcp);
        CHECK_FALSE(ft.tcp_checksum_ok);
        CHECK(ft.ip->header_checksum_ok);
        CHECK(describe(ft).find("[bad tcp cksum]") != std::string::npos);

        bytes udp = udp_frame(mac2, mac1, ip("fe80::1"), ip("fe80::2"), 1, 2, text("datagram"));
        udp.back() ^= 0x01;
        parsed_frame fu = parse_frame(udp);
        REQUIRE(fu.udp);
        CHECK_FALSE(fu.udp->checksum_ok);

        for (const char* s : {"10.0.0.1", "fe80::1"}) {
            const ip_addr a = ip(s);
            const ip_addr b = a.is_v6() ? ip("fe80::2") : ip("10.0.0.2");
            bytes icmp = icmp_echo_request(mac2, mac1, a, b, 1, 1, bytes(40, 'p'));
            icmp.back() ^= 0x01;
            parsed_frame fi = parse_frame(icmp);
            REQUIRE(fi.icmp);
            CHECK_FALSE(fi.icmp->checksum_ok);
        }

        bytes hdr = udp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, text("x"));
        hdr[14 + 8] ^= 0x01;  // TTL
        parsed_frame fh = parse_frame(hdr);
        REQUIRE(fh.ip);
        CHECK_FALSE(fh.ip->header_checksum_ok);
        CHECK(describe(fh).find("[bad ip cksum]") != std::string::npos);
    }
}

// ------------------------------------------------------------------ robustness

TEST_CASE("truncated frames never crash nor yield a valid TCP segment", "[packet]") {
    for (const char* src : {"10.0.0.1", "2001:db8::1"}) {
        const ip_addr s = ip(src);
        const ip_addr d = s.is_v6() ? ip("2001:db8::2") : ip("10.0.0.2");
        tcp_segment t = ref_tcp4_segment();
        bytes full = tcp_frame(mac2, mac1, s, d, t);
        REQUIRE(full.size() > eth_min_frame);  // no padding: every cut loses real bytes
        for (size_t n = 0; n <= full.size(); ++n) {
            bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            parsed_frame f = parse_frame(cut);
            INFO(src << " length " << n << ": " << describe(f));
            CHECK(f.valid_ethernet == (n >= 14));
            if (n < full.size()) {
                CHECK_FALSE((f.tcp && f.tcp_checksum_ok));
                if (f.ip) CHECK(f.ip->truncated);
            } else {
                REQUIRE(f.tcp);
                CHECK(f.tcp_checksum_ok);
            }
        }
    }

    // Every other builder's frame, cut anywhere, still parses safely.
    for (const char* hex : {ref_udp4, ref_udp6, ref_icmp4, ref_icmp6, ref_arp_request, ref_ns, ref_na}) {
        bytes full = from_hex(hex);
        for (size_t n = 0; n < full.size(); ++n) {
            parsed_frame f = parse_frame(bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
            CHECK_FALSE(describe(f).empty());
        }
    }
    CHECK(describe(parse_frame(bytes{})) == "runt frame len=0");
    CHECK(parse_frame(nullptr, 0).frame_length == 0);
}

TEST_CASE("garbage and mutated frames parse without crashing", "[packet]") {
    std::mt19937 rng(2024);
    const std::vector<bytes> seeds = {from_hex(ref_tcp4), from_hex(ref_tcp6),     from_hex(ref_udp4),
                                      from_hex(ref_udp6), from_hex(ref_icmp6),    from_hex(ref_ns),
                                      from_hex(ref_na),   from_hex(ref_arp_reply)};
    size_t described = 0;
    for (int i = 0; i < 20000; ++i) {
        bytes b = seeds[static_cast<size_t>(rng()) % seeds.size()];
        const unsigned edits = 1 + static_cast<unsigned>(rng() % 8);
        for (unsigned e = 0; e < edits; ++e) {
            switch (rng() % 4) {
                case 0: b[rng() % b.size()] = static_cast<uint8_t>(rng()); break;
                case 1: b.resize(rng() % (b.size() + 1)); break;
                case 2: b.push_back(static_cast<uint8_t>(rng())); break;
                default: {
                    // Header length / data offset / option length fields are the risky ones.
                    const size_t spots[] = {14,           16,          17,           18,           19,
                                            14 + 4,       14 + 5,      14 + 20 + 12, 14 + 40 + 12, 14 + 20 + 21,
                                            14 + 40 + 25, 14 + 40 + 4, 14 + 40 + 5};
                    size_t at = spots[rng() % (sizeof spots / sizeof spots[0])];
                    if (at < b.size()) b[at] = static_cast<uint8_t>(rng());
                }
            }
            if (b.empty()) b.push_back(0);
        }
        parsed_frame f = parse_frame(b);
        described += describe(f).empty() ? 0 : 1;
    }
    CHECK(described == 20000);

    for (int i = 0; i < 5000; ++i) {
        bytes b(rng() % 200);
        for (auto& c : b) c = static_cast<uint8_t>(rng());
        if (b.size() >= 14) {
            const uint16_t types[] = {ethertype_ipv4, ethertype_ipv6, ethertype_arp};
            uint16_t et = types[rng() % 3];
            b[12] = static_cast<uint8_t>(et >> 8);
            b[13] = static_cast<uint8_t>(et);
            if (b.size() > 14) b[14] = static_cast<uint8_t>(et == ethertype_ipv6 ? 0x60 : 0x45);
        }
        CHECK_FALSE(describe(parse_frame(b)).empty());
    }
}

TEST_CASE("ethernet padding is ignored by IP-length trimming", "[packet]") {
    bytes fr = udp_frame(mac2, mac1, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, text("x"));
    CHECK(fr.size() == eth_min_frame);
    fr.back() = 0xee;  // junk in the padding
    parsed_frame f = parse_frame(fr);
    REQUIRE(f.udp);
    CHECK(f.udp->payload == text("x"));
    CHECK(f.udp->checksum_ok);
    CHECK_FALSE(f.ip->truncated);
}

TEST_CASE("hex_dump and tcp_flags_string", "[packet]") {
    CHECK(hex_dump(text("AB\x01")) == "0000  41 42 01                                         |AB.|\n");
    CHECK(hex_dump(bytes(17, 0x30)).find("0010  30") != std::string::npos);
    CHECK(hex_dump({}).empty());
    CHECK(tcp_flags_string(tcp_syn | tcp_ack) == "S.");
    CHECK(tcp_flags_string(tcp_fin | tcp_ack | tcp_psh) == "FP.");
    CHECK(tcp_flags_string(tcp_rst) == "R");
    CHECK(tcp_flags_string(0) == "none");
}

// ------------------------------------------------------------------ scripted peer

namespace {

struct wire {
    std::vector<bytes> sent;  // what the peer injected, in order
    scripted_peer::inject_fn sink() {
        return [this](const bytes& b) { sent.push_back(b); };
    }
    parsed_frame last() const { return parse_frame(sent.back()); }
};

}  // namespace

TEST_CASE("scripted_peer wraps segments and answers address resolution", "[packet]") {
    SECTION("IPv4") {
        wire w;
        scripted_peer peer({mac1, ip("10.0.0.1")}, {mac2, ip("10.0.0.2")}, w.sink());
        peer.send_udp(7, 9, text("u"));
        REQUIRE(w.sent.size() == 1);
        parsed_frame u = w.last();
        CHECK(u.eth_src == mac1);
        CHECK(u.eth_dst == mac2);
        REQUIRE(u.udp);
        CHECK(u.ip->src == ip("10.0.0.1"));
        CHECK(u.ip->dst == ip("10.0.0.2"));

        // The stack asks for us: answered. Asks for someone else: ignored.
        CHECK(peer.answer_resolution(parse_frame(arp_request(mac2, ip("10.0.0.2"), ip("10.0.0.1")))));
        REQUIRE(w.sent.size() == 2);
        parsed_frame r = w.last();
        REQUIRE(r.arp);
        CHECK(r.arp->op == arp_op_reply);
        CHECK(r.arp->sender_mac == mac1);
        CHECK(r.arp->sender_ip == ip("10.0.0.1"));
        CHECK(r.arp->target_ip == ip("10.0.0.2"));
        CHECK(r.eth_dst == mac2);
        CHECK_FALSE(peer.answer_resolution(parse_frame(arp_request(mac2, ip("10.0.0.2"), ip("10.0.0.9")))));
        CHECK(w.sent.size() == 2);

        CHECK(peer.auto_respond(
            parse_frame(icmp_echo_request(mac1, mac2, ip("10.0.0.2"), ip("10.0.0.1"), 5, 6, text("hi")))));
        parsed_frame e = w.last();
        REQUIRE(e.icmp);
        CHECK(e.icmp->is_echo_reply());
        CHECK(e.icmp->id == 5);
        CHECK(e.icmp->seq == 6);
        CHECK(e.icmp->data == text("hi"));
        CHECK(e.ip->dst == ip("10.0.0.2"));

        peer.announce();
        REQUIRE(w.last().arp);
        CHECK(w.last().arp->op == arp_op_reply);
        peer.send_resolution_request();
        REQUIRE(w.last().arp);
        CHECK(w.last().arp->op == arp_op_request);
        CHECK(w.last().arp->target_ip == ip("10.0.0.2"));
        CHECK(peer.frames_sent() == w.sent.size());
    }
    SECTION("IPv6") {
        wire w;
        scripted_peer peer({mac1, ip("fe80::1")}, {mac2, ip("fe80::2")}, w.sink());
        CHECK(peer.answer_resolution(parse_frame(ndp_neighbor_solicitation(mac2, ip("fe80::2"), ip("fe80::1")))));
        parsed_frame na = w.last();
        REQUIRE(na.icmp);
        CHECK(na.icmp->type == icmpv6_neighbor_advertisement_type);
        CHECK((na.icmp->nd_flags & nd_flag_solicited) != 0);
        CHECK(*na.icmp->nd_target == ip("fe80::1"));
        CHECK(*na.icmp->nd_target_lladdr == mac1);
        CHECK(na.ip->dst == ip("fe80::2"));
        CHECK(na.eth_dst == mac2);
        // DAD probes are not answered.
        CHECK_FALSE(peer.answer_resolution(parse_frame(ndp_neighbor_solicitation(mac2, ip("::"), ip("fe80::1")))));
        CHECK(w.sent.size() == 1);

        peer.send_resolution_request();
        REQUIRE(w.last().icmp);
        CHECK(w.last().icmp->type == icmpv6_neighbor_solicitation_type);
        CHECK(*w.last().icmp->nd_target == ip("fe80::2"));
    }
    SECTION("misuse") {
        CHECK_THROWS_AS(scripted_peer({mac1, ip("10.0.0.1")}, {mac2, ip("fe80::2")}, [](const bytes&) {}),
                        std::runtime_error);
        CHECK_THROWS_AS(scripted_peer({mac1, ip("10.0.0.1")}, {mac2, ip("10.0.0.2")}, nullptr), std::runtime_error);
    }
}

TEST_CASE("tcp_script tracks sequence numbers like a script", "[packet]") {
    wire w;
    const ip_addr me = ip("10.0.0.1");
    const ip_addr stack = ip("10.0.0.2");
    scripted_peer peer({mac1, me}, {mac2, stack}, w.sink());
    tcp_script c(peer, 40000, 80, 1000);
    CHECK(c.snd_nxt() == 1000);

    c.send_syn();
    parsed_frame syn = w.last();
    REQUIRE(syn.tcp);
    CHECK(syn.tcp_checksum_ok);
    CHECK(syn.tcp->flags == tcp_syn);
    CHECK(syn.tcp->seq == 1000);
    CHECK(syn.tcp->sport == 40000);
    CHECK(syn.tcp->dport == 80);
    CHECK(syn.tcp->mss() == uint16_t{1460});
    CHECK(c.snd_nxt() == 1001);  // SYN takes one
    c.send_syn();                // a retransmission is the same segment
    CHECK(w.last().tcp->seq == 1000);
    CHECK(c.snd_nxt() == 1001);

    // The stack's SYN-ACK.
    CHECK(c.accept(parse_frame(from_stack(stack, me, 80, 40000, 5000, 1001, tcp_syn | tcp_ack))));
    CHECK(c.stack_isn() == uint32_t{5000});
    CHECK(c.rcv_nxt() == 5001);
    CHECK(c.snd_una() == uint32_t{1001});
    CHECK(c.stack_window() == uint16_t{8192});

    c.send_ack();
    CHECK(w.last().tcp->flags == tcp_ack);
    CHECK(w.last().tcp->seq == 1001);
    CHECK(w.last().tcp->ack == 5001);

    c.send_data(text("hello"));
    parsed_frame d = w.last();
    CHECK(d.tcp->flags == (tcp_ack | tcp_psh));
    CHECK(d.tcp->seq == 1001);
    CHECK(d.tcp->payload == text("hello"));
    CHECK(c.snd_nxt() == 1006);  // data takes its length
    c.send_text("!", 0);
    CHECK(w.last().tcp->flags == tcp_ack);
    CHECK(c.snd_nxt() == 1007);

    // Stack data: in order, retransmitted, overlapping, beyond a gap.
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5001, 1007, tcp_ack | tcp_psh, text("abc"))));
    CHECK(c.rcv_nxt() == 5004);
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5001, 1007, tcp_ack | tcp_psh, text("abc"))));
    CHECK(c.rcv_nxt() == 5004);
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5002, 1007, tcp_ack, text("bcde"))));
    CHECK(c.rcv_nxt() == 5006);
    CHECK(c.received_string() == "abcde");
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5010, 1007, tcp_ack, text("zz"))));
    CHECK(c.rcv_nxt() == 5006);

    // Not this connection: nothing changes.
    CHECK_FALSE(c.accept(from_stack(stack, me, 81, 40000, 5006, 1007, tcp_ack, text("q"))));
    CHECK_FALSE(c.accept(from_stack(stack, me, 80, 40001, 5006, 1007, tcp_ack, text("q"))));
    CHECK_FALSE(c.accept(from_stack(ip("10.0.0.3"), me, 80, 40000, 5006, 1007, tcp_ack, text("q"))));
    CHECK_FALSE(c.on_segment(*parse_frame(from_stack(stack, me, 80, 40000, 5006, 1007, tcp_ack, text("q"))).tcp, me,
                             stack));  // reversed direction
    CHECK_FALSE(c.accept(parse_frame(udp_frame(mac1, mac2, stack, me, 80, 40000, text("q")))));
    // A corrupted segment is dropped, as a receiver would.
    bytes corrupt = from_stack(stack, me, 80, 40000, 5006, 1007, tcp_ack, text("q"));
    corrupt[14 + 20 + 20] ^= 1;  // the payload byte (the frame is padded)
    CHECK_FALSE(c.accept(corrupt));
    CHECK(c.rcv_nxt() == 5006);

    // FIN from the stack takes one; a retransmitted FIN does not.
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5006, 1007, tcp_fin | tcp_ack)));
    CHECK(c.rcv_nxt() == 5007);
    CHECK(c.fin_received());
    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5006, 1007, tcp_fin | tcp_ack)));
    CHECK(c.rcv_nxt() == 5007);

    c.send_fin();
    CHECK(w.last().tcp->flags == (tcp_fin | tcp_ack));
    CHECK(w.last().tcp->seq == 1007);
    CHECK(w.last().tcp->ack == 5007);
    CHECK(c.snd_nxt() == 1008);  // FIN takes one

    c.send_rst();
    CHECK(w.last().tcp->flags == tcp_rst);
    CHECK(w.last().tcp->seq == 1008);
    c.send_rst_ack();
    CHECK(w.last().tcp->flags == (tcp_rst | tcp_ack));
    CHECK(w.last().tcp->ack == 5007);

    c.window = 100;
    c.send_raw(42, 43, tcp_urg | tcp_ack, text("r"));
    CHECK(w.last().tcp->seq == 42);
    CHECK(w.last().tcp->ack == 43);
    CHECK(w.last().tcp->window == 100);
    CHECK(c.snd_nxt() == 1008);  // raw sends do not move the script

    CHECK(c.accept(from_stack(stack, me, 80, 40000, 5007, 1008, tcp_rst)));
    CHECK(c.rst_received());
}

TEST_CASE("tcp_script handles an active open by the stack and wraparound", "[packet]") {
    wire w;
    const ip_addr me = ip("2001:db8::1");
    const ip_addr stack = ip("2001:db8::2");
    scripted_peer peer({mac1, me}, {mac2, stack}, w.sink());
    tcp_script c(peer, 7, 50000, 0xfffffffeu);

    // The stack connects to us, its ISN near the top of sequence space.
    CHECK(c.accept(from_stack(stack, me, 50000, 7, 0xffffffffu, 0, tcp_syn)));
    CHECK(c.rcv_nxt() == 0);
    CHECK(c.stack_isn() == uint32_t{0xffffffffu});

    c.send_syn_ack({opt_mss(1000), opt_wscale(2)});
    parsed_frame sa = w.last();
    REQUIRE(sa.tcp);
    CHECK(sa.tcp_checksum_ok);
    CHECK(sa.tcp->flags == (tcp_syn | tcp_ack));
    CHECK(sa.tcp->seq == 0xfffffffeu);
    CHECK(sa.tcp->ack == 0);
    CHECK(sa.tcp->mss() == uint16_t{1000});
    CHECK(sa.tcp->wscale() == uint8_t{2});
    CHECK(c.snd_nxt() == 0xffffffffu);

    c.send_data(text("xyz"));
    CHECK(w.last().tcp->seq == 0xffffffffu);
    CHECK(c.snd_nxt() == 2);

    CHECK(c.accept(from_stack(stack, me, 50000, 7, 0, 2, tcp_ack | tcp_psh, text("data"))));
    CHECK(c.rcv_nxt() == 4);
    CHECK(c.snd_una() == uint32_t{2});
    CHECK(c.received_string() == "data");

    // A retransmitted SYN does not rewind anything.
    CHECK(c.accept(from_stack(stack, me, 50000, 7, 0xffffffffu, 0, tcp_syn)));
    CHECK(c.rcv_nxt() == 4);
    CHECK(c.received_string() == "data");

    // ... but a SYN with a new ISN is a new connection.
    CHECK(c.accept(from_stack(stack, me, 50000, 7, 777, 0, tcp_syn)));
    CHECK(c.rcv_nxt() == 778);
    CHECK(c.received().empty());
}

TEST_CASE("parse_all, tcp_segments, udp_datagrams and describe_all", "[packet]") {
    const ip_addr a = ip("10.0.0.1");
    const ip_addr b = ip("10.0.0.2");
    std::vector<bytes> frames = {
        from_stack(b, a, 80, 4000, 1, 2, tcp_syn | tcp_ack), arp_request(mac2, b, a),
        from_stack(b, a, 81, 4001, 1, 2, tcp_ack),           udp_frame(mac1, mac2, b, a, 53, 5000, text("dns")),
        from_stack(b, a, 80, 4000, 2, 2, tcp_fin | tcp_ack),
    };
    CHECK(parse_all(frames).size() == 5);
    CHECK(tcp_segments(frames).size() == 3);
    auto on80 = tcp_segments(frames, 80);
    REQUIRE(on80.size() == 2);
    CHECK(on80[0].has(tcp_syn));
    CHECK(on80[1].has(tcp_fin));
    CHECK(tcp_segments(frames, 4001).size() == 1);
    CHECK(tcp_segments(frames, 9).empty());
    REQUIRE(udp_datagrams(frames, 53).size() == 1);
    CHECK(udp_datagrams(frames, 53)[0].payload == text("dns"));
    CHECK(udp_datagrams(frames, 54).empty());
    std::string all = describe_all(frames);
    CHECK(std::count(all.begin(), all.end(), '\n') == 5);
    CHECK(all.find("ARP who-has 10.0.0.1 tell 10.0.0.2\n") != std::string::npos);
    CHECK(all.find("[F.] seq=2 ack=2") != std::string::npos);
}
