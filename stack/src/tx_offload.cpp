// Transmit offloads: partial TCP checksums and merging of consecutive
// segments into one frame.  What and why: tx_offload.hpp.
#include "tx_offload.hpp"

#include <algorithm>
#include <cstring>

namespace lwsp::detail {

namespace {

constexpr std::size_t eth_len = 14;
constexpr std::size_t max_headers = 256;  // Ethernet + IP (with options or extension headers) + TCP
constexpr std::uint8_t tcp_ack = 0x10, tcp_psh = 0x08;
constexpr std::size_t tcp_csum_field = 16;

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

// Copies bytes [from, from + len) of a frame given as parts into `out`.
std::size_t copy_out(const frame_part* parts, std::size_t count, std::size_t from, std::size_t len, std::uint8_t* out) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < count && done < len; ++i) {
        if (from >= parts[i].size) {
            from -= parts[i].size;
            continue;
        }
        const std::size_t n = std::min(parts[i].size - from, len - done);
        std::memcpy(out + done, static_cast<const std::uint8_t*>(parts[i].data) + from, n);
        done += n;
        from = 0;
    }
    return done;
}

// The 16-bit ones'-complement sum of `len` bytes, not complemented, added to
// `sum` (RFC 1071), and its fold to 16 bits.
std::uint32_t ones_sum(const std::uint8_t* data, std::size_t len, std::uint32_t sum) {
    std::uint64_t acc = sum;
    std::size_t i = 0;
    for (; i + 1 < len; i += 2) acc += get16(data + i);
    if (i < len) acc += std::uint32_t{data[i]} << 8;
    while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
    return static_cast<std::uint32_t>(acc);
}

std::uint16_t ones_fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// The header after an IPv6 header's extension headers (hop-by-hop, routing,
// destination options) in the first `have` bytes of a frame, and in `off`
// where it starts; 59 (no next header) when the chain runs past `have`.
std::uint8_t ipv6_upper_layer(const std::uint8_t* frame, std::size_t have, std::size_t& off) {
    std::uint8_t next = frame[eth_len + 6];
    off = eth_len + 40;
    while (next == 0 || next == 43 || next == 60) {
        if (off + 8 > have) return 59;
        next = frame[off];
        off += (std::size_t{frame[off + 1]} + 1) * 8;
    }
    return next;
}

// The pseudo-header sum of a TCP segment of `tcp_len` bytes (header and
// payload), RFC 793 / RFC 8200 section 8.1.
std::uint32_t pseudo_sum(const std::uint8_t* frame, bool v6, std::size_t tcp_len) {
    const std::uint8_t* ip = frame + eth_len;
    std::uint32_t sum = v6 ? ones_sum(ip + 8, 32, 0) : ones_sum(ip + 12, 8, 0);
    sum += 6;  // protocol TCP
    sum += static_cast<std::uint32_t>(tcp_len >> 16) + static_cast<std::uint32_t>(tcp_len & 0xffff);
    return sum;
}

}  // namespace

bool ip_fragment(const std::uint8_t* frame, std::size_t size) {
    if (size < eth_len + 20) return false;
    const std::uint8_t* ip = frame + eth_len;
    const std::uint16_t type = get16(frame + 12);
    if (type == 0x0800) return (get16(ip + 6) & 0x3fff) != 0;  // MF or an offset
    if (type != 0x86dd || size < eth_len + 40) return false;
    std::size_t off;
    return ipv6_upper_layer(frame, size, off) == 44;
}

// A frame as far as tx_offload cares: a TCP segment over IPv4 or IPv6, its
// headers copied out.
struct tx_offload::tcp_frame {
    bool tcp = false;
    bool v6 = false;
    std::size_t l4_off = 0, hdr_len = 0, payload = 0;
    std::uint32_t seq = 0;
    std::uint8_t flags = 0;
    std::uint8_t hdr[max_headers];

    void parse(const frame_part* parts, std::size_t count) {
        std::size_t total = 0;
        for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
        const std::size_t have = copy_out(parts, count, 0, std::min(total, max_headers), hdr);
        if (have < eth_len + 20) return;
        const std::uint8_t* ip = hdr + eth_len;
        std::size_t ip_end;  // end of the IP datagram within the frame
        std::uint8_t proto;
        const std::uint16_t type = get16(hdr + 12);
        if (type == 0x0800 && (ip[0] >> 4) == 4) {
            const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
            if (ihl < 20 || (get16(ip + 6) & 0x3fff) != 0) return;  // bad, or a fragment
            l4_off = eth_len + ihl;
            ip_end = eth_len + get16(ip + 2);
            proto = ip[9];
        } else if (type == 0x86dd && (ip[0] >> 4) == 6 && have >= eth_len + 40) {
            v6 = true;
            ip_end = eth_len + 40 + get16(ip + 4);
            proto = ipv6_upper_layer(hdr, have, l4_off);
        } else {
            return;
        }
        if (proto != 6 || l4_off + 20 > have) return;
        hdr_len = l4_off + static_cast<std::size_t>(hdr[l4_off + 12] >> 4) * 4;
        if (hdr_len < l4_off + 20 || hdr_len > have || ip_end < hdr_len || ip_end > total) return;
        payload = ip_end - hdr_len;
        seq = get32(hdr + l4_off + 4);
        flags = hdr[l4_off + 13];
        tcp = true;
    }

    // Puts the pseudo-header sum in the checksum field: checksum::partial.
    void set_partial_checksum() {
        put16(hdr + l4_off + tcp_csum_field, ones_fold(pseudo_sum(hdr, v6, hdr_len - l4_off + payload)));
    }
};

