#pragma once
// Wire-format library for unit tests: builds complete Ethernet II frames
// (ARP, IPv4/IPv6, ICMP/ICMPv6 echo and neighbour discovery, TCP, UDP) that a
// scripted peer sends to the stack under test, and parses the frames the stack
// emits into plain structs, so that a test can state exactly what crossed the
// wire. It deliberately shares no code with lwIP (checksums, option encoding,
// address text are all computed here) so that it is an independent check of
// the stack rather than a mirror of it. Parsing never throws and never reads
// out of bounds: anything that is not recognised, or is cut short, simply
// leaves the corresponding std::optional empty.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lwsp::test {

using bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------- addresses

struct mac_addr {
    std::array<uint8_t, 6> b{};

    static mac_addr broadcast();
    // "02:00:00:00:00:01"; throws std::runtime_error on malformed text.
    static mac_addr parse(const std::string& text);
    std::string to_string() const;
    bool is_multicast() const { return (b[0] & 0x01) != 0; }
};
bool operator==(const mac_addr& a, const mac_addr& c);
bool operator!=(const mac_addr& a, const mac_addr& c);

// An IPv4 or IPv6 address. Default-constructed it is 0.0.0.0. Text handling
// is done here rather than with inet_pton/inet_ntop so that the tests build
// the same way on every platform the stack targets.
class ip_addr {
public:
    ip_addr() = default;
    static ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
    static ip_addr v6(const std::array<uint8_t, 16>& raw);
    // n must be 4 or 16; throws std::runtime_error otherwise.
    static ip_addr from_bytes(const uint8_t* p, size_t n);
    // Dotted quad or RFC 4291 text (with "::" and an embedded dotted quad
    // tail); throws std::runtime_error on malformed text.
    static ip_addr parse(const std::string& text);
    static std::optional<ip_addr> try_parse(const std::string& text);

    bool is_v6() const { return len_ == 16; }
    bool is_v4() const { return len_ == 4; }
    bool is_unspecified() const;
    const uint8_t* data() const { return raw_.data(); }
    size_t size() const { return len_; }
    bytes raw() const { return bytes(raw_.begin(), raw_.begin() + len_); }
    // Dotted quad, or RFC 5952 canonical IPv6 text.
    std::string to_string() const;

    // ff02::1:ffXX:XXXX for an IPv6 address (throws for IPv4).
    ip_addr solicited_node() const;

    friend bool operator==(const ip_addr& a, const ip_addr& c);
    friend bool operator!=(const ip_addr& a, const ip_addr& c) { return !(a == c); }

private:
    std::array<uint8_t, 16> raw_{};
    uint8_t len_ = 4;
};

// 33:33:xx:xx:xx:xx for IPv6 multicast, 01:00:5e:... for IPv4 multicast.
mac_addr multicast_mac(const ip_addr& group);

// ---------------------------------------------------------------- constants

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_arp = 0x0806;
constexpr uint16_t ethertype_ipv6 = 0x86dd;

constexpr uint8_t ip_proto_hopopts = 0;
constexpr uint8_t ip_proto_icmp = 1;
constexpr uint8_t ip_proto_tcp = 6;
constexpr uint8_t ip_proto_udp = 17;
constexpr uint8_t ip_proto_routing = 43;
constexpr uint8_t ip_proto_fragment = 44;
constexpr uint8_t ip_proto_icmpv6 = 58;
constexpr uint8_t ip_proto_none = 59;
constexpr uint8_t ip_proto_dstopts = 60;

constexpr uint16_t arp_op_request = 1;
constexpr uint16_t arp_op_reply = 2;

constexpr uint8_t icmp_echo_reply_type = 0;
constexpr uint8_t icmp_dest_unreachable_type = 3;
constexpr uint8_t icmp_echo_request_type = 8;
constexpr uint8_t icmp_time_exceeded_type = 11;
constexpr uint8_t icmpv6_dest_unreachable_type = 1;
constexpr uint8_t icmpv6_packet_too_big_type = 2;
constexpr uint8_t icmpv6_time_exceeded_type = 3;
constexpr uint8_t icmpv6_echo_request_type = 128;
constexpr uint8_t icmpv6_echo_reply_type = 129;
constexpr uint8_t icmpv6_router_solicitation_type = 133;
constexpr uint8_t icmpv6_router_advertisement_type = 134;
constexpr uint8_t icmpv6_neighbor_solicitation_type = 135;
constexpr uint8_t icmpv6_neighbor_advertisement_type = 136;

// Neighbour advertisement flag bits as they sit in the first byte after the
// checksum.
constexpr uint8_t nd_flag_router = 0x80;
constexpr uint8_t nd_flag_solicited = 0x40;
constexpr uint8_t nd_flag_override = 0x20;

