// The fuzzing peer: see peer.hpp.
#include "peer.hpp"

#include <algorithm>

namespace lwsp::fuzz {

namespace {

constexpr std::uint16_t echo_port = 7, discard_port = 9, daytime_port = 13, unreachable_udp_port = 1;

bool is_listening(std::uint16_t port) { return port == echo_port || port == discard_port || port == daytime_port; }

std::uint32_t isn_for(std::uint16_t peer_port, std::uint16_t stack_port) {
    return 0x20000000u + (static_cast<std::uint32_t>(peer_port) << 12) + stack_port;
}

}  // namespace

peer::peer(env& e)
    : e_(e),
      r4_({net().peer_mac, net().peer4}, {net().stack_mac, net().stack4}, [this](const bytes& f) { emit(f); }),
      r6_({net().peer_mac, net().peer6}, {net().stack_mac, net().stack6}, [this](const bytes& f) { emit(f); }) {}

void peer::reset() {
    conns_.clear();
    out_.clear();
    silent = zero_window = false;
    next_port_ = 50000;
}

peer::conn* peer::find(bool v6, std::uint16_t stack_port, std::uint16_t peer_port) {
    for (conn& c : conns_)
        if (c.v6 == v6 && c.stack_port == stack_port && c.peer_port == peer_port) return &c;
    return nullptr;
}

void peer::forget(const conn* c) {
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (&*it == c) {
            conns_.erase(it);
            return;
        }
    }
}

void peer::raw_segment(bool v6, std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                       std::uint8_t flags) {
    test::tcp_segment s;
    s.sport = sport;
    s.dport = dport;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.window = zero_window ? 0 : 65535;
    emit(test::tcp_frame(net().stack_mac, net().peer_mac, net().peer(v6), net().stack(v6), s));
}

void peer::segment(const conn& c, std::uint8_t flags, const bytes& data, std::vector<test::tcp_option> opts) {
    test::tcp_segment s;
    s.sport = c.peer_port;
    s.dport = c.stack_port;
    s.seq = (flags & test::tcp_syn) ? c.snd_nxt - 1 : c.snd_nxt;
    s.ack = c.rcv_nxt;
    s.flags = flags;
    s.window = zero_window ? 0 : 65535;
    s.options = std::move(opts);
    s.payload = data;
    emit(test::tcp_frame(net().stack_mac, net().peer_mac, net().peer(c.v6), net().stack(c.v6), s));
}

bool peer::turn() {
    bool moved = false;
    for (int round = 0; round < 64; ++round) {
        e_.settle();
        auto frames = e_.take();
        if (frames.empty() && out_.empty()) break;
        moved = true;
        for (auto& fr : frames) respond(test::parse_frame(fr.first));
        std::vector<bytes> out;
        out.swap(out_);
        for (const bytes& f : out) e_.inject(f);
    }
    return moved;
}

void peer::respond(const test::parsed_frame& f) {
    if (r4_.answer_resolution(f) || r6_.answer_resolution(f)) return;
    if (silent || !f.ip) return;
    const bool v6 = f.ip->version == 6;
    if (f.ip->dst != net().peer(v6)) return;
    if (f.icmp && f.icmp->is_echo_request()) {
        (v6 ? r6_ : r4_).auto_respond(f);
        return;
    }
    if (f.tcp && f.tcp_checksum_ok) on_tcp(f);
    if (f.udp && f.udp->checksum_ok) on_udp(f);
}

void peer::on_tcp(const test::parsed_frame& f) {
    const test::tcp_segment& s = *f.tcp;
    const bool v6 = f.ip->version == 6;
    conn* c = find(v6, s.sport, s.dport);
    if (s.has(test::tcp_rst)) {
        if (c != nullptr) forget(c);
        return;
    }
    if (s.has(test::tcp_syn) && !s.has(test::tcp_ack)) {
        if (c == nullptr) {
            if (!is_listening(s.dport)) {
                raw_segment(v6, s.dport, s.sport, 0, s.seq + 1, test::tcp_rst | test::tcp_ack);
                return;
            }
            conn n;
            n.v6 = v6;
            n.peer_port = s.dport;
            n.stack_port = s.sport;
            n.snd_nxt = isn_for(n.peer_port, n.stack_port) + 1;
            conns_.push_back(n);
            c = &conns_.back();
        }
        c->rcv_nxt = s.seq + 1;
        segment(*c, test::tcp_syn | test::tcp_ack, {}, {test::opt_mss(v6 ? 1440 : 1460)});
        return;
    }
    if (c == nullptr) {
        raw_segment(v6, s.dport, s.sport, s.ack, 0, test::tcp_rst);
        return;
    }
    if (s.has(test::tcp_syn | test::tcp_ack)) {  // our connect answered
        if (!c->we_opened) return;
        c->rcv_nxt = s.seq + 1;
        c->established = true;
        segment(*c, test::tcp_ack);
        return;
    }
    bool ack_needed = false;
    if (!c->established && s.has(test::tcp_ack)) {
        c->established = true;
        if (c->peer_port == daytime_port && !c->fin_sent) {
            const std::string line = "Tuesday, 1 December 2026 10:00:00 UTC\r\n";
            segment(*c, test::tcp_psh | test::tcp_ack, bytes(line.begin(), line.end()));
            c->snd_nxt += static_cast<std::uint32_t>(line.size());
            segment(*c, test::tcp_fin | test::tcp_ack);
            c->snd_nxt += 1;
            c->fin_sent = true;
        }
    }
    if (!s.payload.empty() || s.has(test::tcp_fin)) {
        if (s.seq == c->rcv_nxt) {
            c->rcv_nxt += static_cast<std::uint32_t>(s.payload.size());
            if (c->peer_port == echo_port && !s.payload.empty() && !c->fin_sent) {
                // Echoed in segments the stack takes whatever its MSS.
                for (std::size_t off = 0; off < s.payload.size(); off += 536) {
                    const std::size_t n = std::min<std::size_t>(536, s.payload.size() - off);
                    segment(*c, test::tcp_psh | test::tcp_ack,
                            bytes(s.payload.begin() + static_cast<long>(off),
                                  s.payload.begin() + static_cast<long>(off + n)));
                    c->snd_nxt += static_cast<std::uint32_t>(n);
                }
            }
            if (s.has(test::tcp_fin)) {
                c->rcv_nxt += 1;
                c->fin_received = true;
            }
        }
        ack_needed = true;
    }
    if (c->fin_received && !c->fin_sent) {
        segment(*c, test::tcp_fin | test::tcp_ack);
        c->snd_nxt += 1;
        c->fin_sent = true;
        ack_needed = false;
    } else if (ack_needed) {
        segment(*c, test::tcp_ack);
    }
    if (c->fin_received && c->fin_sent && s.has(test::tcp_ack) && s.ack == c->snd_nxt) forget(c);
}

