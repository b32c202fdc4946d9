// fuzz_frames — a hostile network in front of a stack with live sockets.
//
// Each input is a sequence of records (frames_format.hpp): frames, clock
// steps and application calls.  Before the first record the stack gets a
// fresh interface (env.hpp) and, per address family, a listening TCP socket
// (port 80), a connection the peer opened to it and the application
// accepted, a connection the application opened to the peer (SYN sent,
// unanswered), a connected and a bound UDP socket; all nonblocking, most
// with WSPEventSelect, so events and overlapped completions run too.
//
// Most frames come from templates: the input picks a TCP segment for one of
// the connections (sequence and acknowledgement numbers relative to what
// the connection has seen, so they land in the window), a UDP datagram, an
// ICMP/ICMPv6 message (errors quoting the connections' own headers, neighbour
// discovery, MLD), an ARP packet or any IP protocol, and overrides header
// fields; the harness fills in lengths and checksums unless told to keep
// them broken, can fragment the packet (in order, reversed, shuffled, with
// a fragment missing, duplicated or overlapping), and delivers it as a port
// does (with offload metadata: checksum complete/partial/verified, gso_size)
// or zero-copy in an exactly sized buffer (env::inject_exact).  Raw frames
// are there too.  Between records the harness reads what the stack sent:
// it answers ARP and neighbour solicitations for the peer, follows each
// connection's sequence numbers, and (if the input says so) acknowledges.
//
// At the end every socket is closed (gracefully or abortively), the clock
// runs on for a while, and env::end() checks that nothing leaked.  Failed
// WSP calls must report an error their reference page documents
// (common/wsa_errors.hpp).  A frame that would trigger a known, unfixed
// finding is steered around (common/known_issues.hpp: not delivered, or
// delivered by copy instead of zero-copy), so that fuzzing goes on past it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/check.hpp"
#include "common/env.hpp"
#include "common/input.hpp"
#include "common/known_issues.hpp"
#include "common/wsa_errors.hpp"
#include "frames_format.hpp"
#include "lwsp/upcalls.h"
#include "packet.hpp"
#include "scripted_peer.hpp"

