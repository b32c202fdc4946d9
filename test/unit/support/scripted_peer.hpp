#pragma once
// A scripted remote host for unit tests. scripted_peer knows its own and the
// stack's MAC/IP addresses and turns "send this TCP segment / UDP datagram /
// ARP or ND answer" into complete Ethernet frames handed to an inject
// function; it performs no I/O of its own, so a test decides exactly when
// each frame reaches the stack. tcp_script layers one TCP connection on top:
// it tracks both directions' sequence numbers from what it sent and from the
// frames the test feeds back, so that a test reads like a packet script
// ("SYN, expect SYN-ACK, send data, expect ACK of it") without hand-counting
// sequence numbers. It uses only the independent wire-format code in
// packet.hpp, never lwIP.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "packet.hpp"

namespace lwsp::test {

struct endpoint_config {
    mac_addr mac;
    ip_addr ip;
};

class scripted_peer {
public:
    using inject_fn = std::function<void(const bytes&)>;

    // self: the peer's (our) addresses; stack: the addresses of the stack
    // under test. Both IPs must be of the same family.
    scripted_peer(endpoint_config self, endpoint_config stack, inject_fn inject);

    const endpoint_config& self() const { return self_; }
    const endpoint_config& stack() const { return stack_; }
    // Frames handed to the inject function so far.
    size_t frames_sent() const { return frames_sent_; }

    void send_frame(const bytes& frame);
    // Wrapped in IP/Ethernet from self to stack.
    void send_tcp(const tcp_segment& seg);
    void send_udp(uint16_t sport, uint16_t dport, const bytes& payload);
    void send_echo_request(uint16_t id, uint16_t seq, const bytes& data = {});
    void send_echo_reply(uint16_t id, uint16_t seq, const bytes& data = {});

    // Address resolution, IPv4 (ARP) or IPv6 (ND) by the peer's family.
    // Ask for the stack's link-layer address.
    void send_resolution_request();
    // Tell the stack where we are without being asked (an ARP reply or an
    // unsolicited override NA addressed to the stack), so that the stack's
    // first packet to us need not wait for resolution.
    void announce();
    // If f is the stack asking for our address (ARP who-has our IP, or a
    // neighbour solicitation for it), answer it and return true.
    bool answer_resolution(const parsed_frame& f);
    // Answers resolution requests and echo requests to us; returns true if f
    // was one of them. Lets a test keep the stack's neighbour cache happy
    // while it only scripts the protocol it cares about.
    bool auto_respond(const parsed_frame& f);

    // Whether f is addressed to us at the IP layer and comes from the stack.
    bool is_from_stack(const parsed_frame& f) const;

private:
    endpoint_config self_;
    endpoint_config stack_;
    inject_fn inject_;
    size_t frames_sent_ = 0;
};

// One TCP connection between the peer (local_port) and the stack
// (remote_port). snd_* is the peer's send side, rcv_* what it has received
// from the stack, in the usual RFC 793 sense.
class tcp_script {
public:
    tcp_script(scripted_peer& peer, uint16_t local_port, uint16_t remote_port, uint32_t isn = 1000);

    // Window advertised in every segment the script sends.
    uint16_t window = 65535;

    uint16_t local_port() const { return local_port_; }
    uint16_t remote_port() const { return remote_port_; }
    uint32_t isn() const { return isn_; }
    uint32_t snd_nxt() const { return snd_nxt_; }
    uint32_t rcv_nxt() const { return rcv_nxt_; }
    // For tests that need to desynchronise on purpose.
    void set_snd_nxt(uint32_t v) { snd_nxt_ = v; }
    void set_rcv_nxt(uint32_t v) {
        rcv_nxt_ = v;
        synchronized_ = true;
    }

