// make_corpus — writes the seed corpora of the harnesses into
// <dir>/<harness>/<seed name>, from the record writers each harness's
// format header defines (so a seed is built exactly as the harness reads).
// Seeds are small and each starts one kind of conversation the fuzzer
// then mutates; scripts/fuzz runs on a copy of them.  Regenerate after a
// format change with `build/fuzz/fuzz/fuzz_make_corpus fuzz/corpus`.
//
// Usage: fuzz_make_corpus <corpus directory>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "address_strings_format.hpp"
#include "frames_format.hpp"
#include "wsp_calls_format.hpp"

namespace {

using lwsp::fuzz::output;
using bytes = std::vector<std::uint8_t>;

std::filesystem::path g_root;

void save(const std::string& harness, const std::string& name, const bytes& data) {
    const std::filesystem::path dir = g_root / harness;
    std::filesystem::create_directories(dir);
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) {
        std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).string().c_str());
        std::exit(1);
    }
}

bytes text(const std::string& s) { return bytes(s.begin(), s.end()); }

// ---- fuzz_frames -----------------------------------------------------------------

namespace fr = lwsp::fuzz::frames;

constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20;

// Socket indices of the initial sockets (fuzz_frames.cpp: per family, in
// socket_index order).
unsigned sock(bool v6, fr::socket_index i) { return (v6 ? fr::sockets_per_family : 0) + i; }

void tcp(output& o, bool v6, const fr::tcp_fields& t, const bytes& data = {}, const fr::ip_opts* ip = nullptr,
         const fr::frame_opts* fo = nullptr) {
    fr::record_head(o, fr::k_tcp, v6, ip, fo);
    fr::tcp_body(o, t);
    fr::payload(o, data);
}

fr::tcp_fields seg(std::uint8_t target, std::uint8_t flags) {
    fr::tcp_fields t;
    t.target = target;
    t.flags = flags;
    return t;
}

bytes std_opts_syn() {
    output o;
    o.u8(fr::opt_mss | fr::opt_ws | fr::opt_sack_perm | fr::opt_ts).u16(1460).u8(7).u32(12345).u32(0);
    return o.data();
}