namespace {

using namespace lwsp::fuzz;
using namespace lwsp::fuzz::frames;
using lwsp::test::endpoint_config;
using lwsp::test::parsed_frame;
using lwsp::test::scripted_peer;

constexpr std::size_t max_records = 256;
// Clock per input: ten minutes reach SYN retries giving up (about 3 min),
// TIME_WAIT's end (2 min), FIN_WAIT_2 and SYN_RCVD timeouts, reassembly
// timeouts and the longest retransmission back-off; an hour (the last
// retransmission, about 42 min) would cost 40 ms of lwIP timers per input.
constexpr std::uint64_t max_clock_ms = 600 * 1000;
constexpr std::size_t max_sockets = 32;

// ---- addresses ---------------------------------------------------------------

ip_addr ip4_table(unsigned sel) {
    static const ip_addr t[] = {
        ip_addr::parse("192.0.2.2"),    ip_addr::parse("192.0.2.1"),       ip_addr::parse("192.0.2.3"),
        ip_addr::parse("198.51.100.7"), ip_addr::parse("255.255.255.255"), ip_addr::parse("192.0.2.255"),
        ip_addr::parse("224.0.0.1"),    ip_addr::parse("0.0.0.0"),         ip_addr::parse("127.0.0.1"),
        ip_addr::parse("192.0.2.0"),    ip_addr::parse("240.0.0.1"),
    };
    return t[sel % (sizeof t / sizeof t[0])];
}

ip_addr ip6_table(unsigned sel) {
    static const ip_addr t[] = {
        ip_addr::parse("2001:db8::2"),
        ip_addr::parse("2001:db8::1"),
        ip_addr::parse("2001:db8::3"),
        ip_addr::parse("2001:db9::7"),
        ip_addr::parse("ff02::1"),
        ip_addr::parse("ff02::1:ff00:1"),
        ip_addr::parse("::"),
        ip_addr::parse("::1"),
        ip_addr::parse("fe80::ff:fe00:2"),
        ip_addr::parse("fe80::ff:fe00:1"),
        ip_addr::parse("::ffff:192.0.2.2"),
        ip_addr::parse("ff02::2"),
        ip_addr::parse("fe80::1"),
        ip_addr::parse("ff02::1:ff00:2"),
        ip_addr::parse("ff05::1:3"),
    };
    return t[sel % (sizeof t / sizeof t[0])];
}

ip_addr ip_table(bool v6, unsigned sel) { return v6 ? ip6_table(sel) : ip4_table(sel); }

mac_addr mac_table(unsigned sel) {
    static const mac_addr t[] = {
        mac_addr::parse("02:00:00:00:00:01"), mac_addr::parse("02:00:00:00:00:02"),
        mac_addr::parse("ff:ff:ff:ff:ff:ff"), mac_addr::parse("01:00:5e:00:00:01"),
        mac_addr::parse("33:33:00:00:00:01"), mac_addr::parse("02:00:00:00:00:03"),
        mac_addr::parse("00:00:00:00:00:00"), mac_addr::parse("33:33:ff:00:00:01"),
    };
    return t[sel % (sizeof t / sizeof t[0])];
}

// The destination MAC a sender would use for `dst`.
mac_addr mac_for(const ip_addr& dst) {
    const std::uint8_t* b = dst.data();
    if (dst.is_v6() ? b[0] == 0xff : (b[0] & 0xf0) == 0xe0) return lwsp::test::multicast_mac(dst);
    if (!dst.is_v6() && (dst == ip4_table(a4_bcast) || dst == ip4_table(a4_dbcast))) return mac_addr::broadcast();
    return net().stack_mac;
}

// ---- byte helpers -----------------------------------------------------------

void put16(bytes& b, std::size_t at, unsigned v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(bytes& b, std::size_t at, std::uint32_t v) {
    put16(b, at, v >> 16);
    put16(b, at + 2, v & 0xffff);
}
void append16(bytes& b, unsigned v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void append32(bytes& b, std::uint32_t v) {
    append16(b, v >> 16);
    append16(b, v & 0xffff);
}
void append(bytes& b, const bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
void append_ip(bytes& b, const ip_addr& a) { b.insert(b.end(), a.data(), a.data() + a.size()); }

// Payload spec (frames_format.hpp).
bytes read_payload(input& in) {
    switch (in.u8() % 4) {
        case 1: return in.blob8();
        case 2: return in.blob16(4096);
        case 3: {
            bytes b(in.u16());
            for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 13);
            return b;
        }
        default: return {};
    }
}

// ---- connections --------------------------------------------------------------

// One TCP 4-tuple between the peer and the stack, as far as the harness
// can follow it.
struct conn_track {
    bool v6 = false;
    std::uint16_t stack_port = 0, peer_port = 0;
    std::uint32_t peer_nxt = 0;   // the peer's next sequence number
    bool stack_seen = false;      // a segment from the stack was seen
    std::uint32_t stack_nxt = 0;  // the highest sequence number the stack sent, plus its length
};

bool seq_after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

// ---- one input ------------------------------------------------------------------

struct app_socket {
    SOCKET h = INVALID_SOCKET;
    bool v6 = false, tcp = true, listener = false, open = false;
};

struct overlapped_op {
    SOCKET s;
    WSAOVERLAPPED ov{};
    std::vector<char> buf;
    WSABUF wb{};
    DWORD flags = 0;
    SOCKADDR_STORAGE from{};
    INT fromlen = sizeof(SOCKADDR_STORAGE);
};

class run {
public:
    run(std::uint8_t cfg, WSAEVENT ev)
        : e_(env::get()),
          w_(e_.wsp()),
          cfg_(cfg),
          ev_(ev),
          peer4_({net().peer_mac, net().peer4}, {net().stack_mac, net().stack4},
                 [this](const bytes& f) { replies_.push_back(f); }),
          peer6_({net().peer_mac, net().peer6}, {net().stack_mac, net().stack6},
                 [this](const bytes& f) { replies_.push_back(f); }),
          peer_ll_({net().peer_mac, net().peer_ll6}, {net().stack_mac, net().stack_ll6},
                   [this](const bytes& f) { replies_.push_back(f); }) {}

    void setup();
    void step(input& in);
    void teardown();

private:
    // WSP calls with the error check.
    int check(wsp_call call, int r, const int& err, const char* what) {  // err: read after the call
        if (r == SOCKET_ERROR)
            env::trace("  %s -> %d, error %d", what, r, err);
        else
            env::trace("  %s -> %d", what, r);
        if (r == SOCKET_ERROR)
            LWSP_FUZZ_CHECK(wsa_error_allowed(call, err), "%s failed with %d, not a documented error", what, err);
        return r == SOCKET_ERROR ? err : 0;
    }
    SOCKET new_socket(bool v6, bool tcp);
    void bind_to(SOCKET s, bool v6, const ip_addr& a, std::uint16_t port);
    sockaddr_in6 sockaddr_of(bool v6, const ip_addr& a, std::uint16_t port, INT& len);

    conn_track& track(bool v6, std::uint16_t stack_port, std::uint16_t peer_port);
    void process_output();
    void send_frame(bytes frame, const lwsp::frame_info& info, bool exact, std::size_t split);

    // Frame records.
    struct ip_spec {
        bool v6 = false;
        ip_addr src, dst;
        std::uint8_t proto = 0;
        std::uint8_t tos = 0, ttl = 64;
        std::uint32_t id = 0;
        bool df = false;
        bytes v4_options;
        struct ext {
            std::uint8_t type;
            bytes body;  // everything after next-header and length
            std::uint8_t len;
        };
        std::vector<ext> exts;
        bool fragment = false;
        unsigned frag_size = 8;
        std::uint8_t frag_order = 0, frag_seed = 0;
    };
    struct frame_spec {
        std::uint16_t csum_xor = 0;
        std::optional<std::uint16_t> l3_len;
        std::optional<lwsp::frame_info> info;
        bool raw_csum_pos = false;
        bool exact = false;
        std::uint16_t split = 0;
        std::optional<std::uint16_t> truncate;
        bytes trailer;
        std::optional<mac_addr> dst_mac;
        std::optional<std::uint16_t> ethertype;
    };
    void read_ip_opts(input& in, ip_spec& ip);
    void read_frame_opts(input& in, frame_spec& fr);
    // Finishes the transport checksum at `csum_at` (pseudo header unless
    // ICMPv4), builds the IP packet(s) and sends the frames.
    void emit(const ip_spec& ip, bytes l4, std::optional<std::size_t> csum_at, bool pseudo, bool udp,
              const frame_spec& fr);
    bytes ipv4_header(const ip_spec& ip, std::size_t payload_len, std::uint16_t frag_field,
                      std::optional<std::uint16_t> len);
    bytes ipv6_header(const ip_spec& ip, std::size_t payload_len, std::uint8_t first_nh,
                      std::optional<std::uint16_t> len);
    bytes quote(bool v6, unsigned target, unsigned limit);

    void rec_tcp(input& in, bool v6, ip_spec& ip, const frame_spec& fr);
    void rec_udp(input& in, ip_spec& ip, const frame_spec& fr);
    void rec_icmp(input& in, bool v6, ip_spec& ip, const frame_spec& fr, bool dst_given, bool src_given,
                  bool ttl_given);
    void rec_arp(input& in, const frame_spec& fr);
    void rec_app(input& in);
    void clock(std::uint64_t ms);

    env& e_;
    const WSPPROC_TABLE& w_;
    std::uint8_t cfg_;
    WSAEVENT ev_;
    scripted_peer peer4_, peer6_, peer_ll_;
    std::vector<bytes> replies_;
    std::deque<conn_track> tracks_;  // a deque: references stay valid as it grows
    std::vector<app_socket> sockets_;
    std::deque<std::unique_ptr<overlapped_op>> ops_;
    std::uint64_t clock_used_ = 0;
};

SOCKET run::new_socket(bool v6, bool tcp) {
    int err = 0;
    const SOCKET s = w_.lpWSPSocket(v6 ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0, nullptr, 0, 0, &err);
    LWSP_FUZZ_CHECK(s != INVALID_SOCKET, "WSPSocket: %d", err);
    u_long on = 1;
    DWORD ret = 0;
    LWSP_FUZZ_CHECK(w_.lpWSPIoctl(s, FIONBIO, &on, sizeof on, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err) == 0,
                    "FIONBIO: %d", err);
    return s;
}

sockaddr_in6 run::sockaddr_of(bool v6, const ip_addr& a, std::uint16_t port, INT& len) {
    sockaddr_in6 sa;
    std::memset(&sa, 0, sizeof sa);
    const std::uint8_t pb[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    if (v6) {
        sa.sin6_family = AF_INET6;
        std::memcpy(&sa.sin6_port, pb, 2);
        std::memcpy(&sa.sin6_addr, a.data(), 16);
        len = sizeof(sockaddr_in6);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&sa);
        in4->sin_family = AF_INET;
        std::memcpy(&in4->sin_port, pb, 2);
        std::memcpy(&in4->sin_addr, a.data(), 4);
        len = sizeof(sockaddr_in);
    }
    return sa;
}

void run::bind_to(SOCKET s, bool v6, const ip_addr& a, std::uint16_t port) {
    INT len = 0;
    sockaddr_in6 sa = sockaddr_of(v6, a, port, len);
    int err = 0;
    LWSP_FUZZ_CHECK(w_.lpWSPBind(s, reinterpret_cast<sockaddr*>(&sa), len, &err) == 0, "WSPBind: %d", err);
}

conn_track& run::track(bool v6, std::uint16_t stack_port, std::uint16_t peer_port) {
    for (conn_track& t : tracks_)
        if (t.v6 == v6 && t.stack_port == stack_port && t.peer_port == peer_port) return t;
    conn_track t;
    t.v6 = v6;
    t.stack_port = stack_port;
    t.peer_port = peer_port;
    t.peer_nxt = 0x10000000u + (static_cast<std::uint32_t>(peer_port) << 12) + (v6 ? 0x08000000u : 0);
    tracks_.push_back(t);
    return tracks_.back();
}

// What the stack sent: resolution requests are answered, TCP segments
// advance the connections' sequence numbers, and with cfg_auto_ack the
// peer acknowledges data.
void run::process_output() {
    for (int round = 0; round < 16; ++round) {
        auto frames = e_.take();
        if (frames.empty()) return;
        for (auto& [raw, info] : frames) {
            const parsed_frame f = lwsp::test::parse_frame(raw);
            if (peer4_.answer_resolution(f) || peer6_.answer_resolution(f) || peer_ll_.answer_resolution(f)) continue;
            if (!f.tcp || !f.ip) continue;
            const bool v6 = f.ip->version == 6;
            conn_track& t = track(v6, f.tcp->sport, f.tcp->dport);
            const std::uint32_t end = f.tcp->seq + f.tcp->seq_len();
            if (f.tcp->has(lwsp::test::tcp_syn) || !t.stack_seen || seq_after(end, t.stack_nxt)) t.stack_nxt = end;
            t.stack_seen = true;
            // Handshakes are the input's (or setup's) business.
            if ((cfg_ & cfg_auto_ack) && f.tcp->seq_len() > 0 && !f.tcp->has(lwsp::test::tcp_rst) &&
                !f.tcp->has(lwsp::test::tcp_syn)) {
                lwsp::test::tcp_segment a;
                a.sport = t.peer_port;
                a.dport = t.stack_port;
                a.seq = t.peer_nxt;
                a.ack = t.stack_nxt;
                a.flags = lwsp::test::tcp_ack;
                const ip_addr peer_ip = v6 ? net().peer6 : net().peer4;
                if (f.ip->dst == peer_ip)
                    replies_.push_back(lwsp::test::tcp_frame(net().stack_mac, net().peer_mac, peer_ip, f.ip->src, a));
            }
        }
        std::vector<bytes> out;
        out.swap(replies_);
        for (const bytes& r : out) e_.inject(r);
    }
}

void run::send_frame(bytes frame, const lwsp::frame_info& info, bool exact, std::size_t split) {
    const known_issue k = avoid_known_issues() ? icmp6_known_issue_in_frame(frame, exact) : known_issue::none;
    if (k != known_issue::none) {
        env::trace("  (known issue %s: frame not delivered)", to_string(k));
        return;
    }
    if (exact)
        e_.inject_exact(frame, split);
    else
        e_.inject(frame, info);
}

// ---- building packets ---------------------------------------------------------------

void run::read_ip_opts(input& in, ip_spec& ip) {
    const std::uint8_t m = in.u8();
    if (m & ip_tos) ip.tos = in.u8();
    if (m & ip_ttl) ip.ttl = in.u8();
    if (m & ip_id) ip.id = in.u32();
    if (m & ip_df) ip.df = true;
    if (m & ip_src) ip.src = ip_table(ip.v6, in.u8());
    if (m & ip_dst) ip.dst = ip_table(ip.v6, in.u8());
    if (m & ip_options) {
        if (!ip.v6) {
            ip.v4_options = in.blob8();
            if (ip.v4_options.size() > 40) ip.v4_options.resize(40);
            while (ip.v4_options.size() % 4 != 0) ip.v4_options.push_back(0);
        } else {
            const unsigned count = in.u8() % 5;
            for (unsigned i = 0; i < count; ++i) {
                ip_spec::ext x;
                x.type = in.u8();
                x.len = static_cast<std::uint8_t>(in.u8() % 32);
                const std::size_t body = x.type == 44 ? 6 : (x.len + 1u) * 8 - 2;
                if (x.type == 44) x.len = 0;
                x.body = in.bytes(body);
                x.body.resize(body, 0);
                ip.exts.push_back(std::move(x));
            }
        }
    }
    if (m & ip_fragment) {
        ip.fragment = true;
        const unsigned units = in.u8();
        ip.frag_size = (units == 0 ? 1 : units) * 8u;
        ip.frag_order = in.u8();
        ip.frag_seed = in.u8();
    }
}

void run::read_frame_opts(input& in, frame_spec& fr) {
    const std::uint8_t m = in.u8();
    if (m & fr_bad_csum) fr.csum_xor = in.u16();
    if (m & fr_l3_len) fr.l3_len = in.u16();
    if (m & fr_offload) {
        lwsp::frame_info info;
        const std::uint8_t c = in.u8() % 3;
        info.csum = c == 0   ? lwsp::frame_info::checksum::complete
                    : c == 1 ? lwsp::frame_info::checksum::partial
                             : lwsp::frame_info::checksum::verified;
        info.gso_size = in.u16();
        if (in.u8() & 1) {
            fr.raw_csum_pos = true;
            info.csum_start = in.u16();
            info.csum_offset = in.u16();
        }
        fr.info = info;
    }
    if (m & fr_exact) {
        fr.exact = true;
        fr.split = in.u16();
    }
    if (m & fr_truncate) fr.truncate = in.u16();
    if (m & fr_trailer) fr.trailer = in.blob8();
    if (m & fr_dst_mac) fr.dst_mac = mac_table(in.u8());
    if (m & fr_ethertype) fr.ethertype = in.u16();
}

bytes run::ipv4_header(const ip_spec& ip, std::size_t payload_len, std::uint16_t frag_field,
                       std::optional<std::uint16_t> len) {
    bytes h(12, 0);  // up to the addresses
    h[0] = static_cast<std::uint8_t>(0x40 | (5 + ip.v4_options.size() / 4));
    h[1] = ip.tos;
    put16(h, 2, len ? *len : static_cast<unsigned>((20 + ip.v4_options.size() + payload_len) & 0xffff));
    put16(h, 4, ip.id & 0xffff);
    put16(h, 6, frag_field | (ip.df ? 0x4000 : 0));
    h[8] = ip.ttl;
    h[9] = ip.proto;
    append_ip(h, ip.src);
    append_ip(h, ip.dst);
    append(h, ip.v4_options);
    put16(h, 10, lwsp::test::inet_checksum(h));
    return h;
}

bytes run::ipv6_header(const ip_spec& ip, std::size_t payload_len, std::uint8_t first_nh,
                       std::optional<std::uint16_t> len) {
    bytes h;
    h.push_back(static_cast<std::uint8_t>(0x60 | ip.tos >> 4));
    h.push_back(static_cast<std::uint8_t>((ip.tos & 0x0f) << 4 | (ip.id >> 16 & 0x0f)));
    append16(h, ip.id & 0xffff);
    append16(h, len ? *len : static_cast<unsigned>(payload_len & 0xffff));
    h.push_back(first_nh);
    h.push_back(ip.ttl);
    append_ip(h, ip.src);
    append_ip(h, ip.dst);
    return h;
}

void run::emit(const ip_spec& ip, bytes l4, std::optional<std::size_t> csum_at, bool pseudo, bool udp,
               const frame_spec& fr) {
    const bool behind_ext = !ip.exts.empty() || ip.fragment;
    const known_issue k = avoid_known_issues() && ip.v6 && ip.proto == lwsp::test::ip_proto_icmpv6
                              ? icmp6_known_issue(l4, behind_ext, fr.exact)
                              : known_issue::none;
    if (k != known_issue::none) {
        env::trace("  (known issue %s: message not delivered)", to_string(k));
        return;
    }
    if (csum_at && *csum_at + 2 <= l4.size()) {
        l4[*csum_at] = l4[*csum_at + 1] = 0;
        const std::uint32_t ph =
            pseudo ? lwsp::test::pseudo_header_sum(ip.src, ip.dst, ip.proto, static_cast<std::uint32_t>(l4.size())) : 0;
        std::uint16_t c = lwsp::test::inet_checksum(l4, ph);
        if (udp && c == 0) c = 0xffff;
        c ^= fr.csum_xor;
        put16(l4, *csum_at, c);
    }
    // Extension headers (IPv6), chained; a fragment header goes last.
    bytes ext;
    std::uint8_t first_nh = ip.proto;
    if (ip.v6) {
        std::vector<std::uint8_t> types;
        for (const auto& x : ip.exts) types.push_back(x.type);
        if (ip.fragment) types.push_back(44);
        if (!types.empty()) first_nh = types[0];
        for (std::size_t i = 0; i < ip.exts.size(); ++i) {
            ext.push_back(i + 1 < types.size() ? types[i + 1] : ip.proto);
            ext.push_back(ip.exts[i].len);
            append(ext, ip.exts[i].body);
        }
    }
    // The pieces of the transport data: one, or the fragments.
    struct piece {
        std::size_t off, len;
        bool more;
    };
    std::vector<piece> pieces;
    if (!ip.fragment) {
        pieces.push_back({0, l4.size(), false});
    } else {
        std::size_t size = ip.frag_size;
        while ((l4.size() + size - 1) / size > 64) size *= 2;  // at most 64 fragments
        const std::uint8_t order = ip.frag_order % fo_count;
        for (std::size_t off = 0; off < l4.size() || off == 0; off += size) {
            std::size_t start = off;
            if (order == fo_overlap && off > 0) start -= 8;  // overlaps the previous fragment
            pieces.push_back({start, std::min(size + (off - start), l4.size() - start), off + size < l4.size()});
            if (l4.empty()) break;
        }
        const std::size_t n = pieces.size();
        const std::size_t pick = ip.frag_seed % n;
        switch (order) {
            case fo_reverse: std::reverse(pieces.begin(), pieces.end()); break;
            case fo_shuffle: {
                std::uint32_t s = ip.frag_seed * 2654435761u + 1;
                for (std::size_t i = n; i > 1; --i) {
                    s = s * 1103515245u + 12345u;
                    std::swap(pieces[i - 1], pieces[(s >> 8) % i]);
                }
                break;
            }
            case fo_drop_one:
                if (n > 1) pieces.erase(pieces.begin() + static_cast<long>(pick));
                break;
            case fo_duplicate_one: pieces.push_back(pieces[pick]); break;
            default: break;
        }
    }
    bool first = true;
    for (const piece& p : pieces) {
        bytes payload(l4.begin() + static_cast<long>(p.off), l4.begin() + static_cast<long>(p.off + p.len));
        bytes pkt;
        const std::optional<std::uint16_t> len = first ? fr.l3_len : std::nullopt;
        if (!ip.v6) {
            const std::uint16_t frag_field =
                ip.fragment ? static_cast<std::uint16_t>((p.more ? 0x2000 : 0) | ((p.off / 8) & 0x1fff)) : 0;
            pkt = ipv4_header(ip, payload.size(), frag_field, len);
            append(pkt, payload);
        } else {
            bytes body = ext;
            if (ip.fragment) {
                body.push_back(ip.proto);
                body.push_back(0);
                append16(body, static_cast<unsigned>((p.off & 0xfff8) | (p.more ? 1 : 0)));
                append32(body, 0x4c575350u + ip.frag_seed);
            }
            append(body, payload);
            pkt = ipv6_header(ip, body.size(), first_nh, len);
            append(pkt, body);
        }
        append(pkt, fr.trailer);
        const mac_addr dst_mac = fr.dst_mac ? *fr.dst_mac : mac_for(ip.dst);
        const std::uint16_t type =
            fr.ethertype ? *fr.ethertype : (ip.v6 ? lwsp::test::ethertype_ipv6 : lwsp::test::ethertype_ipv4);
        bytes frame = lwsp::test::eth_frame(dst_mac, net().peer_mac, type, pkt, false);
        if (fr.truncate && *fr.truncate < frame.size()) frame.resize(*fr.truncate);
        lwsp::frame_info info = fr.info ? *fr.info : lwsp::frame_info{};
        if (fr.info && !fr.raw_csum_pos && csum_at) {
            info.csum_start = static_cast<std::uint16_t>(
                14 + (ip.v6 ? 40 + ext.size() + (ip.fragment ? 8 : 0) : 20 + ip.v4_options.size()));
            info.csum_offset = static_cast<std::uint16_t>(*csum_at);
        }
        send_frame(std::move(frame), info, fr.exact, fr.split);
        first = false;
    }
}

// The headers of a packet the stack sent on `target` (for ICMP errors).
bytes run::quote(bool v6, unsigned target, unsigned limit) {
    ip_spec ip;
    ip.v6 = v6;
    ip.src = net().stack(v6);
    ip.dst = net().peer(v6);
    bytes l4;
    switch (target % 4) {
        case qt_accepted:
        case qt_active: {
            const bool active = target % 4 == qt_active;
            const conn_track& t = track(v6, active ? 5000 : 80, active ? 7000 : 40000);
            ip.proto = lwsp::test::ip_proto_tcp;
            lwsp::test::tcp_segment s;
            s.sport = t.stack_port;
            s.dport = t.peer_port;
            s.seq = t.stack_nxt - 1;
            s.ack = t.peer_nxt;
            s.flags = lwsp::test::tcp_ack;
            s.payload = bytes(8, 0x55);
            l4 = lwsp::test::tcp_segment_bytes(ip.src, ip.dst, s);
            break;
        }
        default: {
            const bool connected = target % 4 == qt_udp_connected;
            ip.proto = lwsp::test::ip_proto_udp;
            l4 = bytes(8 + 8, 0x55);
            put16(l4, 0, connected ? 5353 : 53);
            put16(l4, 2, connected ? 6000 : 1053);
            put16(l4, 4, 16);
            put16(l4, 6, 0);
            break;
        }
    }
    bytes q = v6 ? ipv6_header(ip, l4.size(), ip.proto, std::nullopt) : ipv4_header(ip, l4.size(), 0, std::nullopt);
    append(q, l4);
    if (limit != 0 && limit < q.size()) q.resize(limit);
    return q;
}

void run::rec_tcp(input& in, bool v6, ip_spec& ip, const frame_spec& fr) {
    const std::uint8_t target = in.u8() % 4;
    std::uint16_t stack_port = 80, peer_port = 40000;
    switch (target) {
        case tt_active: stack_port = 5000, peer_port = 7000; break;
        case tt_new_conn: peer_port = static_cast<std::uint16_t>(41000 + in.u8() % 16); break;
        case tt_closed_port: stack_port = 81, peer_port = 42000; break;
        default: break;
    }
    conn_track& t = track(v6, stack_port, peer_port);
    const std::uint8_t flags = in.u8();
    const auto seq_delta = static_cast<std::int16_t>(in.u16());
    const auto ack_delta = static_cast<std::int16_t>(in.u16());
    const std::uint16_t window = in.u16();
    const std::uint8_t extras = in.u8();
    const std::uint16_t urgent = (extras & tcp_x_urgent) ? in.u16() : 0;
    bytes opts;
    if (extras & tcp_x_std_opts) {
        const std::uint8_t m = in.u8();
        if (m & opt_mss) {
            opts.insert(opts.end(), {2, 4});
            append16(opts, in.u16());
        }
        if (m & opt_ws) opts.insert(opts.end(), {3, 3, in.u8()});
        if (m & opt_sack_perm) opts.insert(opts.end(), {4, 2});
        if (m & opt_ts) {
            opts.insert(opts.end(), {8, 10});
            append32(opts, in.u32());
            append32(opts, in.u32());
        }
        if (m & opt_sack) {
            const unsigned n = in.u8() % 5;
            opts.insert(opts.end(), {5, static_cast<std::uint8_t>(2 + 8 * n)});
            for (unsigned i = 0; i < n; ++i) {
                append32(opts, t.stack_nxt + static_cast<std::uint32_t>(static_cast<std::int16_t>(in.u16())));
                append32(opts, t.stack_nxt + static_cast<std::uint32_t>(static_cast<std::int16_t>(in.u16())));
            }
        }
    }
    if (extras & tcp_x_raw_opts) append(opts, in.blob8());
    std::optional<std::uint8_t> doff;
    if (extras & tcp_x_doff) doff = in.u8();
    if (!doff) {
        if (opts.size() > 40) opts.resize(40);
        while (opts.size() % 4 != 0) opts.push_back(0);
    }
    const bytes payload = read_payload(in);

    const std::uint32_t seq = t.peer_nxt + static_cast<std::uint32_t>(seq_delta);
    const std::uint32_t ack =
        t.stack_seen ? t.stack_nxt + static_cast<std::uint32_t>(ack_delta) : static_cast<std::uint32_t>(ack_delta);
    bytes l4(20, 0);
    put16(l4, 0, peer_port);
    put16(l4, 2, stack_port);
    put32(l4, 4, seq);
    put32(l4, 8, ack);
    l4[12] = doff ? *doff : static_cast<std::uint8_t>((5 + opts.size() / 4) << 4);
    l4[13] = flags;
    put16(l4, 14, window);
    put16(l4, 18, urgent);
    append(l4, opts);
    append(l4, payload);
    ip.proto = lwsp::test::ip_proto_tcp;
    emit(ip, std::move(l4), std::size_t{16}, true, false, fr);
    if (seq_delta == 0 && !(flags & lwsp::test::tcp_rst))
        t.peer_nxt += static_cast<std::uint32_t>(payload.size()) + ((flags & lwsp::test::tcp_syn) ? 1 : 0) +
                      ((flags & lwsp::test::tcp_fin) ? 1 : 0);
}

void run::rec_udp(input& in, ip_spec& ip, const frame_spec& fr) {
    const std::uint8_t target = in.u8() % 4;
    const std::uint8_t extras = in.u8();
    std::uint16_t sport = 6000, dport = 5353;
    switch (target) {
        case ut_bound: sport = 1053, dport = 53; break;
        case ut_closed_port: sport = 1054, dport = 9999; break;
        case ut_explicit:
            sport = in.u16();
            dport = in.u16();
            break;
        default: break;
    }
    std::optional<std::uint16_t> length;
    if (extras & udp_x_length) length = in.u16();
    const bytes payload = read_payload(in);
    bytes l4(8, 0);
    put16(l4, 0, sport);
    put16(l4, 2, dport);
    put16(l4, 4, length ? *length : static_cast<unsigned>((8 + payload.size()) & 0xffff));
    append(l4, payload);
    ip.proto = lwsp::test::ip_proto_udp;
    if (extras & udp_x_zero_csum)
        emit(ip, std::move(l4), std::nullopt, true, true, fr);
    else
        emit(ip, std::move(l4), std::size_t{6}, true, true, fr);
}

void run::rec_icmp(input& in, bool v6, ip_spec& ip, const frame_spec& fr, bool dst_given, bool src_given,
                   bool ttl_given) {
    const std::uint8_t type = in.u8();
    const std::uint8_t code = in.u8();
    const std::uint32_t word = in.u32();
    bytes body;
    switch (in.u8() % 4) {
        case ib_quote: {
            const unsigned target = in.u8();
            body = quote(v6, target, in.u8());
            break;
        }
        case ib_one_address: append_ip(body, ip_table(v6, in.u8())); break;
        case ib_two_addresses:
            append_ip(body, ip_table(v6, in.u8()));
            append_ip(body, ip_table(v6, in.u8()));
            break;
        default: break;
    }
    append(body, in.blob16(1500));
    // Defaults RFC 4861 and RFC 2710 require, so that neighbour discovery
    // and MLD messages get past the first checks.
    if (v6) {
        const bool nd = type >= 133 && type <= 137;
        const bool mld = type == 130 || type == 131 || type == 132 || type == 143;
        if (nd && !ttl_given) ip.ttl = 255;
        if (mld && !ttl_given) ip.ttl = 1;
        if ((nd || mld) && !src_given) ip.src = net().peer_ll6;
        if (!dst_given && (type == 134 || type == 130)) ip.dst = ip6_table(a6_all_nodes);
        if (!dst_given && type == 135) ip.dst = ip6_table(a6_solicited);
    }
    bytes l4 = {type, code, 0, 0};
    append32(l4, word);
    append(l4, body);
    ip.proto = v6 ? lwsp::test::ip_proto_icmpv6 : lwsp::test::ip_proto_icmp;
    emit(ip, std::move(l4), std::size_t{2}, v6, false, fr);
}

void run::rec_arp(input& in, const frame_spec& fr) {
    const std::uint16_t op = in.u16();
    const mac_addr sha = mac_table(in.u8());
    const ip_addr spa = ip4_table(in.u8());
    const mac_addr tha = mac_table(in.u8());
    const ip_addr tpa = ip4_table(in.u8());
    std::uint16_t htype = 1, ptype = 0x0800;
    std::uint8_t hlen = 6, plen = 4;
    if (in.u8() & 1) {
        htype = in.u16();
        ptype = in.u16();
        hlen = in.u8();
        plen = in.u8();
    }
    bytes a;
    append16(a, htype);
    append16(a, ptype);
    a.push_back(hlen);
    a.push_back(plen);
    append16(a, op);
    a.insert(a.end(), sha.b.begin(), sha.b.end());
    append_ip(a, spa);
    a.insert(a.end(), tha.b.begin(), tha.b.end());
    append_ip(a, tpa);
    append(a, fr.trailer);
    const mac_addr dst = fr.dst_mac ? *fr.dst_mac : (op == 1 ? mac_addr::broadcast() : net().stack_mac);
    bytes frame = lwsp::test::eth_frame(dst, sha, fr.ethertype ? *fr.ethertype : lwsp::test::ethertype_arp, a, false);
    if (fr.truncate && *fr.truncate < frame.size()) frame.resize(*fr.truncate);
    send_frame(std::move(frame), fr.info ? *fr.info : lwsp::frame_info{}, fr.exact, fr.split);
}

void run::clock(std::uint64_t ms) {
    if (clock_used_ + ms > max_clock_ms) ms = max_clock_ms - clock_used_;
    clock_used_ += ms;
    // In steps, so that the peer answers in between (resolution; with
    // cfg_auto_ack acknowledgements, every second, as a real one would).
    const std::uint64_t step = (cfg_ & cfg_auto_ack) ? 1000 : 10000;
    while (ms > 0) {
        const std::uint64_t d = std::min<std::uint64_t>(ms, step);
        e_.advance(d);
        process_output();
        ms -= d;
    }
}

// ---- the application --------------------------------------------------------

void run::rec_app(input& in) {
    const std::size_t idx = in.u8() % sockets_.size();
    const std::uint8_t action = in.u8() % a_count;
    const std::uint16_t arg = in.u16();
    app_socket& so = sockets_[idx];
    env::trace("  app: socket %zu action %u arg %u%s", idx, action, arg, so.open ? "" : " (closed)");
    if (!so.open && action != a_ov_results) return;
    int err = 0;
    switch (action) {
        case a_recv: {
            std::vector<char> buf(arg & 0x3fff);
            WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
            DWORD got = 0, flags = (arg & 0x4000) ? MSG_PEEK : 0;
            if (so.tcp) {
                check(wsp_call::recv, w_.lpWSPRecv(so.h, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err), err,
                      "WSPRecv");
            } else {
                SOCKADDR_STORAGE from{};
                INT fromlen = sizeof from;
                check(wsp_call::recvfrom,
                      w_.lpWSPRecvFrom(so.h, &b, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &fromlen, nullptr,
                                       nullptr, nullptr, &err),
                      err, "WSPRecvFrom");
            }
            break;
        }
        case a_send: {
            std::vector<char> buf(arg);
            for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + i % 26);
            WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
            DWORD sent = 0;
            if (so.tcp) {
                check(wsp_call::send, w_.lpWSPSend(so.h, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err), err,
                      "WSPSend");
            } else {
                INT len = 0;
                sockaddr_in6 to = sockaddr_of(so.v6, net().peer(so.v6), 6000, len);
                check(wsp_call::sendto,
                      w_.lpWSPSendTo(so.h, &b, 1, &sent, 0, reinterpret_cast<sockaddr*>(&to), len, nullptr, nullptr,
                                     nullptr, &err),
                      err, "WSPSendTo");
            }
            break;
        }
        case a_shutdown: {
            static const int how[] = {SD_RECEIVE, SD_SEND, SD_BOTH};
            check(wsp_call::shutdown, w_.lpWSPShutdown(so.h, how[arg % 3], &err), err, "WSPShutdown");
            break;
        }
        case a_close: {
            if (arg % 3 != 0) {
                struct linger l = {1, static_cast<u_short>(arg % 3 == 1 ? 0 : 5)};
                check(
                    wsp_call::setsockopt,
                    w_.lpWSPSetSockOpt(so.h, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err),
                    err, "SO_LINGER");
            }
            const int r = check(wsp_call::close, w_.lpWSPCloseSocket(so.h, &err), err, "WSPCloseSocket");
            if (r != WSAEWOULDBLOCK) so.open = false;  // nonblocking linger: the handle stays valid
            break;
        }
        case a_accept: {
            if (!so.listener || sockets_.size() >= max_sockets) break;
            SOCKADDR_STORAGE peer{};
            INT len = sizeof peer;
            const SOCKET s = w_.lpWSPAccept(so.h, reinterpret_cast<sockaddr*>(&peer), &len, nullptr, 0, &err);
            if (s == INVALID_SOCKET) {
                check(wsp_call::accept, SOCKET_ERROR, err, "WSPAccept");
                break;
            }
            app_socket a;
            a.h = s;
            a.v6 = so.v6;
            a.open = true;
            sockets_.push_back(a);
            break;
        }
        case a_ov_recv:
        case a_ov_send: {
            if (so.listener) break;
            auto op = std::make_unique<overlapped_op>();
            op->s = so.h;
            op->ov.hEvent = ev_;
            op->buf.assign(arg & 0x3fff, 'x');
            op->wb = WSABUF{static_cast<u_long>(op->buf.size()), op->buf.data()};
            int r;
            if (action == a_ov_recv) {
                r = so.tcp ? w_.lpWSPRecv(so.h, &op->wb, 1, nullptr, &op->flags, &op->ov, nullptr, nullptr, &err)
                           : w_.lpWSPRecvFrom(so.h, &op->wb, 1, nullptr, &op->flags,
                                              reinterpret_cast<sockaddr*>(&op->from), &op->fromlen, &op->ov, nullptr,
                                              nullptr, &err);
                check(wsp_call::recv, r, err, "overlapped WSPRecv");
            } else if (so.tcp) {
                r = w_.lpWSPSend(so.h, &op->wb, 1, nullptr, 0, &op->ov, nullptr, nullptr, &err);
                check(wsp_call::send, r, err, "overlapped WSPSend");
            } else {
                INT len = 0;
                sockaddr_in6 to = sockaddr_of(so.v6, net().peer(so.v6), 6000, len);
                r = w_.lpWSPSendTo(so.h, &op->wb, 1, nullptr, 0, reinterpret_cast<sockaddr*>(&to), len, &op->ov,
                                   nullptr, nullptr, &err);
                check(wsp_call::sendto, r, err, "overlapped WSPSendTo");
            }
            ops_.push_back(std::move(op));  // kept until the end: it may still be pending
            break;
        }
        case a_enum_events: {
            WSANETWORKEVENTS ne{};
            check(wsp_call::enum_events, w_.lpWSPEnumNetworkEvents(so.h, ev_, &ne, &err), err, "WSPEnumNetworkEvents");
            break;
        }
        case a_setsockopt: {
            int v = 0;
            int level = SOL_SOCKET, name = 0;
            const char* val = reinterpret_cast<const char*>(&v);
            int len = sizeof v;
            struct linger l = {1, static_cast<u_short>((arg >> 3) % 10)};
            switch (arg % 6) {
                case 0: level = IPPROTO_TCP, name = TCP_NODELAY, v = 1; break;
                case 1: level = IPPROTO_TCP, name = TCP_NODELAY, v = 0; break;
                case 2: name = SO_KEEPALIVE, v = 1; break;
                case 3: name = SO_RCVBUF, v = arg >> 3; break;
                case 4: name = SO_LINGER, val = reinterpret_cast<const char*>(&l), len = sizeof l; break;
                default: name = SO_DONTLINGER, v = 1; break;
            }
            check(wsp_call::setsockopt, w_.lpWSPSetSockOpt(so.h, level, name, val, len, &err), err, "WSPSetSockOpt");
            break;
        }
        case a_query: {
            u_long n = 0;
            DWORD ret = 0;
            check(wsp_call::ioctl,
                  w_.lpWSPIoctl(so.h, FIONREAD, nullptr, 0, &n, sizeof n, &ret, nullptr, nullptr, nullptr, &err), err,
                  "FIONREAD");
            int v = 0;
            INT len = sizeof v;
            check(wsp_call::getsockopt,
                  w_.lpWSPGetSockOpt(so.h, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&v), &len, &err), err,
                  "SO_ERROR");
            break;
        }
        case a_connect: {
            INT len = 0;
            sockaddr_in6 to = sockaddr_of(so.v6, net().peer(so.v6), static_cast<std::uint16_t>(7000 + arg % 4), len);
            check(
                wsp_call::connect,
                w_.lpWSPConnect(so.h, reinterpret_cast<sockaddr*>(&to), len, nullptr, nullptr, nullptr, nullptr, &err),
                err, "WSPConnect");
            break;
        }
        case a_ov_results:
            for (auto& op : ops_) {
                if (op->s != so.h) continue;
                DWORD bytes_done = 0, flags = 0;
                if (!w_.lpWSPGetOverlappedResult(so.h, &op->ov, &bytes_done, FALSE, &flags, &err))
                    check(wsp_call::overlapped_result, SOCKET_ERROR, err, "WSPGetOverlappedResult");
            }
            break;
        default: break;
    }
    process_output();
}

// ---- setup and teardown -------------------------------------------------------

void run::setup() {
    int err = 0;
    for (bool v6 : {false, true}) {
        const ip_addr stack_ip = net().stack(v6);
        // Listener.
        app_socket l;
        l.h = new_socket(v6, true);
        l.v6 = v6;
        l.listener = true;
        l.open = true;
        bind_to(l.h, v6, stack_ip, 80);
        LWSP_FUZZ_CHECK(w_.lpWSPListen(l.h, 8, &err) == 0, "WSPListen: %d", err);
        sockets_.push_back(l);
        // The peer connects to it.
        conn_track& t = track(v6, 80, 40000);
        lwsp::test::tcp_segment syn;
        syn.sport = 40000;
        syn.dport = 80;
        syn.seq = t.peer_nxt;
        syn.flags = lwsp::test::tcp_syn;
        syn.options = {lwsp::test::opt_mss(1460)};
        if (cfg_ & cfg_peer_wscale) {
            syn.options.push_back(lwsp::test::opt_wscale(7));
            syn.options.push_back(lwsp::test::opt_sack_permitted());
            syn.options.push_back(lwsp::test::opt_timestamps(1, 0));
        }
        const ip_addr peer_ip = net().peer(v6);
        e_.inject(lwsp::test::tcp_frame(net().stack_mac, net().peer_mac, peer_ip, stack_ip, syn));
        process_output();
        conn_track& t2 = track(v6, 80, 40000);
        LWSP_FUZZ_CHECK(t2.stack_seen, "no SYN-ACK to the peer's SYN (v6 %d)", v6);
        t2.peer_nxt += 1;
        lwsp::test::tcp_segment ack;
        ack.sport = 40000;
        ack.dport = 80;
        ack.seq = t2.peer_nxt;
        ack.ack = t2.stack_nxt;
        ack.flags = lwsp::test::tcp_ack;
        ack.window = (cfg_ & cfg_peer_wscale) ? 1024 : 65535;  // 128 KiB with the scale of 7
        e_.inject(lwsp::test::tcp_frame(net().stack_mac, net().peer_mac, peer_ip, stack_ip, ack));
        process_output();
        app_socket a;
        a.h = w_.lpWSPAccept(l.h, nullptr, nullptr, nullptr, 0, &err);
        LWSP_FUZZ_CHECK(a.h != INVALID_SOCKET, "WSPAccept: %d", err);
        a.v6 = v6;
        a.open = true;
        sockets_.push_back(a);
        // The application connects to the peer.
        app_socket c;
        c.h = new_socket(v6, true);
        c.v6 = v6;
        c.open = true;
        bind_to(c.h, v6, stack_ip, 5000);
        INT len = 0;
        sockaddr_in6 to = sockaddr_of(v6, peer_ip, 7000, len);
        LWSP_FUZZ_CHECK(w_.lpWSPConnect(c.h, reinterpret_cast<sockaddr*>(&to), len, nullptr, nullptr, nullptr, nullptr,
                                        &err) == SOCKET_ERROR &&
                            err == WSAEWOULDBLOCK,
                        "nonblocking WSPConnect: %d", err);
        sockets_.push_back(c);
        process_output();
        // UDP: connected, and bound only.
        app_socket uc;
        uc.h = new_socket(v6, false);
        uc.v6 = v6;
        uc.tcp = false;
        uc.open = true;
        bind_to(uc.h, v6, ip_addr::parse(v6 ? "::" : "0.0.0.0"), 5353);
        sockaddr_in6 peer_udp = sockaddr_of(v6, peer_ip, 6000, len);
        LWSP_FUZZ_CHECK(w_.lpWSPConnect(uc.h, reinterpret_cast<sockaddr*>(&peer_udp), len, nullptr, nullptr, nullptr,
                                        nullptr, &err) == 0,
                        "UDP WSPConnect: %d", err);
        sockets_.push_back(uc);
        app_socket ub;
        ub.h = new_socket(v6, false);
        ub.v6 = v6;
        ub.tcp = false;
        ub.open = true;
        bind_to(ub.h, v6, ip_addr::parse(v6 ? "::" : "0.0.0.0"), 53);
        sockets_.push_back(ub);
        // Events on all but the bound UDP socket.
        const std::size_t base = sockets_.size() - sockets_per_family;
        for (std::size_t i = 0; i < 4; ++i)
            LWSP_FUZZ_CHECK(w_.lpWSPEventSelect(sockets_[base + i].h, ev_, FD_ALL_EVENTS, &err) == 0,
                            "WSPEventSelect: %d", err);
    }
    process_output();
}

void run::step(input& in) {
    const std::uint8_t kind = in.u8();
    static const char* const names[] = {"tcp", "udp", "icmp", "arp", "raw_ip", "raw_frame", "clock", "app"};
    env::trace("record %s%s", names[kind & 7], (kind & kind_v6) ? " (IPv6)" : "");
    const bool v6 = (kind & kind_v6) != 0;
    ip_spec ip;
    ip.v6 = v6;
    ip.src = net().peer(v6);
    ip.dst = net().stack(v6);
    bool src_given = false, dst_given = false, ttl_given = false;
    if ((kind & 7) <= k_raw_ip && (kind & kind_ip_opts)) {
        // Peek at the mask: the ICMP defaults depend on what was given.
        input peek = in;
        const std::uint8_t m = peek.u8();
        src_given = (m & ip_src) != 0;
        dst_given = (m & ip_dst) != 0;
        ttl_given = (m & ip_ttl) != 0;
        read_ip_opts(in, ip);
    }
    frame_spec fr;
    if ((kind & 7) <= k_raw_frame && (kind & kind_frame_opts)) read_frame_opts(in, fr);
    switch (kind & 7) {
        case k_tcp: rec_tcp(in, v6, ip, fr); break;
        case k_udp: rec_udp(in, ip, fr); break;
        case k_icmp: rec_icmp(in, v6, ip, fr, dst_given, src_given, ttl_given); break;
        case k_arp: rec_arp(in, fr); break;
        case k_raw_ip: {
            ip.proto = in.u8();
            emit(ip, read_payload(in), std::nullopt, false, false, fr);
            break;
        }
        case k_raw_frame: {
            bytes frame = in.blob16(0xffff + 14);
            append(frame, fr.trailer);
            if (fr.truncate && *fr.truncate < frame.size()) frame.resize(*fr.truncate);
            send_frame(std::move(frame), fr.info ? *fr.info : lwsp::frame_info{}, fr.exact, fr.split);
            break;
        }
        case k_clock: {
            const std::uint16_t v = in.u16();
            clock(v < 50000 ? v : (v - 50000u) * 1000ull);
            return;
        }
        case k_app: rec_app(in); return;
    }
    process_output();
}

void run::teardown() {
    int err = 0;
    for (app_socket& so : sockets_) {
        if (!so.open) continue;
        if (cfg_ & cfg_abortive) {
            struct linger l = {1, 0};
            w_.lpWSPSetSockOpt(so.h, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err);
        }
        if (w_.lpWSPCloseSocket(so.h, &err) != 0) {
            // A nonblocking lingering close that cannot finish: make it abortive.
            LWSP_FUZZ_CHECK(err == WSAEWOULDBLOCK, "WSPCloseSocket: %d", err);
            struct linger l = {1, 0};
            w_.lpWSPSetSockOpt(so.h, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err);
            LWSP_FUZZ_CHECK(w_.lpWSPCloseSocket(so.h, &err) == 0, "abortive WSPCloseSocket: %d", err);
        }
        so.open = false;
    }
    // Every overlapped operation has completed now (closing aborts them).
    for (auto& op : ops_)
        LWSP_FUZZ_CHECK(op->ov.Internal != WSS_OPERATION_IN_PROGRESS, "an overlapped operation outlived its socket");
    process_output();
    clock_used_ = 0;
    clock(grace_ms[cfg_ >> 6]);
    e_.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static WSAEVENT ev = lwsp_create_event();
    env& e = env::get();
    input in(data, size);
    const std::uint8_t cfg = in.u8();
    link_config lc;
    lc.mtu = mtus[cfg & 3];
    lc.tx_offloads = (cfg & cfg_tx_offloads) != 0;
    e.begin(lc);
    lwsp_reset_event(ev);
    {
        run r(cfg, ev);
        r.setup();
        for (std::size_t n = 0; n < max_records && !in.empty(); ++n) r.step(in);
        r.teardown();
    }
    return 0;
}
