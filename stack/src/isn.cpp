#include "isn.hpp"

#include <cstring>

namespace lwsp::detail {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct sip_state {
    std::uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
    void absorb(std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

std::uint64_t load_le64(const std::uint8_t* p, std::size_t n) {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < n; ++i) m |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return m;
}

}  // namespace

std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const void* data, std::size_t len) {
    const auto* in = static_cast<const std::uint8_t*>(data);
    sip_state s{key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull, key[0] ^ 0x6c7967656e657261ull,
                key[1] ^ 0x7465646279746573ull};
    const std::size_t whole = len & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) s.absorb(load_le64(in + i, 8));
    s.absorb(load_le64(in + whole, len - whole) | (static_cast<std::uint64_t>(len & 0xff) << 56));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint32_t tcp_isn(const std::array<std::uint64_t, 2>& key, std::uint64_t now_us, const std::uint8_t* local,
                      std::uint16_t local_port, const std::uint8_t* remote, std::uint16_t remote_port,
                      std::size_t address_len) {
    std::uint8_t tuple[2 * 16 + 4] = {};
    std::memcpy(tuple, local, address_len);
    std::memcpy(tuple + address_len, remote, address_len);
    tuple[2 * address_len] = static_cast<std::uint8_t>(local_port >> 8);
    tuple[2 * address_len + 1] = static_cast<std::uint8_t>(local_port);
    tuple[2 * address_len + 2] = static_cast<std::uint8_t>(remote_port >> 8);
    tuple[2 * address_len + 3] = static_cast<std::uint8_t>(remote_port);
    const auto f = static_cast<std::uint32_t>(siphash24(key, tuple, 2 * address_len + 4));
    return static_cast<std::uint32_t>(now_us / 4) + f;
}

}  // namespace lwsp::detail