void frames_seeds() {
    const std::string h = "fuzz_frames";
    for (bool v6 : {false, true}) {
        const std::string f = v6 ? "_v6" : "_v4";
        {  // Setup and teardown only, every configuration bit once.
            for (unsigned cfg : {0x00u, 0x05u, 0x0au, 0x13u, 0x28u, 0x58u, 0xd0u}) {
                output o;
                o.u8(cfg);
                if (v6) save(h, "idle_cfg" + std::to_string(cfg), o.data());
            }
        }
        {  // Data both ways on the accepted connection, then the peer closes.
            output o;
            o.u8(fr::cfg_auto_ack);
            tcp(o, v6, seg(fr::tt_accepted, PSH | ACK), text("GET / HTTP/1.0\r\n\r\n"));
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_recv, 100);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_send, 3000);
            fr::clock_rec(o, 300);
            tcp(o, v6, seg(fr::tt_accepted, FIN | ACK));
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_recv, 100);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_close, 0);
            fr::clock_rec(o, 1000);
            save(h, "accepted_data" + f, o.data());
        }
        {  // The application's connect is answered; data; a reset.
            output o;
            o.u8(0);
            fr::tcp_fields sa = seg(fr::tt_active, SYN | ACK);
            sa.ack_delta = 0;
            sa.extras = fr::tcp_x_std_opts;
            sa.std_opts = std_opts_syn();
            tcp(o, v6, sa);
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_send, 100);
            tcp(o, v6, seg(fr::tt_active, PSH | ACK), text("welcome"));
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_enum_events, 0);
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_recv, 1000);
            tcp(o, v6, seg(fr::tt_active, RST));
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_query, 0);
            save(h, "active_connect" + f, o.data());
        }
        {  // The connect is refused, then the SYN retries run out.
            output o;
            o.u8(0);
            tcp(o, v6, seg(fr::tt_active, RST | ACK));
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_connect, 1);
            fr::clock_rec(o, 200000);
            fr::app_rec(o, sock(v6, fr::s_active), fr::a_query, 0);
            save(h, "active_refused" + f, o.data());
        }
        {  // A second connection through the listener, accepted, with options.
            output o;
            o.u8(0);
            fr::tcp_fields syn = seg(fr::tt_new_conn, SYN);
            syn.port_index = 3;
            syn.extras = fr::tcp_x_std_opts;
            syn.std_opts = std_opts_syn();
            tcp(o, v6, syn);
            fr::tcp_fields ack = seg(fr::tt_new_conn, ACK);
            ack.port_index = 3;
            tcp(o, v6, ack);
            fr::app_rec(o, sock(v6, fr::s_listener), fr::a_accept, 0);
            ack.flags = PSH | ACK;
            tcp(o, v6, ack, text("more"));
            fr::app_rec(o, 10, fr::a_recv, 10);
            fr::app_rec(o, 10, fr::a_shutdown, 1);
            save(h, "listener_new_conn" + f, o.data());
        }
        {  // A SYN whose last option byte is a multi-byte kind (MSS), delivered
           // zero-copy: lwIP's tcp_parseopt reads the length byte after it.
            for (bool exact : {false, true}) {
                output o;
                o.u8(0);
                fr::tcp_fields syn = seg(fr::tt_new_conn, SYN);
                syn.port_index = 5;
                syn.extras = fr::tcp_x_raw_opts;
                syn.raw_opts = {1, 1, 1, 2};
                fr::frame_opts fo;
                fo.mask = fr::fr_exact;
                tcp(o, v6, syn, {}, nullptr, exact ? &fo : nullptr);
                save(h, std::string("syn_option_kind_last") + (exact ? "_zero_copy" : "") + f, o.data());
            }
        }
        {  // Out-of-order data, a gap filled, urgent data, a window of zero.
            output o;
            o.u8(fr::cfg_auto_ack);
            fr::tcp_fields t = seg(fr::tt_accepted, PSH | ACK);
            t.seq_delta = 1000;
            tcp(o, v6, t, bytes(500, 'b'));
            t.seq_delta = 0;
            tcp(o, v6, t, bytes(1000, 'a'));
            t.flags = URG | PSH | ACK;
            t.extras = fr::tcp_x_urgent;
            t.urgent = 3;
            tcp(o, v6, t, text("urgent"));
            fr::tcp_fields z = seg(fr::tt_accepted, ACK);
            z.window = 0;
            z.seq_delta = 1500;  // the 500 bytes already queued out of order
            tcp(o, v6, z);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_send, 5000);
            fr::clock_rec(o, 30000);
            save(h, "ooseq_urgent_zero_window" + f, o.data());
        }
        {  // Retransmissions with nobody answering, then the close.
            output o;
            o.u8(0x20 | 0x80);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_send, 20000);
            fr::clock_rec(o, 60000);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_close, 2);
            save(h, "retransmit" + f, o.data());
        }
        {  // Offloaded frames: one GSO frame of segments, a partial and a
           // wrong-but-verified checksum.
            output o;
            o.u8(fr::cfg_tx_offloads | fr::cfg_auto_ack);
            fr::frame_opts fo;
            fo.mask = fr::fr_offload;
            fo.csum = 1;
            fo.gso_size = 1448;
            tcp(o, v6, seg(fr::tt_accepted, PSH | ACK), bytes(8000, 'g'), nullptr, &fo);
            fr::frame_opts bad;
            bad.mask = fr::fr_offload | fr::fr_bad_csum;
            bad.csum = 2;
            bad.csum_xor = 0x1234;
            tcp(o, v6, seg(fr::tt_accepted, PSH | ACK), text("verified"), nullptr, &bad);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_recv, 10000);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_send, 30000);
            save(h, "offload" + f, o.data());
        }
        {  // UDP to each socket and to a closed port; the application reads.
            output o;
            o.u8(0);
            fr::record_head(o, fr::k_udp, v6);
            fr::udp_body(o, fr::ut_connected);
            fr::payload(o, text("to the connected socket"));
            fr::record_head(o, fr::k_udp, v6);
            fr::udp_body(o, fr::ut_bound);
            fr::payload(o, text("to port 53"));
            fr::record_head(o, fr::k_udp, v6);
            fr::udp_body(o, fr::ut_closed_port);
            fr::payload(o, text("nobody"));
            fr::record_head(o, fr::k_udp, v6);
            fr::udp_body(o, fr::ut_explicit, fr::udp_x_length, 6000, 5353, 4);
            fr::payload(o, text("short length"));
            fr::app_rec(o, sock(v6, fr::s_udp_connected), fr::a_recv, 5);
            fr::app_rec(o, sock(v6, fr::s_udp_bound), fr::a_recv, 100);
            fr::app_rec(o, sock(v6, fr::s_udp_bound), fr::a_send, 100);
            fr::app_rec(o, sock(v6, fr::s_udp_connected), fr::a_ov_recv, 100);
            fr::record_head(o, fr::k_udp, v6);
            fr::udp_body(o, fr::ut_connected);
            fr::payload(o, text("completes the overlapped receive"));
            fr::app_rec(o, sock(v6, fr::s_udp_connected), fr::a_ov_results, 0);
            save(h, "udp" + f, o.data());
        }
        {  // A fragmented datagram: in order, reversed, one missing, overlapping.
            for (std::uint8_t order : {fr::fo_in_order, fr::fo_reverse, fr::fo_drop_one, fr::fo_overlap, fr::fo_shuffle,
                                       fr::fo_duplicate_one}) {
                output o;
                o.u8(0);
                fr::ip_opts ip;
                ip.mask = fr::ip_fragment | fr::ip_id;
                ip.id = 0x4242;
                ip.frag_units = 64;
                ip.frag_order = order;
                ip.frag_seed = 7;
                fr::record_head(o, fr::k_udp, v6, &ip);
                fr::udp_body(o, fr::ut_bound);
                fr::payload_generated(o, 3000);
                fr::app_rec(o, sock(v6, fr::s_udp_bound), fr::a_recv, 4000);
                fr::clock_rec(o, 70000);
                save(h, "fragments_order" + std::to_string(order) + f, o.data());
            }
        }
        {  // Echo request, and an echo request fragmented, to the stack.
            output o;
            o.u8(0);
            fr::record_head(o, fr::k_icmp, v6);
            fr::icmp_head(o, v6 ? 128 : 8, 0, 0x00010001, fr::ib_tail);
            fr::icmp_tail(o, text("ping"));
            fr::ip_opts ip;
            ip.mask = fr::ip_fragment;
            ip.frag_units = 16;
            fr::record_head(o, fr::k_icmp, v6, &ip);
            fr::icmp_head(o, v6 ? 128 : 8, 0, 0x00010002, fr::ib_tail);
            fr::icmp_tail(o, bytes(1000, 'p'));
            save(h, "echo" + f, o.data());
        }
        {  // Errors quoting the stack's own packets.
            struct err {
                std::uint8_t type, code;
                std::uint32_t word;
                std::uint8_t target;
            };
            const std::vector<err> errs =
                v6 ? std::vector<err>{{1, 4, 0, fr::qt_udp_connected}, {2, 0, 1280, fr::qt_accepted},
                                      {2, 0, 600, fr::qt_active},      {3, 0, 0, fr::qt_accepted},
                                      {4, 0, 40, fr::qt_accepted},     {1, 1, 0, fr::qt_active}}
                   : std::vector<err>{{3, 3, 0, fr::qt_udp_connected},
                                      {3, 4, 576, fr::qt_accepted},
                                      {3, 1, 0, fr::qt_active},
                                      {11, 0, 0, fr::qt_accepted},
                                      {12, 0, 0x14000000u, fr::qt_accepted},
                                      {5, 1, 0xc0000203u, fr::qt_active},
                                      {4, 0, 0, fr::qt_udp_bound}};
            output o;
            o.u8(fr::cfg_auto_ack);
            for (const err& e : errs) {
                fr::record_head(o, fr::k_icmp, v6);
                fr::icmp_head(o, e.type, e.code, e.word, fr::ib_quote);
                o.u8(e.target).u8(0);
                fr::icmp_tail(o, {});
            }
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_send, 4000);
            fr::app_rec(o, sock(v6, fr::s_udp_connected), fr::a_send, 10);
            fr::app_rec(o, sock(v6, fr::s_udp_connected), fr::a_query, 0);
            save(h, "icmp_errors" + f, o.data());
        }
        {  // IP options / extension headers on a TCP segment.
            output o;
            o.u8(0);
            fr::ip_opts ip;
            ip.mask = fr::ip_options | fr::ip_tos | fr::ip_ttl;
            ip.tos = 0x03;  // ECN CE
            ip.ttl = 1;
            if (!v6) {
                ip.v4_options = {7,   11, 4, 0, 0, 0, 0, 0, 0, 0, 0,  // record route
                                 148, 4,  0, 0,                       // router alert
                                 1};                                  // NOP
            } else {
                ip.exts.push_back({0, 0, {5, 2, 0, 0, 1, 0}});   // hop-by-hop: router alert, PadN
                ip.exts.push_back({60, 0, {1, 4, 0, 0, 0, 0}});  // destination options: PadN
                ip.exts.push_back({43, 2, bytes(22, 0)});        // routing header type 0
                ip.exts.back().body[0] = 0;
                ip.exts.back().body[1] = 1;                         // segments left
                ip.exts.push_back({60, 0, {0xc2, 4, 0, 0, 0, 0}});  // unknown option, act 11
            }
            tcp(o, v6, seg(fr::tt_accepted, PSH | ACK), text("with options"), &ip);
            save(h, "ip_options" + f, o.data());
        }
        {  // A land attack: a SYN from the stack's own address (loopback).
            output o;
            o.u8(0);
            fr::ip_opts ip;
            ip.mask = fr::ip_src;
            ip.src = 1;  // the stack
            fr::tcp_fields syn = seg(fr::tt_new_conn, SYN);
            syn.port_index = 9;
            tcp(o, v6, syn, {}, &ip);
            ip.dst = 4;
            ip.mask = fr::ip_src | fr::ip_dst;
            fr::record_head(o, fr::k_udp, v6, &ip);
            fr::udp_body(o, fr::ut_closed_port);
            fr::payload(o, text("from myself"));
            save(h, "own_address" + f, o.data());
        }
        {  // Closed port; SYN flood of the listener.
            output o;
            o.u8(0);
            tcp(o, v6, seg(fr::tt_closed_port, SYN));
            for (std::uint8_t i = 0; i < 12; ++i) {
                fr::tcp_fields syn = seg(fr::tt_new_conn, SYN);
                syn.port_index = i;
                tcp(o, v6, syn);
            }
            fr::clock_rec(o, 25000);
            save(h, "syn_flood" + f, o.data());
        }
        {  // Both sides close at once (TIME_WAIT), then an old duplicate.
            output o;
            o.u8(fr::cfg_auto_ack);
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_shutdown, 1);
            tcp(o, v6, seg(fr::tt_accepted, FIN | ACK));
            fr::app_rec(o, sock(v6, fr::s_accepted), fr::a_close, 0);
            fr::tcp_fields old = seg(fr::tt_accepted, PSH | ACK);
            old.seq_delta = -1;
            tcp(o, v6, old, text("x"));
            fr::clock_rec(o, 130000);
            save(h, "time_wait" + f, o.data());
        }
    }
    // IPv6 neighbour discovery and MLD.
    {
        output o;
        o.u8(0);
        auto nd = [&](std::uint8_t type, std::uint32_t word, fr::icmp_body mode, std::vector<std::uint8_t> sels,
                      const bytes& opts) {
            fr::record_head(o, fr::k_icmp, true);
            fr::icmp_head(o, type, 0, word, mode);
            for (std::uint8_t s : sels) o.u8(s);
            fr::icmp_tail(o, opts);
        };
        const bytes peer_lladdr = {1, 1, 2, 0, 0, 0, 0, 2};                      // source link-layer address
        const bytes target_lladdr = {2, 1, 2, 0, 0, 0, 0, 2};                    // target link-layer address
        nd(135, 0, fr::ib_one_address, {fr::a6_stack}, peer_lladdr);             // NS for the stack
        nd(136, 0x60000000u, fr::ib_one_address, {fr::a6_peer}, target_lladdr);  // NA, solicited + override
        bytes ra = {0, 0, 0, 0, 0, 0, 0, 0};                                     // reachable, retrans timers
        const bytes prefix = {3,    4,    64,   0xc0, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0,
                              0x20, 0x01, 0x0d, 0xb8, 0, 1, 0,    0,    0, 0, 0,    0,    0, 0, 0, 0};
        ra.insert(ra.end(), prefix.begin(), prefix.end());
        const bytes mtu = {5, 1, 0, 0, 0, 0, 0x05, 0x00};
        ra.insert(ra.end(), mtu.begin(), mtu.end());
        ra.insert(ra.end(), peer_lladdr.begin(), peer_lladdr.end());
        nd(134, 0x40000708u, fr::ib_tail, {}, ra);                                         // RA: hop limit 64, lifetime
        nd(137, 0, fr::ib_two_addresses, {fr::a6_router_ll, fr::a6_peer}, target_lladdr);  // redirect
        nd(133, 0, fr::ib_tail, {}, peer_lladdr);                                          // RS
        nd(130, 0x03e80000u, fr::ib_tail, {}, bytes(16, 0));                               // MLD general query
        nd(130, 0x00010000u, fr::ib_one_address, {fr::a6_solicited}, {});                  // MLD specific query
        fr::clock_rec(o, 12000);
        fr::app_rec(o, sock(true, fr::s_accepted), fr::a_send, 100);
        save("fuzz_frames", "nd_mld_v6", o.data());
    }
    // ARP.
    {
        output o;
        o.u8(0);
        fr::record_head(o, fr::k_arp, false);
        fr::arp_body(o, 1, fr::m_peer, fr::a4_peer, fr::m_zero, fr::a4_stack);  // who-has the stack
        fr::record_head(o, fr::k_arp, false);
        fr::arp_body(o, 2, fr::m_other, fr::a4_peer, fr::m_stack, fr::a4_stack);  // the peer moved
        fr::record_head(o, fr::k_arp, false);
        fr::arp_body(o, 1, fr::m_other, fr::a4_stack, fr::m_zero, fr::a4_stack);  // someone claims our address
        fr::app_rec(o, sock(false, fr::s_accepted), fr::a_send, 100);
        save("fuzz_frames", "arp_v4", o.data());
    }
    // Raw frames: a VLAN tag, a runt, an unknown protocol.
    {
        output o;
        o.u8(0);
        fr::record_head(o, fr::k_raw_frame, false);
        o.blob16({2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0, 1, 0x08, 0x00, 0x45, 0});
        fr::record_head(o, fr::k_raw_frame, false);
        o.blob16({2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60});
        fr::record_head(o, fr::k_raw_ip, false);
        o.u8(132);
        fr::payload(o, text("sctp?"));
        fr::record_head(o, fr::k_raw_ip, true);
        o.u8(59);
        fr::payload(o, text("no next header"));
        save("fuzz_frames", "raw", o.data());
    }
}

