#include "packet.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace lwsp::test {

namespace {

// ------------------------------------------------------------ byte helpers

void put8(bytes& b, unsigned v) { b.push_back(static_cast<uint8_t>(v & 0xffu)); }

void put16(bytes& b, unsigned v) {
    put8(b, v >> 8);
    put8(b, v);
}

void put32(bytes& b, uint32_t v) {
    put16(b, static_cast<unsigned>(v >> 16));
    put16(b, static_cast<unsigned>(v & 0xffffu));
}

void put_bytes(bytes& b, const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); }
void put_bytes(bytes& b, const bytes& src) { b.insert(b.end(), src.begin(), src.end()); }
void put_mac(bytes& b, const mac_addr& m) { put_bytes(b, m.b.data(), m.b.size()); }
void put_ip(bytes& b, const ip_addr& a) { put_bytes(b, a.data(), a.size()); }

void set16(bytes& b, size_t off, uint16_t v) {
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v & 0xffu);
}

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t rd32(const uint8_t* p) { return (static_cast<uint32_t>(rd16(p)) << 16) | static_cast<uint32_t>(rd16(p + 2)); }

mac_addr rd_mac(const uint8_t* p) {
    mac_addr m;
    std::copy(p, p + 6, m.b.begin());
    return m;
}

std::string hex4(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%x", v & 0xffffu);
    return buf;
}

void require_same_family(const ip_addr& a, const ip_addr& c, const char* what) {
    if (a.is_v6() != c.is_v6())
        throw std::runtime_error(std::string(what) + ": source and destination address families differ (" +
                                 a.to_string() + ", " + c.to_string() + ")");
}

// ------------------------------------------------------------ address text

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        if (pos == std::string::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

// Octal-looking parts ("010") are rejected rather than guessed at.
std::optional<std::array<uint8_t, 4>> parse_dotted_quad(const std::string& s) {
    auto parts = split(s, '.');
    if (parts.size() != 4) return std::nullopt;
    std::array<uint8_t, 4> out{};
    for (size_t i = 0; i < 4; ++i) {
        const std::string& p = parts[i];
        if (p.empty() || p.size() > 3) return std::nullopt;
        if (p.size() > 1 && p[0] == '0') return std::nullopt;
        unsigned v = 0;
        for (char c : p) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v > 255) return std::nullopt;
        out[i] = static_cast<uint8_t>(v);
    }
    return out;
}

// Appends the 16-bit groups of one side of a "::" (or of the whole address);
// a dotted quad is allowed only as the very last group.
bool parse_v6_groups(const std::string& s, bool may_end_in_v4, std::vector<uint16_t>& out) {
    if (s.empty()) return true;
    auto parts = split(s, ':');
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        if (p.find('.') != std::string::npos) {
            if (!may_end_in_v4 || i + 1 != parts.size()) return false;
            auto q = parse_dotted_quad(p);
            if (!q) return false;
            out.push_back(static_cast<uint16_t>(((*q)[0] << 8) | (*q)[1]));
            out.push_back(static_cast<uint16_t>(((*q)[2] << 8) | (*q)[3]));
            continue;
        }
        if (p.empty() || p.size() > 4) return false;
        unsigned v = 0;
        for (char c : p) {
            int h = hex_value(c);
            if (h < 0) return false;
            v = (v << 4) | static_cast<unsigned>(h);
        }
        out.push_back(static_cast<uint16_t>(v));
    }
    return true;
}

std::optional<std::array<uint8_t, 16>> parse_v6(const std::string& s) {
    std::vector<uint16_t> head, tail;
    size_t dc = s.find("::");
    if (dc == std::string::npos) {
        if (!parse_v6_groups(s, true, head) || head.size() != 8) return std::nullopt;
    } else {
        if (s.find("::", dc + 1) != std::string::npos) return std::nullopt;
        if (!parse_v6_groups(s.substr(0, dc), false, head)) return std::nullopt;
        if (!parse_v6_groups(s.substr(dc + 2), true, tail)) return std::nullopt;
        if (head.size() + tail.size() > 7) return std::nullopt;
        head.resize(8 - tail.size(), 0);
        head.insert(head.end(), tail.begin(), tail.end());
    }
    std::array<uint8_t, 16> out{};
    for (size_t i = 0; i < 8; ++i) {
        out[2 * i] = static_cast<uint8_t>(head[i] >> 8);
        out[2 * i + 1] = static_cast<uint8_t>(head[i] & 0xffu);
    }
    return out;
}

// ------------------------------------------------------------ describe helpers

std::string endpoint_text(const ip_addr& a, uint16_t port) {
    if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(port);
    return a.to_string() + ":" + std::to_string(port);
}

