#include <algorithm>

#include "lwsp/endpoint.hpp"
#include "lwip_address.hpp"

namespace lwsp {

sock_address sock_address::v4(const ipv4_address& a, std::uint16_t port) {
    sock_address s;
    std::copy(a.bytes.begin(), a.bytes.end(), s.ip.begin());
    s.port = port;
    return s;
}

sock_address sock_address::v6addr(const ipv6_address& a, std::uint16_t port) {
    sock_address s;
    s.v6 = true;
    s.ip = a.bytes;
    s.port = port;
    return s;
}

sock_address sock_address::any(bool v6, std::uint16_t port) {
    sock_address s;
    s.v6 = v6;
    s.port = port;
    return s;
}

bool sock_address::is_any_ip() const {
    const std::size_t n = v6 ? 16 : 4;
    return std::all_of(ip.begin(), ip.begin() + static_cast<long>(n), [](std::uint8_t b) { return b == 0; });
}

void to_lwip(const sock_address& in, ip_addr_t& out) {
    if (in.v6) {
        IP_SET_TYPE_VAL(out, IPADDR_TYPE_V6);
        std::memcpy(ip_2_ip6(&out)->addr, in.ip.data(), 16);
#if LWIP_IPV6_SCOPES
        ip6_addr_clear_zone(ip_2_ip6(&out));
#endif
    } else {
        IP_SET_TYPE_VAL(out, IPADDR_TYPE_V4);
        std::memcpy(&ip_2_ip4(&out)->addr, in.ip.data(), 4);
    }
}

sock_address from_lwip(const ip_addr_t& in, std::uint16_t port) {
    sock_address s;
    s.port = port;
    if (IP_IS_V6_VAL(in)) {
        s.v6 = true;
        std::memcpy(s.ip.data(), ip_2_ip6(&in)->addr, 16);
    } else {
        std::memcpy(s.ip.data(), &ip_2_ip4(&in)->addr, 4);
    }
    return s;
}

}  // namespace lwsp