// ---- fuzz_address_strings ----------------------------------------------------------

namespace as = lwsp::fuzz::address_strings;

bytes sockaddr4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    bytes s(16, 0);
    s[0] = 2;  // AF_INET, little-endian u_short
    s[2] = static_cast<std::uint8_t>(port >> 8);
    s[3] = static_cast<std::uint8_t>(port);
    s[4] = a, s[5] = b, s[6] = c, s[7] = d;
    return s;
}

bytes sockaddr6(const bytes& addr16, std::uint16_t port, std::uint32_t scope, std::uint32_t flow = 0) {
    bytes s(28, 0);
    s[0] = 23;  // Winsock's AF_INET6
    s[2] = static_cast<std::uint8_t>(port >> 8);
    s[3] = static_cast<std::uint8_t>(port);
    for (int i = 0; i < 4; ++i) s[4 + i] = static_cast<std::uint8_t>(flow >> (8 * i));
    for (int i = 0; i < 16; ++i) s[8 + i] = addr16[static_cast<std::size_t>(i)];
    for (int i = 0; i < 4; ++i) s[24 + i] = static_cast<std::uint8_t>(scope >> (8 * i));
    return s;
}

void address_string_seeds() {
    const std::string h = "fuzz_address_strings";
    const std::vector<std::pair<std::string, std::uint8_t>> texts = {
        {"192.0.2.1", 0},
        {"192.0.2.1:80", 0},
        {"255.255.255.255:65535", 0},
        {"0.0.0.0", 0},
        {"01.2.3.4", 0},
        {"::", 1},
        {"::1", 1},
        {"2001:db8::1", 1},
        {"[2001:db8::1]:443", 1},
        {"fe80::1%4", 1},
        {"[fe80::1%4294967295]:1", 1},
        {"::ffff:192.0.2.1", 1},
        {"1:2:3:4:5:6:7:8", 1},
        {"1::2:3:4:5:6:7", 1},
        {"::1.2.3.4", 1},
        {"1:2:3:4:5:6:1.2.3.4", 1},
        {"[::]", 1},
        {"2001:DB8:0:0:1:0:0:1", 1},
        {"192.0.2.1", 1},
        {"::1", 0},
        {"1.2.3.4", 3},
    };
    int n = 0;
    for (const auto& [t, fam] : texts) {
        save(h, "parse" + std::to_string(n++), as::parse_input(0, fam, fam == 1 ? 28 : 16, t));
        save(h, "parse" + std::to_string(n++), as::parse_input(as::op_table, fam, 28, t));
    }
    save(h, "parse_short_buffer", as::parse_input(0, 1, 20, "::1"));
    save(h, "parse_null_errno", as::parse_input(as::op_table | (as::null_errno << 2), 0, 16, "1.2.3.4"));
    bytes wide = as::parse_input(0, 1, 28, "fe80::1%");
    wide.insert(wide.end(), {as::wide_escape, 0x31, 0x06});  // a non-ASCII digit-like character
    save(h, "parse_wide", wide);
    const bytes zero(16, 0);
    bytes mapped(16, 0);
    mapped[10] = mapped[11] = 0xff;
    mapped[12] = 192, mapped[13] = 0, mapped[14] = 2, mapped[15] = 1;
    bytes doc = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    bytes compat(16, 0);
    compat[12] = 1, compat[13] = 2, compat[14] = 3, compat[15] = 4;
    const std::vector<std::pair<bytes, std::uint8_t>> addrs = {
        {sockaddr4(192, 0, 2, 1, 0), 40},
        {sockaddr4(10, 0, 0, 1, 8080), 40},
        {sockaddr4(255, 255, 255, 255, 65535), 8},
        {sockaddr6(zero, 0, 0), 60},
        {sockaddr6(doc, 443, 0), 60},
        {sockaddr6(mapped, 0, 0), 60},
        {sockaddr6(compat, 0, 0), 60},
        {sockaddr6(doc, 1, 7, 0x12345), 60},
        {sockaddr6(doc, 0, 0), 3},
    };
    n = 0;
    for (const auto& [sa, claim] : addrs) {
        save(h, "print" + std::to_string(n++), as::print_input(0, sa, claim));
        save(h, "print" + std::to_string(n++), as::print_input(as::op_table, sa, claim));
    }
    bytes cut = sockaddr6(doc, 0, 0);
    cut.resize(27);
    save(h, "print_short_sockaddr", as::print_input(0, cut, 60));
}

