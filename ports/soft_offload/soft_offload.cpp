// Software checksum completion and segmentation of offloaded frames.  What
// and why: lwsp/soft_offload.hpp.
#include "lwsp/soft_offload.hpp"

#include <algorithm>

namespace lwsp {

namespace {

constexpr std::size_t eth_len = 14;
constexpr std::uint8_t proto_tcp = 6, proto_udp = 17;
constexpr std::uint8_t tcp_fin = 0x01, tcp_psh = 0x08, tcp_cwr = 0x80;

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

// RFC 1071: the ones'-complement sum of `len` bytes added to `sum`, kept
// wide (folded only at the end).
std::uint64_t ones_sum(const std::uint8_t* data, std::size_t len, std::uint64_t sum) {
    std::size_t i = 0;
    for (; i + 1 < len; i += 2) sum += get16(data + i);
    if (i < len) sum += std::uint64_t{data[i]} << 8;
    return sum;
}

std::uint16_t fold(std::uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// Where a frame's IP datagram carries its upper layer.
struct ip_view {
    bool v6 = false;
    std::size_t l4 = 0;   // 0: no upper layer to be had (not IP, a fragment, cut short)
    std::size_t end = 0;  // end of the datagram in the frame, by its header (bounded by the frame)
    std::uint8_t proto = 0;
};

ip_view parse_ip(const std::uint8_t* f, std::size_t size) {
    ip_view v;
    if (size < eth_len + 20) return v;
    const std::uint8_t* ip = f + eth_len;
    const std::uint16_t type = get16(f + 12);
    if (type == 0x0800 && (ip[0] >> 4) == 4) {
        const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
        if (ihl < 20 || eth_len + ihl > size || (get16(ip + 6) & 0x3fff) != 0) return v;
        const std::size_t total = get16(ip + 2);
        v.end = total >= ihl && eth_len + total <= size ? eth_len + total : size;
        v.l4 = eth_len + ihl;
        v.proto = ip[9];
        return v;
    }
    if (type != 0x86dd || (ip[0] >> 4) != 6 || size < eth_len + 40) return v;
    v.v6 = true;
    const std::size_t payload = get16(ip + 4);
    v.end = payload != 0 && eth_len + 40 + payload <= size ? eth_len + 40 + payload : size;
    std::uint8_t next = ip[6];
    std::size_t off = eth_len + 40;
    // Hop-by-hop, routing and destination options; a fragment header ends
    // the walk (fragments carry no whole upper layer).
    while (next == 0 || next == 43 || next == 60) {
        if (off + 8 > v.end) return v;
        next = f[off];
        off += (std::size_t{f[off + 1]} + 1) * 8;
    }
    if (next == 44 || off > v.end) return v;
    v.l4 = off;
    v.proto = next;
    return v;
}

// The pseudo-header sum of an upper-layer message of `len` bytes (RFC 793,
// RFC 8200 section 8.1).
std::uint64_t pseudo_sum(const std::uint8_t* f, const ip_view& v, std::size_t len) {
    const std::uint8_t* ip = f + eth_len;
    std::uint64_t sum = v.v6 ? ones_sum(ip + 8, 32, 0) : ones_sum(ip + 12, 8, 0);
    return sum + v.proto + (len >> 16) + (len & 0xffff);
}

// Computes the TCP or UDP checksum of the datagram from scratch.
void recompute_l4(std::uint8_t* f, const ip_view& v) {
    const std::size_t len = v.end - v.l4;
    const std::size_t field = v.proto == proto_tcp ? 16 : 6;
    if (len < field + 2) return;
    if (v.proto == proto_udp && !v.v6 && get16(f + v.l4 + field) == 0) return;  // IPv4: "no checksum"
    put16(f + v.l4 + field, 0);
    std::uint16_t c = static_cast<std::uint16_t>(~fold(ones_sum(f + v.l4, len, pseudo_sum(f, v, len))));
    if (c == 0 && v.proto == proto_udp) c = 0xffff;  // 0 would mean "none"
    put16(f + v.l4 + field, c);
}

bool cut(const std::uint8_t* f, std::size_t size, const frame_info& info, std::vector<frame_bytes>& out) {
    const ip_view v = parse_ip(f, size);
    if (v.l4 == 0 || v.proto != proto_tcp) return false;
    if (info.csum == frame_info::checksum::partial && info.csum_start != v.l4) return false;
    if (v.l4 + 20 > v.end) return false;
    const std::size_t hdr = v.l4 + std::size_t{static_cast<std::uint8_t>(f[v.l4 + 12] >> 4)} * 4;
    if (hdr < v.l4 + 20 || hdr > v.end) return false;
    const std::size_t payload = v.end - hdr;
    const std::uint32_t seq = get32(f + v.l4 + 4);
    const std::uint16_t id = v.v6 ? 0 : get16(f + eth_len + 4);
    std::size_t off = 0, i = 0;
    do {
        const std::size_t n = std::min<std::size_t>(info.gso_size, payload - off);
        frame_bytes s(f, f + hdr);
        s.insert(s.end(), f + hdr + off, f + hdr + off + n);
        std::uint8_t* ip = s.data() + eth_len;
        if (v.v6) {
            put16(ip + 4, static_cast<std::uint16_t>(s.size() - eth_len - 40));
        } else {
            const std::size_t ihl = v.l4 - eth_len;
            put16(ip + 2, static_cast<std::uint16_t>(s.size() - eth_len));
            put16(ip + 4, static_cast<std::uint16_t>(id + i));
            put16(ip + 10, 0);
            put16(ip + 10, static_cast<std::uint16_t>(~fold(ones_sum(ip, ihl, 0))));
        }
        std::uint8_t* tcp = s.data() + v.l4;
        put32(tcp + 4, seq + static_cast<std::uint32_t>(off));
        if (off + n < payload) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~(tcp_psh | tcp_fin));
        if (i != 0) tcp[13] = static_cast<std::uint8_t>(tcp[13] & ~tcp_cwr);
        ip_view sv = v;
        sv.end = s.size();
        recompute_l4(s.data(), sv);
        out.push_back(std::move(s));
        off += n;
        ++i;
    } while (off < payload);
    return true;
}

}  // namespace

bool complete_partial_checksum(std::uint8_t* frame, std::size_t size, const frame_info& info) {
    const std::size_t start = info.csum_start;
    const std::size_t at = start + info.csum_offset;
    if (start >= size || at + 2 > size || at < start) return false;
    std::uint16_t c = static_cast<std::uint16_t>(~fold(ones_sum(frame + start, size - start, 0)));
    if (c == 0) {
        const ip_view v = parse_ip(frame, size);
        if (v.l4 == start && v.proto == proto_udp) c = 0xffff;  // 0 would mean "none"
    }
    put16(frame + at, c);
    return true;
}

bool to_wire_frames(const std::uint8_t* frame, std::size_t size, const frame_info& info,
                    std::vector<frame_bytes>& out) {
    if (info.gso_size != 0) return cut(frame, size, info, out);
    frame_bytes f(frame, frame + size);
    if (info.csum == frame_info::checksum::partial) {
        if (!complete_partial_checksum(f.data(), f.size(), info)) return false;
    } else if (info.csum == frame_info::checksum::verified) {
        const ip_view v = parse_ip(f.data(), f.size());
        if (v.l4 != 0 && (v.proto == proto_tcp || v.proto == proto_udp)) recompute_l4(f.data(), v);
    }
    out.push_back(std::move(f));
    return true;
}

}  // namespace lwsp
