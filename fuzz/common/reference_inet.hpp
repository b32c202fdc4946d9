// reference_inet.hpp — the C library's address text conversions
// (inet_pton/inet_ntop), as an independent reference for the provider's own
// parser and printer (fuzz_address_strings compares them).
//
// The implementation lives in its own translation unit: it needs the host's
// socket headers, which cannot share a translation unit with lwsp/ws2spi.h.
#pragma once

#include <cstdint>
#include <string>

namespace lwsp::fuzz {

// Plain address text only (no port, brackets or scope).  False when the C
// library refuses it.
bool reference_parse_ipv4(const std::string& text, std::uint8_t out[4]);
bool reference_parse_ipv6(const std::string& text, std::uint8_t out[16]);
std::string reference_format_ipv4(const std::uint8_t a[4]);
std::string reference_format_ipv6(const std::uint8_t a[16]);

}  // namespace lwsp::fuzz
