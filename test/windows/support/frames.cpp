#include "frames.hpp"

#include <algorithm>

namespace lwsp_test {

namespace {
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
}  // namespace

bytes pattern_frame(std::size_t size, std::uint8_t seed) {
    bytes f(size);
    for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(std::size_t{seed} * 31 + i * 7);
    if (size >= 14) {  // a locally administered destination and an experimental EtherType
        f[0] = 0x02;
        put16(&f[12], 0x88b5);
    }
    return f;
}

std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::uint16_t ethertype(const bytes& frame) { return frame.size() < 14 ? 0 : get16(&frame[12]); }

bytes arp_request(const peer& from, const lwsp::ipv4_address& target) {
    bytes f(42);
    std::fill(f.begin(), f.begin() + 6, 0xff);
    std::copy(from.mac.bytes.begin(), from.mac.bytes.end(), f.begin() + 6);
    put16(&f[12], 0x0806);
    put16(&f[14], 1);       // Ethernet
    put16(&f[16], 0x0800);  // IPv4
    f[18] = 6;
    f[19] = 4;
    put16(&f[20], 1);  // request
    std::copy(from.mac.bytes.begin(), from.mac.bytes.end(), f.begin() + 22);
    std::copy(from.ip.bytes.begin(), from.ip.bytes.end(), f.begin() + 28);
    std::copy(target.bytes.begin(), target.bytes.end(), f.begin() + 38);
    return f;
}

bytes echo_request(const peer& from, const lwsp::mac_address& to_mac, const lwsp::ipv4_address& to_ip, std::uint16_t id,
                   std::uint16_t seq, const bytes& payload) {
    bytes f(14 + 20 + 8 + payload.size());
    std::copy(to_mac.bytes.begin(), to_mac.bytes.end(), f.begin());
    std::copy(from.mac.bytes.begin(), from.mac.bytes.end(), f.begin() + 6);
    put16(&f[12], 0x0800);
    std::uint8_t* ip = &f[14];
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(f.size() - 14));
    ip[8] = 64;
    ip[9] = 1;  // ICMP
    std::copy(from.ip.bytes.begin(), from.ip.bytes.end(), ip + 12);
    std::copy(to_ip.bytes.begin(), to_ip.bytes.end(), ip + 16);
    put16(ip + 10, inet_checksum(ip, 20));
    std::uint8_t* icmp = ip + 20;
    icmp[0] = 8;  // echo request
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    std::copy(payload.begin(), payload.end(), icmp + 8);
    put16(icmp + 2, inet_checksum(icmp, 8 + payload.size()));
    return f;
}

const bytes* find_arp_reply(const std::vector<bytes>& frames) {
    for (const bytes& f : frames)
        if (f.size() >= 42 && ethertype(f) == 0x0806 && get16(&f[20]) == 2) return &f;
    return nullptr;
}

const bytes* find_echo_reply(const std::vector<bytes>& frames, std::uint16_t seq) {
    for (const bytes& f : frames) {
        if (f.size() < 14 + 20 + 8 || ethertype(f) != 0x0800 || f[14 + 9] != 1) continue;
        const std::uint8_t* icmp = &f[14 + (f[14] & 0x0f) * 4];
        if (icmp[0] == 0 && get16(icmp + 6) == seq) return &f;
    }
    return nullptr;
}

}  // namespace lwsp_test
