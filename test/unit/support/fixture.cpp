#include "fixture.hpp"

namespace lwsp::test {

namespace {

const endpoint_config k_stack4{mac_addr::parse("02:00:00:00:00:01"), ip_addr::parse("192.0.2.1")};
const endpoint_config k_peer4{mac_addr::parse("02:00:00:00:00:02"), ip_addr::parse("192.0.2.2")};
const endpoint_config k_stack6{mac_addr::parse("02:00:00:00:00:01"), ip_addr::parse("2001:db8::1")};
const endpoint_config k_peer6{mac_addr::parse("02:00:00:00:00:02"), ip_addr::parse("2001:db8::2")};

lwsp::stack::options make_options(bool manual) {
    lwsp::stack::options o;
    o.manual_clock = manual;
    return o;
}

bool is_mld(const parsed_frame& f) {
    return f.icmp && f.icmp->v6 &&
           (f.icmp->type == 130 || f.icmp->type == 131 || f.icmp->type == 132 || f.icmp->type == 143);
}

}  // namespace

lan::lan(bool manual_clock, lwsp::link_offloads offloads, const link_wrapper& wrap)
    : lan(make_options(manual_clock), offloads, wrap) {}

lan::lan(const lwsp::stack::options& opts, lwsp::link_offloads offloads, const link_wrapper& wrap)
    : st(opts),
      link_owner(std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"))),
      link(*link_owner),
      peer4(k_peer4, k_stack4, [this](const bytes& f) { link.inject(f); }),
      peer6(k_peer6, k_stack6, [this](const bytes& f) { link.inject(f); }) {
    lwsp::interface_config cfg;
    cfg.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                                 *lwsp::ipv4_address::parse("0.0.0.0")};
    cfg.ipv6 = {*lwsp::ipv6_address::parse("2001:db8::1")};
    link.set_offloads(offloads);
    iface = st.attach(wrap ? wrap(link_owner) : link_owner, cfg);
    link.take();  // MLD reports sent while the interface came up
}

lan::~lan() { st.stop(); }

std::vector<parsed_frame> lan::pump() {
    std::vector<parsed_frame> out;
    for (;;) {
        std::vector<bytes> frames = link.take();
        if (frames.empty()) break;
        for (const bytes& raw : frames) {
            parsed_frame f = parse_frame(raw);
            transcript += describe(f) + "\n";
            if (peer4.answer_resolution(f) || peer6.answer_resolution(f) || is_mld(f)) continue;
            out.push_back(std::move(f));
        }
    }
    return out;
}

std::vector<tcp_segment> lan::tcp_out(std::uint16_t stack_port) {
    std::vector<tcp_segment> out;
    for (parsed_frame& f : pump()) {
        if (!f.tcp) continue;
        if (stack_port != 0 && f.tcp->sport != stack_port) continue;
        out.push_back(*f.tcp);
    }
    return out;
}

std::vector<parsed_frame> lan::wait_pump(int timeout_ms) {
    link.wait_for(1, std::chrono::milliseconds(timeout_ms));
    return pump();
}

void lan::advance(int ms, int step) {
    while (ms > 0) {
        const int d = ms < step ? ms : step;
        st.advance_time(lwsp::millis(d));
        ms -= d;
    }
}

bool handshake(lan& net, tcp_script& conn) {
    conn.send_syn();
    for (parsed_frame& f : net.pump()) {
        if (f.tcp && f.tcp->has(tcp_syn | tcp_ack)) {
            conn.accept(f);
            conn.send_ack();
            return true;
        }
    }
    return false;
}

}  // namespace lwsp::test
