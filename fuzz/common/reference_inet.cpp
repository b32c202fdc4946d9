// The C library's inet_pton/inet_ntop behind reference_inet.hpp.  No
// lwsp/ws2spi.h here: Winsock and POSIX reuse the same names.
#include "reference_inet.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace lwsp::fuzz {

bool reference_parse_ipv4(const std::string& text, std::uint8_t out[4]) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
    std::memcpy(out, &a, 4);
    return true;
}

bool reference_parse_ipv6(const std::string& text, std::uint8_t out[16]) {
    in6_addr a{};
    if (inet_pton(AF_INET6, text.c_str(), &a) != 1) return false;
    std::memcpy(out, &a, 16);
    return true;
}

std::string reference_format_ipv4(const std::uint8_t a[4]) {
    char buf[INET_ADDRSTRLEN];
    in_addr in{};
    std::memcpy(&in, a, 4);
    return inet_ntop(AF_INET, &in, buf, sizeof buf) != nullptr ? buf : "";
}

std::string reference_format_ipv6(const std::uint8_t a[16]) {
    char buf[INET6_ADDRSTRLEN];
    in6_addr in{};
    std::memcpy(&in, a, 16);
    return inet_ntop(AF_INET6, &in, buf, sizeof buf) != nullptr ? buf : "";
}

}  // namespace lwsp::fuzz