std::string tcp_options_text(const std::vector<tcp_option>& opts) {
    if (opts.empty()) return "";
    std::string s = " <";
    bool first = true;
    for (const auto& o : opts) {
        if (!first) s += ",";
        first = false;
        const bytes& d = o.data;
        switch (o.kind) {
            case tcp_opt_mss: s += d.size() == 2 ? "mss " + std::to_string(rd16(d.data())) : "mss ?"; break;
            case tcp_opt_wscale: s += d.size() == 1 ? "wscale " + std::to_string(d[0]) : "wscale ?"; break;
            case tcp_opt_sack_permitted: s += "sackOK"; break;
            case tcp_opt_sack: {
                s += "sack";
                for (size_t i = 0; i + 8 <= d.size(); i += 8)
                    s += " " + std::to_string(rd32(&d[i])) + ":" + std::to_string(rd32(&d[i + 4]));
                break;
            }
            case tcp_opt_timestamps:
                s += d.size() == 8
                         ? "TS val " + std::to_string(rd32(d.data())) + " ecr " + std::to_string(rd32(d.data() + 4))
                         : "TS ?";
                break;
            case tcp_opt_nop: s += "nop"; break;
            case tcp_opt_eol: s += "eol"; break;
            default: s += "opt-" + std::to_string(o.kind) + " len " + std::to_string(d.size() + 2); break;
        }
    }
    return s + ">";
}

const char* icmpv4_type_name(uint8_t type) {
    switch (type) {
        case icmp_echo_reply_type: return "echo reply";
        case icmp_dest_unreachable_type: return "unreachable";
        case icmp_echo_request_type: return "echo request";
        case icmp_time_exceeded_type: return "time exceeded";
        default: return nullptr;
    }
}

const char* icmpv6_type_name(uint8_t type) {
    switch (type) {
        case icmpv6_dest_unreachable_type: return "unreachable";
        case icmpv6_packet_too_big_type: return "packet too big";
        case icmpv6_time_exceeded_type: return "time exceeded";
        case icmpv6_echo_request_type: return "echo request";
        case icmpv6_echo_reply_type: return "echo reply";
        case 130: return "multicast listener query";
        case 131: return "multicast listener report";
        case 132: return "multicast listener done";
        case icmpv6_router_solicitation_type: return "router solicitation";
        case icmpv6_router_advertisement_type: return "router advertisement";
        case icmpv6_neighbor_solicitation_type: return "neighbor solicitation";
        case icmpv6_neighbor_advertisement_type: return "neighbor advertisement";
        case 137: return "redirect";
        case 143: return "multicast listener report v2";
        default: return nullptr;
    }
}

// ------------------------------------------------------------ parse helpers

void parse_tcp(const uint8_t* q, size_t m, const ip_info& ip, parsed_frame& f) {
    if (m < 20) return;
    size_t doff = static_cast<size_t>(q[12] >> 4) * 4;
    if (doff < 20 || doff > m) return;
    tcp_segment seg;
    seg.sport = rd16(q);
    seg.dport = rd16(q + 2);
    seg.seq = rd32(q + 4);
    seg.ack = rd32(q + 8);
    seg.flags = q[13];
    seg.window = rd16(q + 14);
    seg.urgent_pointer = rd16(q + 18);
    size_t i = 20;
    while (i < doff) {
        uint8_t kind = q[i];
        if (kind == tcp_opt_eol) break;
        if (kind == tcp_opt_nop) {
            ++i;
            continue;
        }
        if (i + 1 >= doff) break;
        size_t len = q[i + 1];
        if (len < 2 || i + len > doff) break;
        seg.options.push_back(tcp_option{kind, bytes(q + i + 2, q + i + len)});
        i += len;
    }
    seg.payload.assign(q + doff, q + m);
    uint32_t ph = tcp_pseudo_header_sum(ip.src, ip.dst, static_cast<uint32_t>(m));
    f.tcp_checksum_ok = inet_checksum(q, m, ph) == 0;
    f.tcp = std::move(seg);
}

void parse_udp(const uint8_t* q, size_t m, const ip_info& ip, parsed_frame& f) {
    if (m < 8) return;
    uint16_t len = rd16(q + 4);
    if (len < 8 || len > m) return;
    udp_info u;
    u.sport = rd16(q);
    u.dport = rd16(q + 2);
    u.length = len;
    u.payload.assign(q + 8, q + len);
    if (rd16(q + 6) == 0 && !ip.src.is_v6()) {
        u.checksum_present = false;
        u.checksum_ok = true;
    } else {
        uint32_t ph = udp_pseudo_header_sum(ip.src, ip.dst, len);
        u.checksum_ok = inet_checksum(q, len, ph) == 0;
    }
    f.udp = std::move(u);
}

void parse_nd_options(const uint8_t* q, size_t m, size_t i, icmp_info& ic) {
    while (i + 2 <= m) {
        size_t len = static_cast<size_t>(q[i + 1]) * 8;
        if (len == 0 || i + len > m) break;
        if (q[i] == 1) ic.nd_source_lladdr = rd_mac(q + i + 2);
        if (q[i] == 2) ic.nd_target_lladdr = rd_mac(q + i + 2);
        i += len;
    }
}

void parse_icmp(const uint8_t* q, size_t m, const ip_info& ip, bool v6, parsed_frame& f) {
    if (m < 4) return;
    icmp_info ic;
    ic.v6 = v6;
    ic.type = q[0];
    ic.code = q[1];
    uint32_t ph = v6 ? icmpv6_pseudo_header_sum(ip.src, ip.dst, static_cast<uint32_t>(m)) : 0;
    ic.checksum_ok = inet_checksum(q, m, ph) == 0;
    if (m >= 8) {
        ic.id = rd16(q + 4);
        ic.seq = rd16(q + 6);
        ic.data.assign(q + 8, q + m);
    }
    if (v6) {
        switch (ic.type) {
            case icmpv6_router_solicitation_type: parse_nd_options(q, m, 8, ic); break;
            case icmpv6_router_advertisement_type: parse_nd_options(q, m, 16, ic); break;
            case icmpv6_neighbor_solicitation_type:
            case icmpv6_neighbor_advertisement_type:
                if (m >= 24) {
                    if (ic.type == icmpv6_neighbor_advertisement_type) ic.nd_flags = q[4];
                    ic.nd_target = ip_addr::from_bytes(q + 8, 16);
                    parse_nd_options(q, m, 24, ic);
                }
                break;
            default: break;
        }
    }
    f.icmp = std::move(ic);
}