void peer::on_udp(const test::parsed_frame& f) {
    const bool v6 = f.ip->version == 6;
    const test::udp_info& u = *f.udp;
    if (u.dport == echo_port) {
        emit(
            test::udp_frame(net().stack_mac, net().peer_mac, net().peer(v6), f.ip->src, echo_port, u.sport, u.payload));
    } else if (u.dport == unreachable_udp_port) {
        // The offending datagram's IP header and the start of its data, as
        // RFC 792 / RFC 4443 quote it.
        const bytes quoted =
            v6 ? test::ipv6_packet(f.ip->src, f.ip->dst, test::ip_proto_udp, bytes(u.payload.begin(), u.payload.end()))
               : test::ipv4_packet(f.ip->src, f.ip->dst, test::ip_proto_udp, bytes(u.payload.begin(), u.payload.end()));
        bytes udp_header = {static_cast<std::uint8_t>(u.sport >> 8),
                            static_cast<std::uint8_t>(u.sport),
                            static_cast<std::uint8_t>(u.dport >> 8),
                            static_cast<std::uint8_t>(u.dport),
                            static_cast<std::uint8_t>(u.length >> 8),
                            static_cast<std::uint8_t>(u.length),
                            0,
                            0};
        bytes body(4, 0);  // unused
        const std::size_t ip_len = v6 ? 40 : 20;
        body.insert(body.end(), quoted.begin(), quoted.begin() + static_cast<long>(ip_len));
        body.insert(body.end(), udp_header.begin(), udp_header.end());
        emit(
            test::icmp_frame(net().stack_mac, net().peer_mac, net().peer(v6), f.ip->src, v6 ? 1 : 3, v6 ? 4 : 3, body));
    }
}

void peer::connect(bool v6, std::uint16_t stack_port) {
    conn n;
    n.v6 = v6;
    n.peer_port = next_port_++;
    n.stack_port = stack_port;
    n.snd_nxt = isn_for(n.peer_port, stack_port) + 1;
    n.we_opened = true;
    conns_.push_back(n);
    segment(conns_.back(), test::tcp_syn, {}, {test::opt_mss(1460), test::opt_wscale(2)});
}

void peer::send(std::size_t index, std::size_t bytes_n) {
    if (conns_.empty()) return;
    conn& c = conns_[index % conns_.size()];
    if (c.fin_sent) return;
    for (std::size_t off = 0; off < bytes_n; off += 1400) {
        const std::size_t n = std::min<std::size_t>(1400, bytes_n - off);
        bytes data(n);
        for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>('A' + (off + i) % 26);
        segment(c, test::tcp_psh | test::tcp_ack, data);
        c.snd_nxt += static_cast<std::uint32_t>(n);
    }
}

void peer::close(std::size_t index) {
    if (conns_.empty()) return;
    conn& c = conns_[index % conns_.size()];
    if (c.fin_sent) return;
    segment(c, test::tcp_fin | test::tcp_ack);
    c.snd_nxt += 1;
    c.fin_sent = true;
}

void peer::reset_conn(std::size_t index) {
    if (conns_.empty()) return;
    const std::size_t i = index % conns_.size();
    segment(conns_[i], test::tcp_rst | test::tcp_ack);
    conns_.erase(conns_.begin() + static_cast<long>(i));
}

void peer::send_udp(bool v6, std::uint16_t stack_port, std::size_t bytes_n) {
    bytes data(bytes_n, 'u');
    emit(test::udp_frame(net().stack_mac, net().peer_mac, net().peer(v6), net().stack(v6), 4000, stack_port, data));
}

}  // namespace lwsp::fuzz