constexpr uint8_t tcp_fin = 0x01;
constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_rst = 0x04;
constexpr uint8_t tcp_psh = 0x08;
constexpr uint8_t tcp_ack = 0x10;
constexpr uint8_t tcp_urg = 0x20;
constexpr uint8_t tcp_ece = 0x40;
constexpr uint8_t tcp_cwr = 0x80;

constexpr uint8_t tcp_opt_eol = 0;
constexpr uint8_t tcp_opt_nop = 1;
constexpr uint8_t tcp_opt_mss = 2;
constexpr uint8_t tcp_opt_wscale = 3;
constexpr uint8_t tcp_opt_sack_permitted = 4;
constexpr uint8_t tcp_opt_sack = 5;
constexpr uint8_t tcp_opt_timestamps = 8;

// Ethernet II frames shorter than this (without FCS) are padded on the wire.
constexpr size_t eth_min_frame = 60;

// ---------------------------------------------------------------- checksums

// RFC 1071 Internet checksum of p[0..n), continuing from initial_sum (an
// unfolded sum of 16-bit words, e.g. from a pseudo_header_sum). Returns the
// value to store in the checksum field; over data that already contains a
// correct checksum it returns 0.
uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial_sum = 0);
uint16_t inet_checksum(const bytes& data, uint32_t initial_sum = 0);

// Unfolded sum of the IPv4 (RFC 793/768) or IPv6 (RFC 8200 8.1) pseudo header
// for an upper-layer message of `length` bytes. src and dst must be the same
// family; throws std::runtime_error otherwise.
uint32_t pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint8_t protocol, uint32_t length);
uint32_t tcp_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length);
uint32_t udp_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length);
// IPv6 only (ICMPv4 has no pseudo header).
uint32_t icmpv6_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length);

// ---------------------------------------------------------------- TCP

struct tcp_option {
    uint8_t kind = tcp_opt_nop;
    // The bytes after kind and length (always empty for NOP and EOL).
    bytes data;
};
bool operator==(const tcp_option& a, const tcp_option& c);
bool operator!=(const tcp_option& a, const tcp_option& c);

tcp_option opt_mss(uint16_t mss);
tcp_option opt_wscale(uint8_t shift);
tcp_option opt_sack_permitted();
tcp_option opt_timestamps(uint32_t value, uint32_t echo_reply);
tcp_option opt_nop();
tcp_option opt_eol();

struct tcp_segment {
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 65535;
    uint16_t urgent_pointer = 0;
    // When building, emitted in order and padded to a 4-byte multiple with EOL.
    // When parsing, NOP and EOL are dropped (they are layout, not content) and
    // parsing stops at EOL or at the first option whose length is impossible.
    std::vector<tcp_option> options;
    bytes payload;

    bool has(uint8_t flag_bits) const { return (flags & flag_bits) == flag_bits; }
    // Sequence space consumed: payload plus one each for SYN and FIN.
    uint32_t seq_len() const;
    const tcp_option* find_option(uint8_t kind) const;
    std::optional<uint16_t> mss() const;
    std::optional<uint8_t> wscale() const;
    bool sack_permitted() const;
    // {TSval, TSecr}
    std::optional<std::pair<uint32_t, uint32_t>> timestamps() const;
};

// "S.", "F.", "R", "P." ... in tcpdump's notation ("none" for no flags).
std::string tcp_flags_string(uint8_t flags);

// ---------------------------------------------------------------- builders

// Every builder returns a complete Ethernet II frame (no FCS). Frames are
// padded with zeros to eth_min_frame, as a real NIC would deliver them, which
// also checks that the stack trims by the IP length rather than the frame
// length.
bytes eth_frame(mac_addr dst, mac_addr src, uint16_t ethertype, const bytes& payload, bool pad_to_minimum = true);

// Network-layer packets without the Ethernet header, for tests that need
// unusual combinations. The IPv4 header has no options, DF clear, and the
// given ID; its checksum is filled in.
bytes ipv4_packet(const ip_addr& src, const ip_addr& dst, uint8_t protocol, const bytes& payload, uint8_t ttl = 64,
                  uint16_t id = 0);
bytes ipv6_packet(const ip_addr& src, const ip_addr& dst, uint8_t next_header, const bytes& payload,
                  uint8_t hop_limit = 64);
// Either of the above, by address family, wrapped in Ethernet.
bytes ip_frame(mac_addr dst, mac_addr src, const ip_addr& src_ip, const ip_addr& dst_ip, uint8_t protocol,
               const bytes& payload, uint8_t ttl = 64);

bytes arp_request(mac_addr src_mac, ip_addr src_ip, ip_addr target_ip);
bytes arp_reply(mac_addr src_mac, ip_addr src_ip, mac_addr dst_mac, ip_addr dst_ip);

