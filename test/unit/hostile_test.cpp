// A hostile network: frames and traffic patterns a stack on a device that
// faces networks it does not control must survive without crashing,
// stalling or running out of memory.  Each case started as a defect found by
// fuzzing or probing (issue 10); each states what crossed the wire and what
// the stack kept.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "wsp_fixture.hpp"

using namespace lwsp::test;

namespace {

const mac_addr k_stack_mac = mac_addr::parse("02:00:00:00:00:01");
const mac_addr k_peer_mac = mac_addr::parse("02:00:00:00:00:02");

// An Ethernet frame of exactly `payload` after the header: no padding.
bytes raw_frame(mac_addr dst, uint16_t type, const bytes& payload) {
    return eth_frame(dst, k_peer_mac, type, payload, false);
}

}  // namespace

// ---- frames shorter than their headers ----------------------------------------

TEST_CASE("short ARP and IP frames are dropped without reading past their end", "[hostile][frames][regression]") {
    // lwIP reads fixed-size headers (ARP's 28 bytes, the IPv4 total length)
    // before it checks the frame's length; a NIC never delivers less than 60
    // bytes, a TAP device or a driver bug can.  ASan: heap-buffer-overflow in
    // etharp_input and ip4_input before the fix.
    lan net;
    const bytes arp_request_full = arp_request(k_peer_mac, ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.1"));
    // Everything after the Ethernet header of a proper request, then cut.
    const bytes arp_body(arp_request_full.begin() + 14, arp_request_full.begin() + 14 + 28);
    for (std::size_t keep : {0u, 1u, 8u, 14u, 20u, 27u}) {
        INFO("ARP body of " << keep << " bytes");
        REQUIRE(net.link.inject(raw_frame(mac_addr::broadcast(), ethertype_arp, bytes(arp_body.begin(), arp_body.begin() + keep))));
        CHECK(net.pump().empty());  // no reply to a request that is not all there
    }
    const bytes ip = ipv4_packet(ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.1"), ip_proto_udp, bytes(8, 0));
    for (std::size_t keep : {0u, 2u, 12u, 19u}) {
        INFO("IPv4 header of " << keep << " bytes");
        REQUIRE(net.link.inject(raw_frame(k_stack_mac, ethertype_ipv4, bytes(ip.begin(), ip.begin() + keep))));
        CHECK(net.pump().empty());
    }
    const bytes ip6 = ipv6_packet(ip_addr::parse("2001:db8::2"), ip_addr::parse("2001:db8::1"), ip_proto_udp, bytes(8, 0));
    for (std::size_t keep : {0u, 4u, 39u}) {
        INFO("IPv6 header of " << keep << " bytes");
        REQUIRE(net.link.inject(raw_frame(k_stack_mac, ethertype_ipv6, bytes(ip6.begin(), ip6.begin() + keep))));
        CHECK(net.pump().empty());
    }
    // Frames that say they carry offloads are checked the same way.
    lwsp::frame_info partial;
    partial.csum = lwsp::frame_info::checksum::partial;
    partial.gso_size = 1460;
    REQUIRE(net.link.inject(raw_frame(k_stack_mac, ethertype_ipv4, bytes(ip.begin(), ip.begin() + 2)), partial));
    CHECK(net.pump().empty());
    // A complete request that was simply not padded is answered.
    REQUIRE(net.link.inject(raw_frame(mac_addr::broadcast(), ethertype_arp, arp_body)));
    const auto reply = net.pump();
    REQUIRE(reply.size() == 1);
    REQUIRE(reply[0].arp);
    CHECK(reply[0].arp->op == arp_op_reply);
    CHECK(reply[0].arp->sender_ip == ip_addr::parse("192.0.2.1"));
    CHECK(net.st.stats().pbufs == 0);
}
