// lwsp/address.hpp — link and IP address values used by the stack's public
// interface (no lwIP types).  Plain values, parsed from and printed as text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace lwsp {

struct mac_address {
    std::array<std::uint8_t, 6> bytes{};
    static std::optional<mac_address> parse(const std::string& text);  // "02:00:00:00:00:01"
    std::string to_string() const;
    friend bool operator==(const mac_address& a, const mac_address& b) { return a.bytes == b.bytes; }
};

struct ipv4_address {
    std::array<std::uint8_t, 4> bytes{};  // network order: 10.0.0.1 is {10,0,0,1}
    static std::optional<ipv4_address> parse(const std::string& text);
    std::string to_string() const;
    friend bool operator==(const ipv4_address& a, const ipv4_address& b) { return a.bytes == b.bytes; }
};

struct ipv6_address {
    std::array<std::uint8_t, 16> bytes{};
    static std::optional<ipv6_address> parse(const std::string& text);
    std::string to_string() const;
    friend bool operator==(const ipv6_address& a, const ipv6_address& b) { return a.bytes == b.bytes; }
};

}  // namespace lwsp
