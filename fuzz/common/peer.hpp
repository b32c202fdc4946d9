// peer.hpp — the host on the other end of the memlink, for fuzz_wsp_calls:
// a small, deterministic TCP/UDP/ICMP responder, so that the calls under
// test have someone to talk to.
//
// It answers ARP and neighbour solicitations for its addresses (the
// fixture's peer, 192.0.2.2 and 2001:db8::2), echo requests, and:
//   TCP  port 7 echoes, port 9 discards, port 13 sends a line and closes;
//        a SYN to any other port is refused (RST).  Data is acknowledged,
//        a FIN is answered with a FIN.  It can also open connections to
//        the stack, send on them, close or reset them (peer actions).
//   UDP  port 7 echoes; port 1 answers with ICMP port unreachable.
// `silent` makes it ignore everything but address resolution (a host that
// went away); `zero_window` makes it advertise a window of 0.
//
// turn() gives the peer its turn: it drains the stack's loopback queues,
// answers every frame the stack sent, and repeats until nothing moves.
// Everything happens in the calling thread, so a run is reproducible.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "env.hpp"
#include "packet.hpp"
#include "scripted_peer.hpp"

namespace lwsp::fuzz {

class peer {
public:
    explicit peer(env& e);

    // Forgets every connection and setting (a new input).
    void reset();
    // Returns whether any frame moved.
    bool turn();

    bool silent = false;
    bool zero_window = false;

    // Peer actions.  `conn` picks one of the peer's connections (modulo
    // their number); nothing happens when there is none.
    void connect(bool v6, std::uint16_t stack_port);
    void send(std::size_t conn, std::size_t bytes);
    void close(std::size_t conn);
    void reset_conn(std::size_t conn);
    void send_udp(bool v6, std::uint16_t stack_port, std::size_t bytes);

private:
    struct conn {
        bool v6 = false;
        std::uint16_t peer_port = 0, stack_port = 0;
        std::uint32_t snd_nxt = 0;  // ours
        std::uint32_t rcv_nxt = 0;  // what we expect from the stack
        bool established = false;
        bool fin_sent = false, fin_received = false;
        bool we_opened = false;
    };
    conn* find(bool v6, std::uint16_t stack_port, std::uint16_t peer_port);
    void forget(const conn* c);
    void respond(const test::parsed_frame& f);
    void on_tcp(const test::parsed_frame& f);
    void on_udp(const test::parsed_frame& f);
    void segment(const conn& c, std::uint8_t flags, const bytes& data = {}, std::vector<test::tcp_option> opts = {});
    void raw_segment(bool v6, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                     std::uint8_t flags);
    void emit(bytes frame) { out_.push_back(std::move(frame)); }

    env& e_;
    test::scripted_peer r4_, r6_;  // address resolution and echo requests
    std::deque<conn> conns_;
    std::vector<bytes> out_;
    std::uint16_t next_port_ = 50000;
};

}  // namespace lwsp::fuzz
