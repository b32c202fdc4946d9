// Ethernet frames for the Windows ports' tests, built and checked here,
// independently of lwIP: an ARP request and an ICMP echo request from a
// peer, and the checks of the stack's replies (as test/unit/c_port_test.c
// does for the C port ABI).
#pragma once

#include <cstdint>
#include <vector>

#include "lwsp/address.hpp"

namespace lwsp_test {

using bytes = std::vector<std::uint8_t>;

struct peer {
    lwsp::mac_address mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
    lwsp::ipv4_address ip{{192, 0, 2, 2}};
};

// A frame of `size` bytes with a recognisable pattern (distinct per `seed`).
bytes pattern_frame(std::size_t size, std::uint8_t seed);
// Who has `target`? (broadcast)
bytes arp_request(const peer& from, const lwsp::ipv4_address& target);
// An echo request from the peer to (mac, ip).
bytes echo_request(const peer& from, const lwsp::mac_address& to_mac, const lwsp::ipv4_address& to_ip, std::uint16_t id,
                   std::uint16_t seq, const bytes& payload);
// The Internet checksum.
std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t n);
std::uint16_t ethertype(const bytes& frame);
// The first frame of `frames` with this EtherType (and, for IPv4, ICMP
// type 0 when icmp_reply), or nullptr.
const bytes* find_arp_reply(const std::vector<bytes>& frames);
const bytes* find_echo_reply(const std::vector<bytes>& frames, std::uint16_t seq);

}  // namespace lwsp_test
