// Internal: sock_address <-> lwIP's ip_addr_t.
#pragma once

#include <cstring>

#include "lwip/ip_addr.h"
#include "lwsp/endpoint.hpp"

namespace lwsp {
void to_lwip(const sock_address& in, ip_addr_t& out);
sock_address from_lwip(const ip_addr_t& in, std::uint16_t port);
}  // namespace lwsp