void parse_upper(const uint8_t* q, size_t m, const ip_info& ip, parsed_frame& f) {
    switch (ip.protocol) {
        case ip_proto_tcp: parse_tcp(q, m, ip, f); break;
        case ip_proto_udp: parse_udp(q, m, ip, f); break;
        case ip_proto_icmp:
            if (ip.version == 4) parse_icmp(q, m, ip, false, f);
            break;
        case ip_proto_icmpv6:
            if (ip.version == 6) parse_icmp(q, m, ip, true, f);
            break;
        default: break;
    }
}

void parse_arp(const uint8_t* q, size_t m, parsed_frame& f) {
    if (m < 28) return;
    // Only Ethernet/IPv4 ARP is meaningful to this stack.
    if (rd16(q) != 1 || rd16(q + 2) != ethertype_ipv4 || q[4] != 6 || q[5] != 4) return;
    arp_info a;
    a.op = rd16(q + 6);
    a.sender_mac = rd_mac(q + 8);
    a.sender_ip = ip_addr::from_bytes(q + 14, 4);
    a.target_mac = rd_mac(q + 18);
    a.target_ip = ip_addr::from_bytes(q + 24, 4);
    f.arp = a;
}

void parse_ipv4(const uint8_t* q, size_t m, parsed_frame& f) {
    if (m < 20 || (q[0] >> 4) != 4) return;
    size_t hl = static_cast<size_t>(q[0] & 0x0f) * 4;
    if (hl < 20 || hl > m) return;
    ip_info ip;
    ip.version = 4;
    ip.header_length = static_cast<uint32_t>(hl);
    ip.total_length = rd16(q + 2);
    ip.id = rd16(q + 4);
    uint16_t frag = rd16(q + 6);
    ip.dont_fragment = (frag & 0x4000) != 0;
    ip.more_fragments = (frag & 0x2000) != 0;
    ip.fragment_offset = static_cast<uint16_t>((frag & 0x1fff) * 8);
    ip.fragment = ip.more_fragments || ip.fragment_offset != 0;
    ip.ttl = q[8];
    ip.protocol = q[9];
    ip.next_header = q[9];
    ip.header_checksum_ok = inet_checksum(q, hl) == 0;
    ip.src = ip_addr::from_bytes(q + 12, 4);
    ip.dst = ip_addr::from_bytes(q + 16, 4);
    bool upper = true;
    if (ip.total_length < hl) {
        upper = false;  // nonsensical header; nothing trustworthy beyond it
    } else if (ip.total_length > m) {
        ip.truncated = true;
        upper = false;
    }
    if (ip.fragment) upper = false;
    f.ip = ip;
    if (upper) parse_upper(q + hl, ip.total_length - hl, *f.ip, f);
}

void parse_ipv6(const uint8_t* q, size_t m, parsed_frame& f) {
    if (m < 40 || (q[0] >> 4) != 6) return;
    ip_info ip;
    ip.version = 6;
    ip.total_length = 40u + rd16(q + 4);
    ip.ttl = q[7];
    ip.next_header = q[6];
    ip.src = ip_addr::from_bytes(q + 8, 16);
    ip.dst = ip_addr::from_bytes(q + 24, 16);
    bool upper = true;
    if (ip.total_length > m) {
        ip.truncated = true;
        upper = false;
    }
    // Bound extension-header walking by what the header claims, or by what was
    // captured when the packet is truncated, so that garbage cannot run past.
    size_t end = std::min<size_t>(ip.total_length, m);
    uint8_t nh = ip.next_header;
    size_t off = 40;
    for (;;) {
        if (nh == ip_proto_hopopts || nh == ip_proto_routing || nh == ip_proto_dstopts) {
            if (off + 2 > end) {
                upper = false;
                break;
            }
            size_t len = (static_cast<size_t>(q[off + 1]) + 1) * 8;
            if (off + len > end) {
                upper = false;
                break;
            }
            nh = q[off];
            off += len;
        } else if (nh == ip_proto_fragment) {
            if (off + 8 > end) {
                upper = false;
                break;
            }
            uint16_t fo = rd16(q + off + 2);
            ip.fragment_offset = static_cast<uint16_t>(fo & 0xfff8);
            ip.more_fragments = (fo & 1) != 0;
            ip.id = static_cast<uint16_t>(rd32(q + off + 4) & 0xffffu);
            ip.fragment = ip.more_fragments || ip.fragment_offset != 0;
            nh = q[off];
            off += 8;
            if (ip.fragment) {
                upper = false;
                break;
            }
        } else {
            break;
        }
    }
    ip.protocol = nh;
    ip.header_length = static_cast<uint32_t>(off);
    f.ip = ip;
    if (upper) parse_upper(q + off, ip.total_length - off, *f.ip, f);
}

}  // namespace