// A merged frame is at most what an IP length field describes.
tx_offload::tx_offload(link& l, const link_offloads& o)
    : link_(l), max_(std::min<std::size_t>(o.tx_tcp_segment_max, eth_len + 0xffff)) {
    if (max_ != 0) buf_.reserve(max_);
}

bool tx_offload::send(const frame_part* parts, std::size_t count) {
    tcp_frame f;
    f.parse(parts, count);
    if (!f.tcp) {
        flush();
        ++stats_.frames;
        return counted(link_.transmit(parts, count, frame_info{}));
    }
    if (holding() && can_append(f)) {
        append(f, parts, count);
        return last_psh_ || buf_.size() + seg_size_ > max_ ? flush() : true;
    }
    flush();
    if (max_ != 0 && f.flags == tcp_ack && f.payload > 0 && f.hdr_len + f.payload <= max_)
        return start(f, parts, count);

    // Sent as it is, with the checksum left to the link: the patched
    // headers, then the rest of lwIP's frame.
    f.set_partial_checksum();
    frame_part out[24];
    std::size_t n = 0;
    out[n++] = {f.hdr, f.hdr_len};
    std::size_t skip = f.hdr_len;
    for (std::size_t i = 0; i < count; ++i) {
        if (skip >= parts[i].size) {
            skip -= parts[i].size;
            continue;
        }
        if (n == sizeof out / sizeof out[0]) return false;  // lwIP never chains this many
        out[n++] = {static_cast<const std::uint8_t*>(parts[i].data) + skip, parts[i].size - skip};
        skip = 0;
    }
    frame_info info;
    info.csum = frame_info::checksum::partial;
    info.csum_start = static_cast<std::uint16_t>(f.l4_off);
    info.csum_offset = tcp_csum_field;
    ++stats_.frames;
    return counted(link_.transmit(out, n, info));
}

bool tx_offload::start(const tcp_frame& f, const frame_part* parts, std::size_t count) {
    buf_.assign(f.hdr, f.hdr + f.hdr_len);
    hdr_len_ = f.hdr_len;
    l4_off_ = f.l4_off;
    segments_ = 0;
    seg_size_ = f.payload;
    append(f, parts, count);
    return true;
}

bool tx_offload::can_append(const tcp_frame& f) const {
    if ((f.flags != tcp_ack && f.flags != (tcp_ack | tcp_psh)) || f.payload == 0) return false;
    if (f.hdr_len != hdr_len_ || f.l4_off != l4_off_ || f.seq != next_seq_) return false;
    if (last_size_ != seg_size_ || f.payload > seg_size_ || buf_.size() + f.payload > max_) return false;
    // Every header byte must match the first segment's, except those that
    // differ from segment to segment by construction: IPv4 length,
    // identification and header checksum (IPv6: payload length), and TCP
    // sequence number, flags and checksum.
    const std::uint8_t* a = buf_.data();
    const std::uint8_t* b = f.hdr;
    const std::size_t l3 = eth_len;
    auto same = [&](std::size_t from, std::size_t to) { return std::memcmp(a + from, b + from, to - from) == 0; };
    const bool ip_same = (a[l3] >> 4) == 6 ? same(0, l3 + 4) && same(l3 + 6, l4_off_)
                                           : same(0, l3 + 2) && same(l3 + 6, l3 + 10) && same(l3 + 12, l4_off_);
    return ip_same && same(l4_off_, l4_off_ + 4) && same(l4_off_ + 8, l4_off_ + 13) &&
           same(l4_off_ + 14, l4_off_ + 16) && same(l4_off_ + 18, hdr_len_);
}

void tx_offload::append(const tcp_frame& f, const frame_part* parts, std::size_t count) {
    const std::size_t at = buf_.size();
    buf_.resize(at + f.payload);
    copy_out(parts, count, f.hdr_len, f.payload, buf_.data() + at);
    ++segments_;
    last_size_ = f.payload;
    next_seq_ = f.seq + static_cast<std::uint32_t>(f.payload);
    last_psh_ = (f.flags & tcp_psh) != 0;
    if (last_psh_) buf_[l4_off_ + 13] |= tcp_psh;  // PSH goes with the last segment
}

bool tx_offload::flush() {
    if (segments_ == 0) return true;
    std::uint8_t* frame = buf_.data();
    std::uint8_t* ip = frame + eth_len;
    const bool v6 = (ip[0] >> 4) == 6;
    if (v6) {
        put16(ip + 4, static_cast<std::uint16_t>(buf_.size() - eth_len - 40));
    } else {
        const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
        put16(ip + 2, static_cast<std::uint16_t>(buf_.size() - eth_len));
        put16(ip + 10, 0);
        put16(ip + 10, static_cast<std::uint16_t>(~ones_fold(ones_sum(ip, ihl, 0))));
    }
    put16(frame + l4_off_ + tcp_csum_field, ones_fold(pseudo_sum(frame, v6, buf_.size() - l4_off_)));
    frame_info info;
    info.csum = frame_info::checksum::partial;
    info.csum_start = static_cast<std::uint16_t>(l4_off_);
    info.csum_offset = tcp_csum_field;
    if (segments_ > 1) {
        info.gso_size = static_cast<std::uint16_t>(seg_size_);
        ++stats_.merged_frames;
        stats_.segments += segments_;
    }
    ++stats_.frames;
    segments_ = 0;
    last_psh_ = false;
    const frame_part whole{buf_.data(), buf_.size()};
    return counted(link_.transmit(&whole, 1, info));
}

bool tx_offload::counted(bool accepted) {
    if (!accepted) ++stats_.dropped_frames;
    return accepted;
}

}  // namespace lwsp::detail