// ---- fuzz_wsp_calls ----------------------------------------------------------------

namespace wc = lwsp::fuzz::wsp_calls;

// Argument encodings (wsp_calls_format.hpp) for the common cases.
void new_socket(output& o, bool v6, bool tcp) {
    wc::rec(o, wc::c_socket);
    o.u8(v6 ? 1 : 0).u8(tcp ? 0 : 1).u8(0).u8(0).u8(0).u8(0);
}
// Address selectors of the harness's tables: 0 the peer, 1 the stack,
// 2 any, 3 loopback.  Ports below 16 index its port table: 0 echo (7),
// 1 discard (9), 2 daytime (13), 3 a refused one (1), 5 is 80.
void connect_to(output& o, std::uint8_t sock, bool v6, std::uint8_t addr, std::uint16_t port) {
    wc::rec(o, wc::c_connect);
    wc::handle(o, sock);
    wc::sockaddr_arg(o, v6, addr, port);
    o.u8(0);
}
void send_bytes(output& o, std::uint8_t sock, std::uint16_t n, std::uint8_t ov = 0) {
    wc::rec(o, wc::c_send);
    wc::handle(o, sock);
    wc::wsabufs(o, {n});
    o.u8(0).u8(0).u8(ov);
}
void recv_bytes(output& o, std::uint8_t sock, std::uint16_t n, std::uint8_t flags_pick = 0, std::uint8_t ov = 0) {
    wc::rec(o, wc::c_recv);
    wc::handle(o, sock);
    wc::wsabufs(o, {n});
    o.u8(flags_pick).u8(0).u8(ov);
}
void close_socket(output& o, std::uint8_t sock) {
    wc::rec(o, wc::c_close);
    wc::handle(o, sock);
}
void nonblocking(output& o, std::uint8_t sock) {
    wc::rec(o, wc::c_ioctl);
    wc::handle(o, sock);
    o.u8(0).u8(4).u32(1).u8(0).u8(0).u8(0);  // FIONBIO 1
}
// setsockopt(SOL_SOCKET, the name at `name_index` of the harness's table, an int)
void set_int(output& o, std::uint8_t sock, std::uint8_t name_index, std::uint32_t v) {
    wc::rec(o, wc::c_setsockopt);
    wc::handle(o, sock);
    o.u8(0).u8(name_index).u8(4).u8(1).u32(v).u8(0);
}
constexpr std::uint8_t opt_linger = 6, opt_rcvtimeo = 15;

