// Internal: initial sequence numbers as RFC 6528 computes them, and the
// keyed hash they need.  lwIP 2.1.3's own ISN is a global counter advanced
// by its timer ticks (6510 + ticks): anyone who sees one connection can
// predict the next and inject into it blindly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lwsp::detail {

// SipHash-2-4 (Aumasson and Bernstein, 2012) of `len` bytes under a
// 128-bit key: a keyed hash fast on short inputs such as a 4-tuple.
std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const void* data, std::size_t len);

// ISN = M + F(local address and port, remote address and port, secret):
// M a clock of 4-microsecond ticks, F the keyed hash (RFC 6528, section 3).
// Addresses are 4 (IPv4) or 16 bytes.
std::uint32_t tcp_isn(const std::array<std::uint64_t, 2>& key, std::uint64_t now_us, const std::uint8_t* local,
                      std::uint16_t local_port, const std::uint8_t* remote, std::uint16_t remote_port,
                      std::size_t address_len);

}  // namespace lwsp::detail