// ---------------------------------------------------------------- addresses

mac_addr mac_addr::broadcast() { return mac_addr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }

mac_addr mac_addr::parse(const std::string& text) {
    auto parts = split(text, ':');
    if (parts.size() != 6) throw std::runtime_error("mac_addr::parse: malformed '" + text + "'");
    mac_addr m;
    for (size_t i = 0; i < 6; ++i) {
        const std::string& p = parts[i];
        if (p.empty() || p.size() > 2) throw std::runtime_error("mac_addr::parse: malformed '" + text + "'");
        unsigned v = 0;
        for (char c : p) {
            int h = hex_value(c);
            if (h < 0) throw std::runtime_error("mac_addr::parse: malformed '" + text + "'");
            v = (v << 4) | static_cast<unsigned>(h);
        }
        m.b[i] = static_cast<uint8_t>(v);
    }
    return m;
}

std::string mac_addr::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return buf;
}

bool operator==(const mac_addr& a, const mac_addr& c) { return a.b == c.b; }
bool operator!=(const mac_addr& a, const mac_addr& c) { return !(a == c); }

ip_addr ip_addr::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    ip_addr r;
    r.len_ = 4;
    r.raw_[0] = a;
    r.raw_[1] = b;
    r.raw_[2] = c;
    r.raw_[3] = d;
    return r;
}

ip_addr ip_addr::v6(const std::array<uint8_t, 16>& raw) {
    ip_addr r;
    r.len_ = 16;
    r.raw_ = raw;
    return r;
}

ip_addr ip_addr::from_bytes(const uint8_t* p, size_t n) {
    if (n != 4 && n != 16)
        throw std::runtime_error("ip_addr::from_bytes: length must be 4 or 16, got " + std::to_string(n));
    ip_addr r;
    r.len_ = static_cast<uint8_t>(n);
    std::copy(p, p + n, r.raw_.begin());
    return r;
}

std::optional<ip_addr> ip_addr::try_parse(const std::string& text) {
    if (text.find(':') == std::string::npos) {
        auto q = parse_dotted_quad(text);
        if (!q) return std::nullopt;
        return v4((*q)[0], (*q)[1], (*q)[2], (*q)[3]);
    }
    auto r = parse_v6(text);
    if (!r) return std::nullopt;
    return v6(*r);
}

ip_addr ip_addr::parse(const std::string& text) {
    auto r = try_parse(text);
    if (!r) throw std::runtime_error("ip_addr::parse: malformed address '" + text + "'");
    return *r;
}

bool ip_addr::is_unspecified() const {
    return std::all_of(raw_.begin(), raw_.begin() + len_, [](uint8_t x) { return x == 0; });
}

std::string ip_addr::to_string() const {
    if (is_v4()) {
        return std::to_string(raw_[0]) + "." + std::to_string(raw_[1]) + "." + std::to_string(raw_[2]) + "." +
               std::to_string(raw_[3]);
    }
    uint16_t g[8];
    for (size_t i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((raw_[2 * i] << 8) | raw_[2 * i + 1]);

    // RFC 5952 4.2.3/5: IPv4-mapped addresses keep their dotted tail.
    bool mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
    if (mapped) {
        return "::ffff:" + std::to_string(raw_[12]) + "." + std::to_string(raw_[13]) + "." + std::to_string(raw_[14]) +
               "." + std::to_string(raw_[15]);
    }

    // RFC 5952 4.2: compress the longest run of two or more zero groups, the
    // first one on a tie.
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string s;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            s += "::";
            i += best_len - 1;
            continue;
        }
        if (!s.empty() && s.back() != ':') s += ":";
        s += hex4(g[i]);
    }
    return s;
}

ip_addr ip_addr::solicited_node() const {
    if (!is_v6()) throw std::runtime_error("ip_addr::solicited_node: not an IPv6 address");
    std::array<uint8_t, 16> r{};
    r[0] = 0xff;
    r[1] = 0x02;
    r[11] = 0x01;
    r[12] = 0xff;
    r[13] = raw_[13];
    r[14] = raw_[14];
    r[15] = raw_[15];
    return v6(r);
}

bool operator==(const ip_addr& a, const ip_addr& c) {
    return a.len_ == c.len_ && std::equal(a.raw_.begin(), a.raw_.begin() + a.len_, c.raw_.begin());
}

mac_addr multicast_mac(const ip_addr& group) {
    const uint8_t* p = group.data();
    if (group.is_v6()) return mac_addr{{0x33, 0x33, p[12], p[13], p[14], p[15]}};
    return mac_addr{{0x01, 0x00, 0x5e, static_cast<uint8_t>(p[1] & 0x7f), p[2], p[3]}};
}

// ---------------------------------------------------------------- checksums

uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial_sum) {
    // 64 bits so that no carry is lost before the final fold, whatever n is.
    uint64_t sum = initial_sum;
    size_t i = 0;
    for (; i + 1 < n; i += 2) sum += static_cast<uint64_t>((p[i] << 8) | p[i + 1]);
    if (i < n) sum += static_cast<uint64_t>(p[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffffu);
}

uint16_t inet_checksum(const bytes& data, uint32_t initial_sum) {
    return inet_checksum(data.data(), data.size(), initial_sum);
}

uint32_t pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint8_t protocol, uint32_t length) {
    require_same_family(src, dst, "pseudo_header_sum");
    uint32_t sum = 0;
    for (size_t i = 0; i < src.size(); i += 2) {
        sum += static_cast<uint32_t>((src.data()[i] << 8) | src.data()[i + 1]);
        sum += static_cast<uint32_t>((dst.data()[i] << 8) | dst.data()[i + 1]);
    }
    // IPv4 carries a 16-bit length; IPv6 a 32-bit one, whose high half is 0
    // for anything but jumbograms, so both reduce to the same two words here.
    sum += length >> 16;
    sum += length & 0xffffu;
    sum += protocol;
    return sum;
}

uint32_t tcp_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length) {
    return pseudo_header_sum(src, dst, ip_proto_tcp, length);
}

uint32_t udp_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length) {
    return pseudo_header_sum(src, dst, ip_proto_udp, length);
}

uint32_t icmpv6_pseudo_header_sum(const ip_addr& src, const ip_addr& dst, uint32_t length) {
    if (!src.is_v6() || !dst.is_v6()) throw std::runtime_error("icmpv6_pseudo_header_sum: IPv6 addresses required");
    return pseudo_header_sum(src, dst, ip_proto_icmpv6, length);
}

// ---------------------------------------------------------------- TCP

bool operator==(const tcp_option& a, const tcp_option& c) { return a.kind == c.kind && a.data == c.data; }
bool operator!=(const tcp_option& a, const tcp_option& c) { return !(a == c); }

tcp_option opt_mss(uint16_t mss) {
    tcp_option o{tcp_opt_mss, {}};
    put16(o.data, mss);
    return o;
}

tcp_option opt_wscale(uint8_t shift) { return tcp_option{tcp_opt_wscale, bytes{shift}}; }
tcp_option opt_sack_permitted() { return tcp_option{tcp_opt_sack_permitted, {}}; }

tcp_option opt_timestamps(uint32_t value, uint32_t echo_reply) {
    tcp_option o{tcp_opt_timestamps, {}};
    put32(o.data, value);
    put32(o.data, echo_reply);
    return o;
}

tcp_option opt_nop() { return tcp_option{tcp_opt_nop, {}}; }
tcp_option opt_eol() { return tcp_option{tcp_opt_eol, {}}; }

uint32_t tcp_segment::seq_len() const {
    return static_cast<uint32_t>(payload.size()) + (has(tcp_syn) ? 1u : 0u) + (has(tcp_fin) ? 1u : 0u);
}

const tcp_option* tcp_segment::find_option(uint8_t kind) const {
    for (const auto& o : options)
        if (o.kind == kind) return &o;
    return nullptr;
}

std::optional<uint16_t> tcp_segment::mss() const {
    const tcp_option* o = find_option(tcp_opt_mss);
    if (!o || o->data.size() != 2) return std::nullopt;
    return rd16(o->data.data());
}

std::optional<uint8_t> tcp_segment::wscale() const {
    const tcp_option* o = find_option(tcp_opt_wscale);
    if (!o || o->data.size() != 1) return std::nullopt;
    return o->data[0];
}

bool tcp_segment::sack_permitted() const { return find_option(tcp_opt_sack_permitted) != nullptr; }

std::optional<std::pair<uint32_t, uint32_t>> tcp_segment::timestamps() const {
    const tcp_option* o = find_option(tcp_opt_timestamps);
    if (!o || o->data.size() != 8) return std::nullopt;
    return std::make_pair(rd32(o->data.data()), rd32(o->data.data() + 4));
}

std::string tcp_flags_string(uint8_t flags) {
    std::string s;
    if (flags & tcp_fin) s += 'F';
    if (flags & tcp_syn) s += 'S';
    if (flags & tcp_rst) s += 'R';
    if (flags & tcp_psh) s += 'P';
    if (flags & tcp_urg) s += 'U';
    if (flags & tcp_ece) s += 'E';
    if (flags & tcp_cwr) s += 'W';
    if (flags & tcp_ack) s += '.';
    return s.empty() ? "none" : s;
}

// ---------------------------------------------------------------- builders

bytes eth_frame(mac_addr dst, mac_addr src, uint16_t ethertype, const bytes& payload, bool pad_to_minimum) {
    bytes f;
    f.reserve(std::max<size_t>(14 + payload.size(), eth_min_frame));
    put_mac(f, dst);
    put_mac(f, src);
    put16(f, ethertype);
    put_bytes(f, payload);
    if (pad_to_minimum && f.size() < eth_min_frame) f.resize(eth_min_frame, 0);
    return f;
}

bytes ipv4_packet(const ip_addr& src, const ip_addr& dst, uint8_t protocol, const bytes& payload, uint8_t ttl,
                  uint16_t id) {
    if (!src.is_v4() || !dst.is_v4()) throw std::runtime_error("ipv4_packet: IPv4 addresses required");
    size_t total = 20 + payload.size();
    if (total > 0xffff) throw std::runtime_error("ipv4_packet: payload too large");
    bytes p;
    p.reserve(total);
    put8(p, 0x45);
    put8(p, 0);
    put16(p, static_cast<unsigned>(total));
    put16(p, id);
    put16(p, 0);
    put8(p, ttl);
    put8(p, protocol);
    put16(p, 0);
    put_ip(p, src);
    put_ip(p, dst);
    set16(p, 10, inet_checksum(p.data(), 20));
    put_bytes(p, payload);
    return p;
}

