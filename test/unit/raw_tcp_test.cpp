// The stack core on the wire, below the WSP shim: address resolution, ICMP
// echo, and lwIP's raw TCP API against a scripted peer, with the manual
// clock deciding when timers fire.
#include <catch2/catch.hpp>

#include "fixture.hpp"
#include "raw_echo.hpp"

using namespace lwsp::test;

namespace {

const parsed_frame* first_tcp(const std::vector<parsed_frame>& frames) {
    for (const parsed_frame& f : frames)
        if (f.tcp) return &f;
    return nullptr;
}

}  // namespace

TEST_CASE("the stack answers an ARP request for its address, and only for it", "[stack][wire][arp]") {
    lan net;
    net.peer4.send_resolution_request();
    auto out = net.pump();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].arp);
    CHECK(out[0].arp->op == arp_op_reply);
    CHECK(out[0].arp->sender_ip == ip_addr::parse("192.0.2.1"));
    CHECK(out[0].arp->sender_mac == mac_addr::parse("02:00:00:00:00:01"));
    CHECK(out[0].arp->target_ip == ip_addr::parse("192.0.2.2"));
    CHECK(out[0].eth_dst == mac_addr::parse("02:00:00:00:00:02"));

    net.link.inject(
        arp_request(mac_addr::parse("02:00:00:00:00:02"), ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.77")));
    CHECK(net.pump().empty());
}

TEST_CASE("the stack answers ICMP echo over IPv4 and IPv6", "[stack][wire][icmp]") {
    lan net;
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    const bytes data = {'l', 'w', 's', 'p', 0, 1, 2, 3, 0xff};
    net.peer(v6).announce();
    net.pump();
    net.peer(v6).send_echo_request(0x1234, 7, data);
    auto out = net.pump();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].icmp);
    CHECK(out[0].icmp->is_echo_reply());
    CHECK(out[0].icmp->checksum_ok);
    CHECK(out[0].icmp->id == 0x1234);
    CHECK(out[0].icmp->seq == 7);
    CHECK(out[0].icmp->data == data);
    CHECK(out[0].ip->src == net.peer(v6).stack().ip);
    CHECK(out[0].ip->dst == net.peer(v6).self().ip);
}

TEST_CASE("the stack answers an IPv6 neighbour solicitation", "[stack][wire][nd]") {
    lan net;
    net.peer6.send_resolution_request();
    auto out = net.pump();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].icmp);
    CHECK(out[0].icmp->type == icmpv6_neighbor_advertisement_type);
    CHECK(out[0].icmp->checksum_ok);
    CHECK(out[0].icmp->nd_target == ip_addr::parse("2001:db8::1"));
    REQUIRE(out[0].icmp->nd_target_lladdr);
    CHECK(*out[0].icmp->nd_target_lladdr == mac_addr::parse("02:00:00:00:00:01"));
}

TEST_CASE("a raw-API listener completes a handshake with the peer and echoes data", "[stack][wire][tcp]") {
    lan net;
    const bool v6 = GENERATE(false, true);
    INFO((v6 ? "IPv6" : "IPv4"));
    raw_echo_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    tcp_script conn(net.peer(v6), 40000, 7);
    conn.send_syn();
    auto out = net.pump();
    const parsed_frame* synack = first_tcp(out);
    REQUIRE(synack != nullptr);
    INFO(net.transcript);
    CHECK(synack->tcp->flags == (tcp_syn | tcp_ack));
    CHECK(synack->tcp->ack == conn.isn() + 1);
    CHECK(synack->tcp_checksum_ok);
    REQUIRE(synack->tcp->mss());
    CHECK(*synack->tcp->mss() == (v6 ? 1440 : 1460));
    conn.accept(*synack);
    conn.send_ack();
    {
        auto lk = net.st.lock();
        CHECK(server.accepted == 1);
    }
    conn.send_text("hello over the wire");
    auto echoed = net.tcp_out(7);
    REQUIRE(echoed.size() >= 1);
    for (auto& s : echoed) conn.on_segment(s, net.peer(v6).stack().ip, net.peer(v6).self().ip);
    CHECK(conn.received_string() == "hello over the wire");
    CHECK(echoed.front().ack == conn.snd_nxt());
}

TEST_CASE("tcp_close sends FIN and tcp_abort sends RST", "[stack][wire][tcp][close]") {
    lan net;
    raw_echo_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    tcp_script conn(net.peer4, 40001, 7);
    REQUIRE(handshake(net, conn));
    tcp_pcb* pcb;
    {
        auto lk = net.st.lock();
        REQUIRE(server.conn != nullptr);
        pcb = server.conn;
        raw_detach(pcb);
    }

    SECTION("close: FIN, carrying our next sequence number") {
        {
            auto lk = net.st.lock();
            REQUIRE(raw_close(pcb) == 0);
        }
        auto out = net.tcp_out(7);
        REQUIRE(out.size() == 1);
        CHECK(out[0].has(tcp_fin | tcp_ack));
        CHECK_FALSE(out[0].has(tcp_rst));
        CHECK(out[0].seq == conn.rcv_nxt());
        CHECK(out[0].payload.empty());
    }
    SECTION("abort: RST, and nothing else") {
        {
            auto lk = net.st.lock();
            raw_abort(pcb);
        }
        auto out = net.tcp_out(7);
        REQUIRE(out.size() == 1);
        CHECK(out[0].has(tcp_rst));
        CHECK_FALSE(out[0].has(tcp_fin));
        CHECK(out[0].seq == conn.rcv_nxt());
    }
}

TEST_CASE("a lost segment is retransmitted when the clock passes the RTO, never before", "[stack][wire][tcp][clock]") {
    lan net;
    raw_echo_server server;
    {
        auto lk = net.st.lock();
        REQUIRE(server.listen(7));
    }
    tcp_script conn(net.peer4, 40002, 7);
    REQUIRE(handshake(net, conn));
    int rto_ms;
    {
        auto lk = net.st.lock();
        REQUIRE(server.conn != nullptr);
        REQUIRE(raw_write(server.conn, "lost"));
        rto_ms = raw_rto_ms(server.conn);
    }
    auto first = net.tcp_out(7);
    REQUIRE(first.size() == 1);
    REQUIRE(first[0].payload == bytes{'l', 'o', 's', 't'});
    REQUIRE(rto_ms >= 1000);  // lwIP 2.1's initial RTO is 3 s
    // The peer never acknowledges.  lwIP counts the RTO in slow-timer ticks
    // (500 ms) that run on the stack clock, so the retransmission falls in
    // the last tick before the RTO has fully passed.
    net.advance(rto_ms - raw_slow_timer_ms() - 1, 1);
    CHECK(net.tcp_out(7).empty());
    net.advance(raw_slow_timer_ms() + 1, 1);
    auto again = net.tcp_out(7);
    REQUIRE(again.size() == 1);
    CHECK(again[0].seq == first[0].seq);
    CHECK(again[0].payload == first[0].payload);
}