    // What has been learned from the stack's segments.
    // The stack's ISN, once a SYN from it was seen.
    std::optional<uint32_t> stack_isn() const { return stack_isn_; }
    // Highest acknowledgement number the stack has sent.
    std::optional<uint32_t> snd_una() const { return snd_una_; }
    // Last window the stack advertised (unscaled, as on the wire).
    std::optional<uint16_t> stack_window() const { return stack_window_; }
    bool fin_received() const { return fin_received_; }
    bool rst_received() const { return rst_received_; }
    // In-order payload bytes the stack has sent on this connection.
    const bytes& received() const { return received_; }
    std::string received_string() const { return std::string(received_.begin(), received_.end()); }
    void clear_received() { received_.clear(); }

    // Active open by the peer: SYN with seq = isn; snd_nxt becomes isn + 1.
    // Resending repeats the same segment.
    void send_syn(std::vector<tcp_option> opts = {opt_mss(1460)});
    // Answer to an active open by the stack: SYN|ACK, seq = isn, ack = rcv_nxt.
    void send_syn_ack(std::vector<tcp_option> opts = {opt_mss(1460)});
    // ACK of rcv_nxt at snd_nxt.
    void send_ack();
    // ACK|extra_flags carrying data at snd_nxt; advances snd_nxt by its length.
    void send_data(const bytes& data, uint8_t extra_flags = tcp_psh);
    // Named apart from send_data so that send_data({...}) stays unambiguous.
    void send_text(const std::string& text, uint8_t extra_flags = tcp_psh);
    // FIN|ACK at snd_nxt; advances snd_nxt by 1.
    void send_fin();
    // Bare RST at snd_nxt (what a host sends into an established connection).
    void send_rst();
    // RST|ACK acknowledging rcv_nxt: the form that refuses the stack's SYN
    // (RFC 793 only accepts a RST in SYN-SENT if it ACKs the SYN).
    void send_rst_ack();
    // Anything at all; does not touch snd_nxt.
    void send_raw(uint32_t seq, uint32_t ack, uint8_t flags, const bytes& payload = {},
                  std::vector<tcp_option> opts = {});

    // Consumes a segment the stack sent. Returns false, changing nothing, when
    // it is not for this connection's 4-tuple (stack:remote_port ->
    // peer:local_port). Otherwise: a SYN records the stack's ISN and sets
    // rcv_nxt to ISN + 1; in-order payload (and a FIN right after it) advances
    // rcv_nxt and is appended to received(); retransmitted bytes are not
    // counted twice, and a segment beyond rcv_nxt (a gap) is not consumed.
    bool on_segment(const tcp_segment& seg, const ip_addr& src, const ip_addr& dst);
    // on_segment for a frame that carries TCP with a valid checksum; false
    // for anything else.
    bool accept(const parsed_frame& f);
    bool accept(const bytes& frame);
    // accept() for each frame; returns the segments that were for us.
    std::vector<tcp_segment> accept_all(const std::vector<bytes>& frames);

private:
    void send(uint32_t seq, uint32_t ack, uint8_t flags, const bytes& payload, std::vector<tcp_option> opts);

    scripted_peer& peer_;
    uint16_t local_port_;
    uint16_t remote_port_;
    uint32_t isn_;
    uint32_t snd_nxt_;
    uint32_t rcv_nxt_ = 0;
    bool synchronized_ = false;
    std::optional<uint32_t> stack_isn_;
    std::optional<uint32_t> snd_una_;
    std::optional<uint16_t> stack_window_;
    bool fin_received_ = false;
    bool rst_received_ = false;
    bytes received_;
};

std::vector<parsed_frame> parse_all(const std::vector<bytes>& frames);
// TCP segments (any checksum) among frames; with a port filter, only those
// whose source or destination port equals it.
std::vector<tcp_segment> tcp_segments(const std::vector<bytes>& frames, uint16_t port_filter = 0);
std::vector<udp_info> udp_datagrams(const std::vector<bytes>& frames, uint16_t port_filter = 0);
// describe() of each frame, one per line; for failure messages.
std::string describe_all(const std::vector<bytes>& frames);

}  // namespace lwsp::test