bytes ipv6_packet(const ip_addr& src, const ip_addr& dst, uint8_t next_header, const bytes& payload,
                  uint8_t hop_limit) {
    if (!src.is_v6() || !dst.is_v6()) throw std::runtime_error("ipv6_packet: IPv6 addresses required");
    if (payload.size() > 0xffff) throw std::runtime_error("ipv6_packet: payload too large");
    bytes p;
    p.reserve(40 + payload.size());
    put32(p, 0x60000000u);
    put16(p, static_cast<unsigned>(payload.size()));
    put8(p, next_header);
    put8(p, hop_limit);
    put_ip(p, src);
    put_ip(p, dst);
    put_bytes(p, payload);
    return p;
}

bytes ip_frame(mac_addr dst, mac_addr src, const ip_addr& src_ip, const ip_addr& dst_ip, uint8_t protocol,
               const bytes& payload, uint8_t ttl) {
    require_same_family(src_ip, dst_ip, "ip_frame");
    if (src_ip.is_v6()) return eth_frame(dst, src, ethertype_ipv6, ipv6_packet(src_ip, dst_ip, protocol, payload, ttl));
    return eth_frame(dst, src, ethertype_ipv4, ipv4_packet(src_ip, dst_ip, protocol, payload, ttl));
}

namespace {

bytes arp_packet(uint16_t op, mac_addr sha, const ip_addr& spa, mac_addr tha, const ip_addr& tpa) {
    if (!spa.is_v4() || !tpa.is_v4()) throw std::runtime_error("ARP needs IPv4 addresses");
    bytes p;
    p.reserve(28);
    put16(p, 1);
    put16(p, ethertype_ipv4);
    put8(p, 6);
    put8(p, 4);
    put16(p, op);
    put_mac(p, sha);
    put_ip(p, spa);
    put_mac(p, tha);
    put_ip(p, tpa);
    return p;
}

// ICMPv4 or ICMPv6 message (header + body) with its checksum filled in.
bytes icmp_message(const ip_addr& src_ip, const ip_addr& dst_ip, uint8_t type, uint8_t code, const bytes& body) {
    bytes m;
    m.reserve(4 + body.size());
    put8(m, type);
    put8(m, code);
    put16(m, 0);
    put_bytes(m, body);
    uint32_t ph = src_ip.is_v6() ? icmpv6_pseudo_header_sum(src_ip, dst_ip, static_cast<uint32_t>(m.size())) : 0;
    set16(m, 2, inet_checksum(m, ph));
    return m;
}

bytes echo_body(uint16_t id, uint16_t seq, const bytes& data) {
    bytes b;
    put16(b, id);
    put16(b, seq);
    put_bytes(b, data);
    return b;
}

}  // namespace

bytes arp_request(mac_addr src_mac, ip_addr src_ip, ip_addr target_ip) {
    return eth_frame(mac_addr::broadcast(), src_mac, ethertype_arp,
                     arp_packet(arp_op_request, src_mac, src_ip, mac_addr{}, target_ip));
}

bytes arp_reply(mac_addr src_mac, ip_addr src_ip, mac_addr dst_mac, ip_addr dst_ip) {
    return eth_frame(dst_mac, src_mac, ethertype_arp, arp_packet(arp_op_reply, src_mac, src_ip, dst_mac, dst_ip));
}

bytes icmp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint8_t type, uint8_t code,
                 const bytes& body, uint8_t ttl) {
    require_same_family(src_ip, dst_ip, "icmp_frame");
    uint8_t proto = src_ip.is_v6() ? ip_proto_icmpv6 : ip_proto_icmp;
    return ip_frame(dst, src, src_ip, dst_ip, proto, icmp_message(src_ip, dst_ip, type, code, body), ttl);
}

bytes icmp_echo_request(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t id, uint16_t seq,
                        const bytes& data) {
    uint8_t type = src_ip.is_v6() ? icmpv6_echo_request_type : icmp_echo_request_type;
    return icmp_frame(dst, src, src_ip, dst_ip, type, 0, echo_body(id, seq, data));
}

bytes icmp_echo_reply(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t id, uint16_t seq,
                      const bytes& data) {
    uint8_t type = src_ip.is_v6() ? icmpv6_echo_reply_type : icmp_echo_reply_type;
    return icmp_frame(dst, src, src_ip, dst_ip, type, 0, echo_body(id, seq, data));
}

bytes ndp_neighbor_solicitation(mac_addr src_mac, ip_addr src_ip, ip_addr target) {
    if (!target.is_v6()) throw std::runtime_error("ndp_neighbor_solicitation: IPv6 target required");
    ip_addr dst_ip = target.solicited_node();
    bytes body;
    put32(body, 0);  // reserved
    put_ip(body, target);
    if (!src_ip.is_unspecified()) {
        put8(body, 1);  // source link-layer address
        put8(body, 1);  // length in units of 8 bytes
        put_mac(body, src_mac);
    }
    // Hop limit 255 is how the receiver knows ND came from on-link (RFC 4861 7.1.1).
    return icmp_frame(multicast_mac(dst_ip), src_mac, src_ip, dst_ip, icmpv6_neighbor_solicitation_type, 0, body, 255);
}