void wsp_call_seeds(const std::filesystem::path&) {
    const std::string h = "fuzz_wsp_calls";
    for (bool v6 : {false, true}) {
        const std::string f = v6 ? "_v6" : "_v4";
        {  // A blocking client of the echo service.
            output o;
            new_socket(o, v6, true);
            connect_to(o, 0, v6, 0, 0);
            send_bytes(o, 0, 5);
            recv_bytes(o, 0, 100);
            recv_bytes(o, 0, 100, 1);  // MSG_PEEK: nothing left, the hook cancels
            wc::rec(o, wc::c_shutdown);
            wc::handle(o, 0);
            o.u8(1);
            recv_bytes(o, 0, 100);
            close_socket(o, 0);
            close_socket(o, 0);  // twice: the handle is stale now
            save(h, "echo_client" + f, o.data());
        }
        {  // A server: the peer connects, the application accepts and talks.
            output o;
            new_socket(o, v6, true);
            wc::rec(o, wc::c_bind);
            wc::handle(o, 0);
            wc::sockaddr_arg(o, v6, 2, 5);
            wc::rec(o, wc::c_listen);
            wc::handle(o, 0);
            o.u8(0);
            wc::rec(o, wc::w_peer);
            o.u8(wc::p_connect).u8(0).u16((5 << 1) | (v6 ? 1 : 0));
            wc::rec(o, wc::c_accept);
            wc::handle(o, 0);
            o.u8(1).u8(1);  // a SOCKADDR_STORAGE, the condition accepts
            wc::rec(o, wc::w_peer);
            o.u8(wc::p_send).u8(0).u16(3000);
            recv_bytes(o, 1, 4096, 2);  // MSG_WAITALL
            send_bytes(o, 1, 2000);
            wc::rec(o, wc::c_peername);
            wc::handle(o, 1);
            o.u8(2).u8(v6 ? 28 : 16);
            wc::rec(o, wc::w_peer);
            o.u8(wc::p_close).u8(0).u16(0);
            recv_bytes(o, 1, 10);
            close_socket(o, 1);
            close_socket(o, 0);
            save(h, "server" + f, o.data());
        }
        {  // UDP: echo, connected, port unreachable.
            output o;
            new_socket(o, v6, false);
            wc::rec(o, wc::c_bind);
            wc::handle(o, 0);
            wc::sockaddr_arg(o, v6, 2, 8);
            wc::rec(o, wc::c_sendto);
            wc::handle(o, 0);
            wc::wsabufs(o, {10, 20});
            o.u8(0);
            wc::sockaddr_arg(o, v6, 0, 0);
            o.u8(0).u8(0);
            wc::rec(o, wc::c_recvfrom);
            wc::handle(o, 0);
            wc::wsabufs(o, {8, 100});
            o.u8(0).u8(1).u8(0).u8(0);
            connect_to(o, 0, v6, 0, 3);
            send_bytes(o, 0, 10);
            recv_bytes(o, 0, 5);
            wc::rec(o, wc::w_peer);
            o.u8(wc::p_udp).u8(30).u16((8 << 1) | (v6 ? 1 : 0));
            recv_bytes(o, 0, 5);  // the datagram is longer: WSAEMSGSIZE
            close_socket(o, 0);
            save(h, "udp" + f, o.data());
        }
        {  // Nonblocking connect and select; SO_ERROR.
            output o;
            new_socket(o, v6, true);
            nonblocking(o, 0);
            connect_to(o, 0, v6, 0, 1);
            wc::rec(o, wc::c_select);
            o.u8(2).u8(0).u8(0);        // read set: the socket (the discard service sends nothing)
            o.u8(0).u8(0);              // no write or except set
            o.u8(3).u8(1).u32(500000);  // 1.5 s: the unblocker moves the clock
            wc::rec(o, wc::c_getsockopt);
            wc::handle(o, 0);
            o.u8(0).u8(16).u8(4).u8(0);  // SO_ERROR
            new_socket(o, v6, true);
            nonblocking(o, 1);
            connect_to(o, 1, v6, 0, 3);  // refused
            wc::rec(o, wc::c_select);    // except set: the refused connect, a made-up handle
            o.u8(0).u8(0).u8(3).u8(0).u8(1);
            wc::handle(o, 0, wc::hk_made_up);
            o.u32(0x00050003).u8(1);
            wc::rec(o, wc::c_select);  // except set, no timeout
            o.u8(0).u8(0).u8(2).u8(0).u8(1).u8(0);
            wc::rec(o, wc::c_select);               // a read set with nothing to read and no timeout: the
            o.u8(2).u8(0).u8(0).u8(0).u8(0).u8(0);  // harness adds an always-writable socket
            save(h, "nonblocking_select" + f, o.data());
        }
        {  // Event selection through a daytime conversation.
            output o;
            new_socket(o, v6, true);
            wc::rec(o, wc::c_event_select);
            wc::handle(o, 0);
            o.u8(1).u8(0);  // events[0], FD_ALL_EVENTS
            connect_to(o, 0, v6, 0, 2);
            wc::rec(o, wc::c_enum_events);
            wc::handle(o, 0);
            o.u8(1).u8(0);
            recv_bytes(o, 0, 100);
            wc::rec(o, wc::c_enum_events);
            wc::handle(o, 0);
            o.u8(1).u8(0);
            close_socket(o, 0);
            save(h, "event_select" + f, o.data());
        }
        {  // Overlapped receives (event, completion routine) and a send.
            output o;
            new_socket(o, v6, true);
            connect_to(o, 0, v6, 0, 0);
            recv_bytes(o, 0, 100, 0, 1);
            o.u8(1);  // events[0]
            recv_bytes(o, 0, 100, 0, 2);
            o.u8(1);  // the harness's thread
            send_bytes(o, 0, 300, 1);
            o.u8(2);
            wc::rec(o, wc::c_ov_result);
            wc::handle(o, 0);
            o.u8(2).u8(0).u8(1);
            wc::rec(o, wc::w_alertable);
            close_socket(o, 0);
            save(h, "overlapped" + f, o.data());
        }
        {  // A lingering close nobody acknowledges.
            output o;
            new_socket(o, v6, true);
            connect_to(o, 0, v6, 0, 1);
            wc::rec(o, wc::c_setsockopt);
            wc::handle(o, 0);
            o.u8(0).u8(opt_linger).u8(4).u8(2).u16(1).u16(2).u8(0);
            wc::rec(o, wc::w_peer);
            o.u8(wc::p_silent).u8(0).u16(1);
            send_bytes(o, 0, 1000);
            close_socket(o, 0);
            save(h, "linger" + f, o.data());
        }
        {  // Blocking receive: timeout, a call from the hook, cancellation.
            output o;
            new_socket(o, v6, true);
            connect_to(o, 0, v6, 0, 1);
            set_int(o, 0, opt_rcvtimeo, 500);
            wc::rec(o, wc::w_hook);
            o.u8(wc::h_advance).u16(1000).u8(0);
            recv_bytes(o, 0, 10);
            wc::rec(o, wc::w_hook);
            o.u8(wc::h_inner_call).u16(0).u8(0);
            recv_bytes(o, 0, 10);
            wc::rec(o, wc::w_hook);
            o.u8(wc::h_cancel_call).u16(0).u8(0);
            recv_bytes(o, 0, 10);
            wc::rec(o, wc::c_cancel);
            save(h, "blocking_hook" + f, o.data());
        }
        {  // Loopback: two sockets of the stack talk.
            output o;
            new_socket(o, v6, true);
            wc::rec(o, wc::c_bind);
            wc::handle(o, 0);
            wc::sockaddr_arg(o, v6, 2, 5);
            wc::rec(o, wc::c_listen);
            wc::handle(o, 0);
            o.u8(0);
            new_socket(o, v6, true);
            connect_to(o, 1, v6, 3, 5);
            wc::rec(o, wc::c_accept);
            wc::handle(o, 0);
            o.u8(0).u8(0);
            send_bytes(o, 1, 5000);
            recv_bytes(o, 2, 8000);
            close_socket(o, 2);
            recv_bytes(o, 1, 10);
            save(h, "loopback" + f, o.data());
        }
    }
    {  // Made-up and stale handles, WSPCleanup and a new WSPStartup.
        output o;
        new_socket(o, false, true);
        wc::rec(o, wc::c_getsockopt);
        wc::handle(o, 0, wc::hk_made_up);
        o.u32(0x00020001);
        o.u8(0).u8(17).u8(4).u8(0);
        wc::rec(o, wc::c_getsockopt);
        wc::handle(o, 0, wc::hk_other_generation);
        o.u8(0).u8(17).u8(4).u8(0);
        close_socket(o, 0);
        wc::rec(o, wc::c_bind);
        wc::handle(o, 0, wc::hk_closed);
        wc::sockaddr_arg(o, false, 1, 80);
        new_socket(o, true, false);
        wc::rec(o, wc::c_cleanup);
        new_socket(o, false, true);
        wc::rec(o, wc::c_startup);
        o.u16(0x0202).u8(0);
        new_socket(o, false, true);
        wc::rec(o, wc::c_startup);
        o.u16(0x0101).u8(0);
        wc::rec(o, wc::c_unsupported);
        o.u8(0);
        wc::handle(o, 0);
        save(h, "handles_cleanup", o.data());
    }
    {  // Address conversions through the table.
        output o;
        wc::rec(o, wc::c_str_to_addr);
        o.u8(1).u8(28).blob8(text("[2001:db8::1%3]:80"));
        wc::rec(o, wc::c_addr_to_str);
        wc::sockaddr_arg(o, true, 5, 7, 0, 4);
        o.u8(60);
        save(h, "address_strings", o.data());
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    frames_seeds();
    address_string_seeds();
    wsp_call_seeds(g_root);
    std::printf("make_corpus: seeds written under %s\n", g_root.string().c_str());
    return 0;
}
