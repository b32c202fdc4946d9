// Text forms go through lwIP's own parsers and printers, so every platform
// (CE included) gets the same behaviour without its socket headers.
#include "lwsp/address.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>

#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"

namespace lwsp {

std::optional<mac_address> mac_address::parse(const std::string& text) {
    mac_address m;
    unsigned v[6];
    char tail;
    if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return std::nullopt;
    for (int i = 0; i < 6; ++i) m.bytes[i] = static_cast<std::uint8_t>(v[i]);
    return m;
}

std::string mac_address::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                  bytes[5]);
    return buf;
}

std::optional<ipv4_address> ipv4_address::parse(const std::string& text) {
    ip4_addr_t raw;
    // ip4addr_aton accepts the historic short forms ("10.1"); Winsock-era
    // code expects only dotted quads here, so require three dots.
    int dots = 0;
    for (char c : text) dots += c == '.';
    if (dots != 3 || !ip4addr_aton(text.c_str(), &raw)) return std::nullopt;
    ipv4_address a;
    std::memcpy(a.bytes.data(), &raw.addr, 4);
    return a;
}

std::string ipv4_address::to_string() const {
    char buf[IP4ADDR_STRLEN_MAX];
    ip4_addr_t raw;
    std::memcpy(&raw.addr, bytes.data(), 4);
    return ip4addr_ntoa_r(&raw, buf, sizeof buf);
}

std::optional<ipv6_address> ipv6_address::parse(const std::string& text) {
    ip6_addr_t raw;
    // ip6addr_aton stops at the first character that cannot continue an
    // address and accepts what came before ("2001:db8::g" parsed as
    // 2001:db8::): only hex digits, colons and the dots of an embedded
    // IPv4 address may appear.
    for (char c : text) {
        if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') return std::nullopt;
    }
    if (text.empty() || !ip6addr_aton(text.c_str(), &raw)) return std::nullopt;
    ipv6_address a;
    std::memcpy(a.bytes.data(), raw.addr, 16);
    return a;
}

std::string ipv6_address::to_string() const {
    char buf[IP6ADDR_STRLEN_MAX];
    ip6_addr_t raw{};
    std::memcpy(raw.addr, bytes.data(), 16);
    std::string text = ip6addr_ntoa_r(&raw, buf, sizeof buf);
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // RFC 5952
    return text;
}

}  // namespace lwsp