bytes ndp_neighbor_advertisement(mac_addr src_mac, ip_addr src_ip, mac_addr dst_mac, ip_addr dst_ip, bool solicited) {
    if (!src_ip.is_v6() || !dst_ip.is_v6())
        throw std::runtime_error("ndp_neighbor_advertisement: IPv6 addresses required");
    bytes body;
    put8(body, static_cast<unsigned>(nd_flag_override | (solicited ? nd_flag_solicited : 0)));
    put8(body, 0);
    put16(body, 0);
    put_ip(body, src_ip);
    put8(body, 2);  // target link-layer address
    put8(body, 1);
    put_mac(body, src_mac);
    return icmp_frame(dst_mac, src_mac, src_ip, dst_ip, icmpv6_neighbor_advertisement_type, 0, body, 255);
}

bytes tcp_segment_bytes(const ip_addr& src_ip, const ip_addr& dst_ip, const tcp_segment& seg) {
    bytes opts;
    for (const auto& o : seg.options) {
        if (o.kind == tcp_opt_nop || o.kind == tcp_opt_eol) {
            put8(opts, o.kind);
            continue;
        }
        if (o.data.size() > 38) throw std::runtime_error("tcp_segment_bytes: option too long");
        put8(opts, o.kind);
        put8(opts, static_cast<unsigned>(o.data.size() + 2));
        put_bytes(opts, o.data);
    }
    while (opts.size() % 4 != 0) put8(opts, tcp_opt_eol);
    if (opts.size() > 40) throw std::runtime_error("tcp_segment_bytes: options exceed 40 bytes");

    size_t hl = 20 + opts.size();
    bytes s;
    s.reserve(hl + seg.payload.size());
    put16(s, seg.sport);
    put16(s, seg.dport);
    put32(s, seg.seq);
    put32(s, seg.ack);
    put8(s, static_cast<unsigned>((hl / 4) << 4));
    put8(s, seg.flags);
    put16(s, seg.window);
    put16(s, 0);
    put16(s, seg.urgent_pointer);
    put_bytes(s, opts);
    put_bytes(s, seg.payload);
    uint32_t ph = tcp_pseudo_header_sum(src_ip, dst_ip, static_cast<uint32_t>(s.size()));
    set16(s, 16, inet_checksum(s, ph));
    return s;
}

bytes tcp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, const tcp_segment& seg) {
    return ip_frame(dst, src, src_ip, dst_ip, ip_proto_tcp, tcp_segment_bytes(src_ip, dst_ip, seg));
}

bytes udp_frame(mac_addr dst, mac_addr src, ip_addr src_ip, ip_addr dst_ip, uint16_t sport, uint16_t dport,
                const bytes& payload) {
    if (payload.size() + 8 > 0xffff) throw std::runtime_error("udp_frame: payload too large");
    bytes d;
    d.reserve(8 + payload.size());
    put16(d, sport);
    put16(d, dport);
    put16(d, static_cast<unsigned>(8 + payload.size()));
    put16(d, 0);
    put_bytes(d, payload);
    uint16_t ck = inet_checksum(d, udp_pseudo_header_sum(src_ip, dst_ip, static_cast<uint32_t>(d.size())));
    // A computed 0 is sent as all ones: 0 means "no checksum" (RFC 768).
    set16(d, 6, ck == 0 ? 0xffff : ck);
    return ip_frame(dst, src, src_ip, dst_ip, ip_proto_udp, d);
}

// ---------------------------------------------------------------- parsing

bool icmp_info::is_echo_request() const { return type == (v6 ? icmpv6_echo_request_type : icmp_echo_request_type); }

bool icmp_info::is_echo_reply() const { return type == (v6 ? icmpv6_echo_reply_type : icmp_echo_reply_type); }

parsed_frame parse_frame(const uint8_t* p, size_t n) {
    parsed_frame f;
    f.frame_length = n;
    if (p == nullptr || n < 14) return f;
    f.valid_ethernet = true;
    f.eth_dst = rd_mac(p);
    f.eth_src = rd_mac(p + 6);
    f.ethertype = rd16(p + 12);
    const uint8_t* q = p + 14;
    size_t m = n - 14;
    switch (f.ethertype) {
        case ethertype_arp: parse_arp(q, m, f); break;
        case ethertype_ipv4: parse_ipv4(q, m, f); break;
        case ethertype_ipv6: parse_ipv6(q, m, f); break;
        default: break;
    }
    return f;
}

parsed_frame parse_frame(const bytes& frame) { return parse_frame(frame.data(), frame.size()); }