// Any ICMP (IPv4) or ICMPv6 message by address family; `body` is everything
// after the 4-byte type/code/checksum header.
bytes icmp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint8_t type, uint8_t code,
                 const bytes& body, uint8_t ttl = 64);
bytes icmp_echo_request(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t id, uint16_t seq,
                        const bytes& data);
bytes icmp_echo_reply(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t id, uint16_t seq,
                      const bytes& data);

// Sent to target's solicited-node group. With an unspecified src_ip (DAD)
// the source link-layer option is omitted, as RFC 4861 requires.
bytes ndp_neighbor_solicitation(mac_addr src_mac, ip_addr src_ip, ip_addr target);
// Advertises src_ip at src_mac, override flag set.
bytes ndp_neighbor_advertisement(mac_addr src_mac, ip_addr src_ip, mac_addr dst_mac, ip_addr dst_ip, bool solicited);

// The TCP header and payload with the checksum filled in for src/dst.
bytes tcp_segment_bytes(const ip_addr& src_ip, const ip_addr& dst_ip, const tcp_segment& seg);
bytes tcp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, const tcp_segment& seg);
bytes udp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t sport, uint16_t dport,
                const bytes& payload);

// ---------------------------------------------------------------- parsing

struct arp_info {
    uint16_t op = 0;
    mac_addr sender_mac;
    ip_addr sender_ip;
    mac_addr target_mac;
    ip_addr target_ip;
};

struct ip_info {
    uint8_t version = 0;
    ip_addr src;
    ip_addr dst;
    // Upper-layer protocol, after any IPv6 extension headers were skipped.
    uint8_t protocol = 0;
    // IPv6 only: the next-header field of the fixed header (0 for hop-by-hop,
    // as MLD reports carry); equals `protocol` when there are no extensions.
    uint8_t next_header = 0;
    uint8_t ttl = 0;  // hop limit for IPv6
    // Bytes of the whole IP packet according to its header (IPv6: 40 +
    // payload length, hence wider than 16 bits).
    uint32_t total_length = 0;
    uint32_t header_length = 0;      // including any skipped IPv6 extension headers
    bool header_checksum_ok = true;  // always true for IPv6, which has none
    uint16_t id = 0;                 // IPv4 ID, or IPv6 fragment header ID (low 16 bits)
    bool dont_fragment = false;
    // Fragments are not reassembled; their upper-layer optionals stay empty.
    bool fragment = false;
    uint16_t fragment_offset = 0;  // in bytes
    bool more_fragments = false;
    // The frame ended before total_length; upper layers are then not parsed.
    bool truncated = false;
};

struct udp_info {
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint16_t length = 0;  // UDP header's length field
    bytes payload;
    bool checksum_present = true;  // IPv4 allows 0 = "not computed"
    bool checksum_ok = false;      // true for an absent IPv4 checksum
};

struct icmp_info {
    bool v6 = false;
    uint8_t type = 0;
    uint8_t code = 0;
    bool checksum_ok = false;
    // Echo request/reply identifier and sequence; for other types these are the
    // two 16-bit halves of the word after the checksum.
    uint16_t id = 0;
    uint16_t seq = 0;
    // Echo payload, or everything after the first 8 bytes for other types.
    bytes data;
    // ICMPv6 neighbour discovery.
    uint8_t nd_flags = 0;                      // NA: nd_flag_router / solicited / override
    std::optional<ip_addr> nd_target;          // NS, NA
    std::optional<mac_addr> nd_source_lladdr;  // option 1 (RS, RA, NS)
    std::optional<mac_addr> nd_target_lladdr;  // option 2 (NA)

    bool is_echo_request() const;
    bool is_echo_reply() const;
};

struct parsed_frame {
    bool valid_ethernet = false;  // at least 14 bytes
    mac_addr eth_dst;
    mac_addr eth_src;
    uint16_t ethertype = 0;
    size_t frame_length = 0;

    std::optional<arp_info> arp;
    std::optional<ip_info> ip;
    std::optional<tcp_segment> tcp;
    bool tcp_checksum_ok = false;
    std::optional<udp_info> udp;
    std::optional<icmp_info> icmp;
};

parsed_frame parse_frame(const bytes& frame);
parsed_frame parse_frame(const uint8_t* p, size_t n);

// One tcpdump-like line, e.g.
//   TCP 10.0.0.1:80 > 10.0.0.2:4000 [S.] seq=1 ack=2 win=65535 len=0 <mss 1460>
//   ARP reply 10.0.0.1 is-at 02:00:00:00:00:01
std::string describe(const parsed_frame& f);
std::string describe(const bytes& frame);

// Offset, hex and ASCII, 16 bytes a line.
std::string hex_dump(const bytes& data);

}  // namespace lwsp::test
