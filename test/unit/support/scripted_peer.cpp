#include "scripted_peer.hpp"

#include <stdexcept>
#include <utility>

namespace lwsp::test {

namespace {

// Signed distance a - b in sequence space (RFC 793 modular comparison).
int32_t seq_diff(uint32_t a, uint32_t b) {
    uint32_t d = a - b;
    // Spelled out rather than cast so that the result is defined for every d.
    return d <= 0x7fffffffu ? static_cast<int32_t>(d) : -static_cast<int32_t>(0xffffffffu - d) - 1;
}

}  // namespace

// ---------------------------------------------------------------- scripted_peer

scripted_peer::scripted_peer(endpoint_config self, endpoint_config stack, inject_fn inject)
    : self_(std::move(self)), stack_(std::move(stack)), inject_(std::move(inject)) {
    if (self_.ip.is_v6() != stack_.ip.is_v6())
        throw std::runtime_error("scripted_peer: peer and stack addresses must be the same family");
    if (!inject_) throw std::runtime_error("scripted_peer: inject function is empty");
}

void scripted_peer::send_frame(const bytes& frame) {
    ++frames_sent_;
    inject_(frame);
}

void scripted_peer::send_tcp(const tcp_segment& seg) {
    send_frame(tcp_frame(stack_.mac, self_.mac, self_.ip, stack_.ip, seg));
}

void scripted_peer::send_udp(uint16_t sport, uint16_t dport, const bytes& payload) {
    send_frame(udp_frame(stack_.mac, self_.mac, self_.ip, stack_.ip, sport, dport, payload));
}

void scripted_peer::send_echo_request(uint16_t id, uint16_t seq, const bytes& data) {
    send_frame(icmp_echo_request(stack_.mac, self_.mac, self_.ip, stack_.ip, id, seq, data));
}

void scripted_peer::send_echo_reply(uint16_t id, uint16_t seq, const bytes& data) {
    send_frame(icmp_echo_reply(stack_.mac, self_.mac, self_.ip, stack_.ip, id, seq, data));
}

void scripted_peer::send_resolution_request() {
    if (self_.ip.is_v6())
        send_frame(ndp_neighbor_solicitation(self_.mac, self_.ip, stack_.ip));
    else
        send_frame(arp_request(self_.mac, self_.ip, stack_.ip));
}

void scripted_peer::announce() {
    if (self_.ip.is_v6()) {
        // Receivers may ignore an unsolicited NA for a neighbour they have no
        // entry for (RFC 4861 7.2.5), but must create one from the source
        // link-layer option of an NS (7.2.3); the stack answers with an NA.
        send_resolution_request();
    } else {
        // ARP (RFC 826) merges the sender of any packet addressed to the
        // receiver, so a reply nobody asked for is enough.
        send_frame(arp_reply(self_.mac, self_.ip, stack_.mac, stack_.ip));
    }
}

bool scripted_peer::answer_resolution(const parsed_frame& f) {
    if (f.arp) {
        const arp_info& a = *f.arp;
        if (a.op != arp_op_request || a.target_ip != self_.ip || self_.ip.is_v6()) return false;
        send_frame(arp_reply(self_.mac, self_.ip, a.sender_mac, a.sender_ip));
        return true;
    }
    if (f.icmp && f.ip && f.icmp->v6 && f.icmp->type == icmpv6_neighbor_solicitation_type && f.icmp->nd_target &&
        *f.icmp->nd_target == self_.ip) {
        // A solicitation from the unspecified address is duplicate address
        // detection for our own address; answering would make the stack give
        // it up, which no test wants by accident.
        if (f.ip->src.is_unspecified()) return false;
        mac_addr to = f.icmp->nd_source_lladdr ? *f.icmp->nd_source_lladdr : f.eth_src;
        send_frame(ndp_neighbor_advertisement(self_.mac, self_.ip, to, f.ip->src, true));
        return true;
    }
    return false;
}

bool scripted_peer::auto_respond(const parsed_frame& f) {
    if (answer_resolution(f)) return true;
    if (f.icmp && f.ip && f.icmp->is_echo_request() && f.ip->dst == self_.ip) {
        send_frame(icmp_echo_reply(f.eth_src, self_.mac, self_.ip, f.ip->src, f.icmp->id, f.icmp->seq, f.icmp->data));
        return true;
    }
    return false;
}

bool scripted_peer::is_from_stack(const parsed_frame& f) const {
    return f.ip && f.ip->src == stack_.ip && f.ip->dst == self_.ip;
}

// ---------------------------------------------------------------- tcp_script

tcp_script::tcp_script(scripted_peer& peer, uint16_t local_port, uint16_t remote_port, uint32_t isn)
    : peer_(peer), local_port_(local_port), remote_port_(remote_port), isn_(isn), snd_nxt_(isn) {}

void tcp_script::send(uint32_t seq, uint32_t ack, uint8_t flags, const bytes& payload, std::vector<tcp_option> opts) {
    tcp_segment s;
    s.sport = local_port_;
    s.dport = remote_port_;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.window = window;
    s.options = std::move(opts);
    s.payload = payload;
    peer_.send_tcp(s);
}

void tcp_script::send_syn(std::vector<tcp_option> opts) {
    send(isn_, 0, tcp_syn, {}, std::move(opts));
    snd_nxt_ = isn_ + 1;
}

void tcp_script::send_syn_ack(std::vector<tcp_option> opts) {
    send(isn_, rcv_nxt_, tcp_syn | tcp_ack, {}, std::move(opts));
    snd_nxt_ = isn_ + 1;
}

void tcp_script::send_ack() { send(snd_nxt_, rcv_nxt_, tcp_ack, {}, {}); }

void tcp_script::send_data(const bytes& data, uint8_t extra_flags) {
    send(snd_nxt_, rcv_nxt_, static_cast<uint8_t>(tcp_ack | extra_flags), data, {});
    snd_nxt_ += static_cast<uint32_t>(data.size());
    // A caller that folds SYN or FIN into a data segment still gets the
    // sequence space those flags consume.
    if (extra_flags & tcp_syn) ++snd_nxt_;
    if (extra_flags & tcp_fin) ++snd_nxt_;
}

void tcp_script::send_text(const std::string& text, uint8_t extra_flags) {
    send_data(bytes(text.begin(), text.end()), extra_flags);
}

void tcp_script::send_fin() {
    send(snd_nxt_, rcv_nxt_, tcp_fin | tcp_ack, {}, {});
    ++snd_nxt_;
}

void tcp_script::send_rst() { send(snd_nxt_, 0, tcp_rst, {}, {}); }

void tcp_script::send_rst_ack() { send(snd_nxt_, rcv_nxt_, tcp_rst | tcp_ack, {}, {}); }

void tcp_script::send_raw(uint32_t seq, uint32_t ack, uint8_t flags, const bytes& payload,
                          std::vector<tcp_option> opts) {
    send(seq, ack, flags, payload, std::move(opts));
}

bool tcp_script::on_segment(const tcp_segment& seg, const ip_addr& src, const ip_addr& dst) {
    if (seg.sport != remote_port_ || seg.dport != local_port_ || src != peer_.stack().ip || dst != peer_.self().ip)
        return false;

    if (seg.has(tcp_ack)) {
        if (!snd_una_ || seq_diff(seg.ack, *snd_una_) > 0) snd_una_ = seg.ack;
    }
    stack_window_ = seg.window;

    // A reset carries no data a receiver would deliver.
    if (seg.has(tcp_rst)) {
        rst_received_ = true;
        return true;
    }

    uint32_t data_seq = seg.seq;
    if (seg.has(tcp_syn)) {
        // A SYN with a new ISN is a new incarnation of the connection; a
        // retransmitted one must not rewind what was already received.
        if (!stack_isn_ || *stack_isn_ != seg.seq) {
            stack_isn_ = seg.seq;
            rcv_nxt_ = seg.seq + 1;
            synchronized_ = true;
            received_.clear();
            fin_received_ = false;
            rst_received_ = false;
        }
        data_seq = seg.seq + 1;
    } else if (!synchronized_) {
        // Joining mid-stream (no SYN seen): take the stack's word for it.
        rcv_nxt_ = seg.seq;
        synchronized_ = true;
    }

    const auto len = static_cast<uint32_t>(seg.payload.size());
    int32_t off = seq_diff(rcv_nxt_, data_seq);
    if (off >= 0 && static_cast<uint32_t>(off) <= len) {
        received_.insert(received_.end(), seg.payload.begin() + off, seg.payload.end());
        rcv_nxt_ = data_seq + len;
        if (seg.has(tcp_fin)) {
            ++rcv_nxt_;
            fin_received_ = true;
        }
    }
    return true;
}

bool tcp_script::accept(const parsed_frame& f) {
    if (!f.tcp || !f.ip || !f.tcp_checksum_ok) return false;
    return on_segment(*f.tcp, f.ip->src, f.ip->dst);
}

bool tcp_script::accept(const bytes& frame) { return accept(parse_frame(frame)); }

std::vector<tcp_segment> tcp_script::accept_all(const std::vector<bytes>& frames) {
    std::vector<tcp_segment> out;
    for (const auto& fr : frames) {
        parsed_frame f = parse_frame(fr);
        if (accept(f)) out.push_back(*f.tcp);
    }
    return out;
}

// ---------------------------------------------------------------- free functions

std::vector<parsed_frame> parse_all(const std::vector<bytes>& frames) {
    std::vector<parsed_frame> out;
    out.reserve(frames.size());
    for (const auto& fr : frames) out.push_back(parse_frame(fr));
    return out;
}

std::vector<tcp_segment> tcp_segments(const std::vector<bytes>& frames, uint16_t port_filter) {
    std::vector<tcp_segment> out;
    for (const auto& fr : frames) {
        parsed_frame f = parse_frame(fr);
        if (!f.tcp) continue;
        if (port_filter != 0 && f.tcp->sport != port_filter && f.tcp->dport != port_filter) continue;
        out.push_back(std::move(*f.tcp));
    }
    return out;
}

std::vector<udp_info> udp_datagrams(const std::vector<bytes>& frames, uint16_t port_filter) {
    std::vector<udp_info> out;
    for (const auto& fr : frames) {
        parsed_frame f = parse_frame(fr);
        if (!f.udp) continue;
        if (port_filter != 0 && f.udp->sport != port_filter && f.udp->dport != port_filter) continue;
        out.push_back(std::move(*f.udp));
    }
    return out;
}

std::string describe_all(const std::vector<bytes>& frames) {
    std::string s;
    for (const auto& fr : frames) s += describe(fr) + "\n";
    return s;
}

}  // namespace lwsp::test