std::string describe(const parsed_frame& f) {
    if (!f.valid_ethernet) return "runt frame len=" + std::to_string(f.frame_length);

    if (f.arp) {
        const arp_info& a = *f.arp;
        if (a.op == arp_op_request)
            return "ARP who-has " + a.target_ip.to_string() + " tell " + a.sender_ip.to_string();
        if (a.op == arp_op_reply) return "ARP reply " + a.sender_ip.to_string() + " is-at " + a.sender_mac.to_string();
        return "ARP op " + std::to_string(a.op) + " " + a.sender_ip.to_string() + " > " + a.target_ip.to_string();
    }

    if (!f.ip) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "0x%04x", f.ethertype);
        return f.eth_src.to_string() + " > " + f.eth_dst.to_string() + " ethertype " + buf +
               (f.ethertype == ethertype_arp || f.ethertype == ethertype_ipv4 || f.ethertype == ethertype_ipv6
                    ? " (malformed)"
                    : "") +
               " len " + std::to_string(f.frame_length);
    }

    const ip_info& ip = *f.ip;
    const std::string ipbad = ip.header_checksum_ok ? "" : " [bad ip cksum]";
    const std::string family = ip.version == 6 ? "IP6 " : "IP ";
    const std::string addrs = ip.src.to_string() + " > " + ip.dst.to_string();

    if (ip.fragment) {
        return family + addrs + " frag id=" + std::to_string(ip.id) + " off=" + std::to_string(ip.fragment_offset) +
               (ip.more_fragments ? "+" : "") + " proto " + std::to_string(ip.protocol) + " len " +
               std::to_string(ip.total_length) + ipbad;
    }
    if (ip.truncated) {
        return family + addrs + " proto " + std::to_string(ip.protocol) +
               " truncated: " + std::to_string(f.frame_length) + " byte frame, ip len " +
               std::to_string(ip.total_length) + ipbad;
    }

    if (f.tcp) {
        const tcp_segment& t = *f.tcp;
        std::string s = "TCP " + endpoint_text(ip.src, t.sport) + " > " + endpoint_text(ip.dst, t.dport) + " [" +
                        tcp_flags_string(t.flags) + "] seq=" + std::to_string(t.seq);
        if (t.has(tcp_ack)) s += " ack=" + std::to_string(t.ack);
        s += " win=" + std::to_string(t.window);
        if (t.has(tcp_urg)) s += " urg=" + std::to_string(t.urgent_pointer);
        s += " len=" + std::to_string(t.payload.size());
        s += tcp_options_text(t.options);
        if (!f.tcp_checksum_ok) s += " [bad tcp cksum]";
        return s + ipbad;
    }

    if (f.udp) {
        const udp_info& u = *f.udp;
        return "UDP " + endpoint_text(ip.src, u.sport) + " > " + endpoint_text(ip.dst, u.dport) +
               " len=" + std::to_string(u.payload.size()) + (u.checksum_ok ? "" : " [bad udp cksum]") + ipbad;
    }

    if (f.icmp) {
        const icmp_info& ic = *f.icmp;
        const char* name = ic.v6 ? icmpv6_type_name(ic.type) : icmpv4_type_name(ic.type);
        std::string s = (ic.v6 ? "ICMPv6 " : "ICMP ") + addrs + " ";
        s += name ? std::string(name) : "type " + std::to_string(ic.type);
        if (ic.is_echo_request() || ic.is_echo_reply()) {
            s += " id=" + std::to_string(ic.id) + " seq=" + std::to_string(ic.seq) +
                 " len=" + std::to_string(ic.data.size());
        } else if (ic.v6 && ic.type == icmpv6_neighbor_solicitation_type && ic.nd_target) {
            s += " who-has " + ic.nd_target->to_string();
        } else if (ic.v6 && ic.type == icmpv6_neighbor_advertisement_type && ic.nd_target) {
            s += " " + ic.nd_target->to_string();
            std::string fl;
            if (ic.nd_flags & nd_flag_router) fl += 'R';
            if (ic.nd_flags & nd_flag_solicited) fl += 'S';
            if (ic.nd_flags & nd_flag_override) fl += 'O';
            if (!fl.empty()) s += " [" + fl + "]";
        } else if (ic.code != 0 || !name) {
            s += " code " + std::to_string(ic.code);
        }
        if (ic.nd_source_lladdr) s += " src-lladdr " + ic.nd_source_lladdr->to_string();
        if (ic.nd_target_lladdr) s += " is-at " + ic.nd_target_lladdr->to_string();
        if (!ic.checksum_ok) s += " [bad icmp cksum]";
        return s + ipbad;
    }

    std::string what;
    switch (ip.protocol) {
        case ip_proto_tcp: what = "tcp (malformed)"; break;
        case ip_proto_udp: what = "udp (malformed)"; break;
        case ip_proto_icmp:
        case ip_proto_icmpv6: what = "icmp (malformed)"; break;
        default: what = "proto " + std::to_string(ip.protocol); break;
    }
    return family + addrs + " " + what + " len " + std::to_string(ip.total_length) + ipbad;
}

std::string describe(const bytes& frame) { return describe(parse_frame(frame)); }

std::string hex_dump(const bytes& data) {
    std::string out;
    char buf[24];
    for (size_t off = 0; off < data.size(); off += 16) {
        std::snprintf(buf, sizeof buf, "%04zx ", off);
        out += buf;
        std::string ascii;
        for (size_t i = 0; i < 16; ++i) {
            if (off + i < data.size()) {
                uint8_t c = data[off + i];
                std::snprintf(buf, sizeof buf, " %02x", c);
                out += buf;
                ascii += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
            } else {
                out += "   ";
            }
        }
        out += "  |" + ascii + "|\n";
    }
    return out;
}

}  // namespace lwsp::test
