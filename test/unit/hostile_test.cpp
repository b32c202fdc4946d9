// A hostile network: frames and traffic patterns a stack on a device that
// faces networks it does not control must survive without crashing,
// stalling or running out of memory.  Each case started as a defect found by
// fuzzing or probing (issue 10); each states what crossed the wire and what
// the stack kept.
#include <algorithm>
#include <array>
#include <optional>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "isn.hpp"  // white box: the keyed hash of initial sequence numbers
#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"
#include "wsp_fixture.hpp"

using namespace lwsp::test;

namespace {

const mac_addr k_stack_mac = mac_addr::parse("02:00:00:00:00:01");
const mac_addr k_peer_mac = mac_addr::parse("02:00:00:00:00:02");

// An Ethernet frame of exactly `payload` after the header: no padding.
bytes raw_frame(mac_addr dst, uint16_t type, const bytes& payload) {
    return eth_frame(dst, k_peer_mac, type, payload, false);
}

// `n` bytes of a recognisable stream, starting `offset` bytes into it.
bytes stream_bytes(std::size_t offset, std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>('a' + (offset + i) % 26);
    return b;
}

// Everything the socket has to read now (nonblocking), and whether the
// stream ended.
std::string read_available(wsp_env& env, SOCKET s, bool& eof) {
    REQUIRE(env.set_nonblocking(s, true) == 0);
    std::string all;
    eof = false;
    for (;;) {
        int err = 0;
        const std::string got = env.recv(s, 65536, err);
        if (err == WSAEWOULDBLOCK) break;
        REQUIRE(err == 0);
        if (got.empty()) {
            eof = true;
            break;
        }
        all += got;
    }
    return all;
}

std::string as_string(const bytes& b) { return std::string(b.begin(), b.end()); }

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
        REQUIRE(net.link.inject(
            raw_frame(mac_addr::broadcast(), ethertype_arp, bytes(arp_body.begin(), arp_body.begin() + keep))));
        CHECK(net.pump().empty());  // no reply to a request that is not all there
    }
    const bytes ip = ipv4_packet(ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.1"), ip_proto_udp, bytes(8, 0));
    for (std::size_t keep : {0u, 2u, 12u, 19u}) {
        INFO("IPv4 header of " << keep << " bytes");
        REQUIRE(net.link.inject(raw_frame(k_stack_mac, ethertype_ipv4, bytes(ip.begin(), ip.begin() + keep))));
        CHECK(net.pump().empty());
    }
    const bytes ip6 =
        ipv6_packet(ip_addr::parse("2001:db8::2"), ip_addr::parse("2001:db8::1"), ip_proto_udp, bytes(8, 0));
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

TEST_CASE("a neighbour solicitation with an option of length 0 is discarded, lwIP's reads past it find zeros",
          "[hostile][frames][regression]") {
    // lwIP 2.1.3's nd6_input copies a link-layer address option's 6 bytes
    // without checking that the option holds them: with length 0 they come
    // from behind the packet.  An 80-byte frame filled its buffer exactly,
    // so they came from the heap (ASan: heap-buffer-overflow in nd6_input;
    // found by fuzzing) and went back out as the reply's destination MAC.
    // RFC 4861 4.6: such a message is discarded (lwsp's IPv6 input hook).
    // Behind an extension header, which the hook does not walk, lwIP still
    // reads past the packet: it must find the zeros the stack puts behind
    // every inbound frame, never another buffer's bytes.
    lan net;
    bytes body = {0, 0, 0, 0};  // reserved
    const bytes target = ip_addr::parse("2001:db8::1").raw();
    body.insert(body.end(), target.begin(), target.end());
    body.push_back(1);  // source link-layer address option...
    body.push_back(0);  // ...of length 0
    const ip_addr peer = ip_addr::parse("2001:db8::2");
    const ip_addr stack = ip_addr::parse("2001:db8::1");
    const bytes frame =
        icmp_frame(k_stack_mac, k_peer_mac, peer, stack, icmpv6_neighbor_solicitation_type, 0, body, 255);
    REQUIRE(frame.size() == 80);
    REQUIRE(net.link.inject(frame));
    CHECK(net.pump().empty());  // discarded: no advertisement in reply
    // The same message behind a Destination Options header (PadN only).
    bytes ext = {ip_proto_icmpv6, 0, 1, 4, 0, 0, 0, 0};
    ext.insert(ext.end(), frame.begin() + 14 + 40, frame.end());
    const bytes wrapped = raw_frame(k_stack_mac, ethertype_ipv6, ipv6_packet(peer, stack, 60, ext, 255));
    REQUIRE(wrapped.size() == 88);
    REQUIRE(net.link.inject(wrapped));
    for (const parsed_frame& f : net.pump()) {
        INFO("reply to " << f.eth_dst.to_string());
        CHECK((f.eth_dst == mac_addr{} || f.eth_dst == k_peer_mac));  // zeros of the stack's, never heap bytes
    }
    CHECK(net.st.stats().pbufs == 0);
}

TEST_CASE("a redirect to the unspecified address is discarded: datagrams to the destination keep flowing",
          "[hostile][frames][regression]") {
    // lwIP 2.1.3 takes a redirect's target as the destination's next hop
    // unchecked; :: matched an unused neighbour entry, on which every later
    // packet to that destination was queued for good (memory that no timer
    // frees; found by fuzzing).  RFC 4861 8.1: the target is a link-local
    // router address or the destination itself.
    wsp_env env;
    const SOCKET s = env.socket(AF_INET6, SOCK_DGRAM);
    sockaddr_in6 to = wsp_env::addr6("2001:db8::2", 7000);
    auto send_to_peer = [&](const std::string& text) {
        WSABUF b{static_cast<ULONG>(text.size()), const_cast<char*>(text.data())};
        DWORD sent = 0;
        int err = 0;
        REQUIRE(env.p.lpWSPSendTo(s, &b, 1, &sent, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to, nullptr,
                                  nullptr, nullptr, &err) == 0);
        bool arrived = false;
        for (const parsed_frame& f : env.pump())
            arrived = arrived || (f.udp && f.udp->dport == 7000 && as_string(f.udp->payload) == text);
        return arrived;
    };
    CHECK(send_to_peer("before"));  // the destination is in the cache now
    bytes body = {0, 0, 0, 0};      // reserved
    const bytes unspecified(16, 0);
    const bytes destination = ip_addr::parse("2001:db8::2").raw();
    body.insert(body.end(), unspecified.begin(), unspecified.end());  // target
    body.insert(body.end(), destination.begin(), destination.end());
    const ip_addr router = ip_addr::parse("fe80::2");
    const ip_addr stack = ip_addr::parse("2001:db8::1");
    const bytes plain = icmp_frame(k_stack_mac, k_peer_mac, router, stack, 137 /* redirect */, 0, body, 255);
    REQUIRE(env.link.inject(plain));
    CHECK(env.pump().empty());
    CHECK(send_to_peer("after"));
    // The same message behind a Destination Options header, and in two
    // fragments (RFC 6980: neighbour discovery is never fragmented).
    const bytes message(plain.begin() + 14 + 40, plain.end());
    bytes ext = {ip_proto_icmpv6, 0, 1, 4, 0, 0, 0, 0};
    ext.insert(ext.end(), message.begin(), message.end());
    REQUIRE(env.link.inject(raw_frame(k_stack_mac, ethertype_ipv6, ipv6_packet(router, stack, 60, ext, 255))));
    CHECK(env.pump().empty());
    CHECK(send_to_peer("after, behind a header"));
    bytes first = {ip_proto_icmpv6, 0, 0x00, 0x01, 0, 0, 0, 7};  // offset 0, more fragments, id 7
    first.insert(first.end(), message.begin(), message.begin() + 16);
    bytes second = {ip_proto_icmpv6, 0, 0x00, 16, 0, 0, 0, 7};  // offset 2 (16 bytes), the last
    second.insert(second.end(), message.begin() + 16, message.end());
    REQUIRE(env.link.inject(raw_frame(k_stack_mac, ethertype_ipv6, ipv6_packet(router, stack, 44, first, 255))));
    REQUIRE(env.link.inject(raw_frame(k_stack_mac, ethertype_ipv6, ipv6_packet(router, stack, 44, second, 255))));
    CHECK(env.pump().empty());
    CHECK(send_to_peer("after, in fragments"));
    env.st.advance_time(std::chrono::seconds(120));  // the lone second fragment's reassembly times out
    env.pump();
    CHECK(env.close(s) == 0);
    CHECK(env.st.stats().pbufs == 0);
}

// ---- UDP receive memory ---------------------------------------------------------

namespace {

// Receives every queued datagram of a nonblocking UDP socket; returns how
// many there were.
std::size_t drain_udp(wsp_env& env, SOCKET s) {
    std::size_t n = 0;
    char buf[2048];
    for (;;) {
        WSABUF b{sizeof buf, buf};
        DWORD got = 0, flags = 0;
        int err = 0;
        if (env.p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0) {
            CHECK(err == WSAEWOULDBLOCK);
            return n;
        }
        ++n;
    }
}

SOCKET bound_udp(wsp_env& env, std::uint16_t port) {
    SOCKET s = env.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    sockaddr_in a = wsp_env::addr4("0.0.0.0", port);
    int err = 0;
    REQUIRE(env.p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&a), sizeof a, &err) == 0);
    REQUIRE(env.set_nonblocking(s, true) == 0);
    return s;
}

}  // namespace

TEST_CASE("empty and tiny UDP datagrams are charged what they occupy: the queue stays bounded",
          "[hostile][udp][regression]") {
    // A zero-byte datagram added nothing to the queued byte count, so a
    // socket nobody read queued them without limit (200,000 of them grew
    // lwIP's heap by 18 MB).  Each is now charged its buffers and entry.
    wsp_env env;
    SOCKET s = bound_udp(env, 9000);
    const std::size_t heap_before = env.st.stats().heap_bytes;
    for (int i = 0; i < 20000; ++i) env.peer4.send_udp(40000, 9000, {});
    const std::size_t heap_full = env.st.stats().heap_bytes;
    INFO("lwIP heap grew by " << heap_full - heap_before << " bytes");
    CHECK(heap_full - heap_before < 2 * 65536 + 4096);  // the receive buffer, plus at most one datagram
    const std::size_t empty_ones = drain_udp(env, s);
    CHECK(empty_ones > 100);   // many fit: each costs ~100 bytes, not 64 KiB
    CHECK(empty_ones < 1000);  // but not 20,000
    CHECK(env.st.stats().heap_bytes == heap_before);

    // 1-byte datagrams likewise; each is still delivered whole and in order.
    for (int i = 0; i < 5000; ++i) env.peer4.send_udp(40000, 9000, {static_cast<std::uint8_t>(i)});
    char c = 0;
    WSABUF b{1, &c};
    DWORD got = 0, flags = 0;
    int err = 0;
    REQUIRE(env.p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(got == 1);
    CHECK(c == 0);
    const std::size_t tiny_ones = 1 + drain_udp(env, s);
    CHECK(tiny_ones < 1000);
    // The queue accepts again once read, and a full-size datagram fits into
    // an empty queue whatever SO_RCVBUF says.
    int small = 512;
    REQUIRE(env.p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&small), sizeof small,
                                  &err) == 0);
    env.peer4.send_udp(40000, 9000, bytes(1400, 'x'));
    env.peer4.send_udp(40000, 9000, bytes(1400, 'y'));  // beyond 512 bytes: dropped
    CHECK(drain_udp(env, s) == 1);
    int value = 0, len = sizeof value;
    REQUIRE(env.p.lpWSPGetSockOpt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<char*>(&value), &len, &err) == 0);
    CHECK(value == 512);
    CHECK(env.close(s) == 0);
}

// ---- TCP out-of-order flood ------------------------------------------------------

namespace {

constexpr std::uint16_t k_port = 80;
constexpr std::uint16_t k_peer_port = 50000;

}  // namespace

TEST_CASE("a flood of out-of-order segments that never fill the hole is bounded in memory",
          "[hostile][tcp][regression]") {
    // 1-byte segments at every other sequence number inside the window: lwIP
    // kept each one and walked the whole queue for every arrival (30,000
    // segments: 7 s of the core lock, 3.7 MB).  The queue is now capped.
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, k_peer_port, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    env.pump();
    const std::size_t heap_before = env.st.stats().heap_bytes;
    const std::uint32_t base = conn.snd_nxt();
    const int flood = 20000;  // every other byte of the 64 KiB window the peer sees unscaled: 1..39999
    for (int i = 0; i < flood; ++i)
        conn.send_raw(base + 1 + 2 * static_cast<std::uint32_t>(i), conn.rcv_nxt(), tcp_ack,
                      {static_cast<std::uint8_t>('a' + i % 26)});
    const lwsp::stack_stats full = env.st.stats();
    INFO("out-of-order segments held: " << full.tcp_segments << ", heap growth " << full.heap_bytes - heap_before);
    CHECK(full.tcp_segments <= 256);
    CHECK(full.heap_bytes - heap_before < 256 * 1024);
    // Every segment was answered with a duplicate ACK of the hole.
    std::size_t acks = 0;
    for (const parsed_frame& f : env.pump())
        if (f.tcp && f.tcp->ack == base && !f.tcp->has(tcp_rst)) ++acks;
    CHECK(acks > 0);
    // The connection still works: filling the first hole delivers its byte
    // and the queued one right after it (the lowest segments are the ones
    // kept), up to the next hole.
    conn.send_raw(base, conn.rcv_nxt(), tcp_ack | tcp_psh, {'A'});
    int err = 0;
    std::string got = env.recv(s, 8, err);
    CHECK(err == 0);
    CHECK(got == "Aa");
    conn.send_raw(base + 2, conn.rcv_nxt(), tcp_ack | tcp_psh, {'B'});
    got = env.recv(s, 8, err);
    CHECK(got == "Bb");
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

// ---- segments lwIP 2.1.3 mishandles (fuzzing findings) ------------------------------

TEST_CASE("an in-order segment past the window that covers a FIN queued out of order is dropped, not merged",
          "[hostile][tcp][regression]") {
    // lwIP trimmed the segment to the window, took over the queued FIN that
    // the trimmed data covers, and asserted (tcplen > rcv_wnd): any peer
    // could abort the process.  lwsp's guard drops such a segment.
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, k_peer_port, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    for (parsed_frame& f : env.pump()) conn.accept(f);
    REQUIRE(conn.stack_window() == std::optional<std::uint16_t>(65535));  // unscaled: the peer offered no scaling
    conn.send_data(stream_bytes(0, 37779), 0);  // the application does not read: 27756 bytes of window left
    for (parsed_frame& f : env.pump()) conn.accept(f);
    const std::uint32_t nxt = conn.snd_nxt();
    conn.send_raw(nxt + 15360, conn.rcv_nxt(), tcp_ack | tcp_fin);  // inside the window: queued out of order
    conn.send_raw(nxt, conn.rcv_nxt(), tcp_ack | tcp_psh, stream_bytes(37779, 37779));  // past the right edge
    for (parsed_frame& f : env.pump()) {
        if (!f.tcp) continue;
        CHECK(f.tcp->ack == nxt);  // nothing of it taken
        conn.accept(f);
    }
    // What fits goes through: the data up to the FIN, then the FIN.
    conn.send_raw(nxt, conn.rcv_nxt(), tcp_ack | tcp_psh, stream_bytes(37779, 15360));
    bool eof = false;
    const std::string got = read_available(env, s, eof);
    CHECK(got.size() == 37779 + 15360);
    CHECK(got == as_string(stream_bytes(0, 37779 + 15360)));
    CHECK(eof);
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

TEST_CASE("a segment queued out of order past the window's right edge is dropped, and the stream stays intact",
          "[hostile][tcp][regression]") {
    // lwIP queued the first out-of-order segment untrimmed; once the hole
    // before it filled, it was in order and longer than the window: an
    // assertion (ooseq tcplen > rcv_wnd) aborted the process.  Ordinary
    // 1460-byte segments, as any peer sends them.
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, k_peer_port, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    for (parsed_frame& f : env.pump()) conn.accept(f);
    REQUIRE(conn.stack_window() == std::optional<std::uint16_t>(65535));
    std::size_t sent = 0;
    for (int i = 0; i < 40; ++i, sent += 1460) {
        conn.send_data(stream_bytes(sent, 1460), 0);  // not read: the window shrinks to 7135
        for (parsed_frame& f : env.pump()) conn.accept(f);
    }
    const std::uint32_t nxt = conn.snd_nxt();
    // 6000 bytes one segment ahead: they end 325 bytes past the right edge.
    conn.send_raw(nxt + 1460, conn.rcv_nxt(), tcp_ack, stream_bytes(sent + 1460, 6000));
    for (parsed_frame& f : env.pump()) conn.accept(f);
    // The hole fills; before the guard, this is where the process aborted.
    conn.send_data(stream_bytes(sent, 1460), 0);
    sent += 1460;
    for (parsed_frame& f : env.pump()) {
        if (f.tcp) CHECK(f.tcp->ack == nxt + 1460);  // the queued segment was not kept
        conn.accept(f);
    }
    // The rest, as much as the window allows: 7135 - 1460 bytes.
    conn.send_data(stream_bytes(sent, 5675), 0);
    sent += 5675;
    bool eof = false;
    const std::string got = read_available(env, s, eof);
    CHECK(got.size() == sent);
    CHECK(got == as_string(stream_bytes(0, sent)));
    CHECK_FALSE(eof);
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

TEST_CASE("an MSS option after the handshake is ignored: the connection keeps its MSS and the next send works",
          "[hostile][tcp][regression]") {
    // lwIP took an MSS option from any segment, so a peer could lower the
    // MSS below a segment already queued; the next send then failed an
    // assertion (mss_local is too small) and aborted the process.  An MSS
    // option means something only in a SYN (RFC 9293 3.7.1).
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, k_peer_port, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    for (parsed_frame& f : env.pump()) conn.accept(f);
    // The peer closes its window, so what the application sends stays
    // queued, unsent, in one segment longer than the MSS the peer is about
    // to claim.  (lwIP takes a smaller window only from a segment newer
    // than the last one that set it: two bytes of data carry it.)
    conn.send_text("a");
    conn.window = 0;
    conn.send_text("b");
    for (parsed_frame& f : env.pump()) conn.accept(f);
    REQUIRE(env.send(s, std::string(300, 'x')) == 300);
    for (parsed_frame& f : env.pump()) {
        if (f.tcp) REQUIRE(f.tcp->payload.empty());
        conn.accept(f);
    }
    conn.send_raw(conn.snd_nxt(), conn.rcv_nxt(), tcp_ack, {}, {opt_mss(11)});
    REQUIRE(env.send(s, std::string(11, 'y')) == 11);  // lwIP asserted here
    conn.window = 65535;
    conn.send_ack();
    std::size_t largest = 0;
    for (parsed_frame& f : env.pump()) {
        if (f.tcp) largest = std::max(largest, f.tcp->payload.size());
        conn.accept(f);
    }
    CHECK(largest > 11);  // segments still sized by the MSS of the handshake
    CHECK(conn.received_string() == std::string(300, 'x') + std::string(11, 'y'));
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

// ---- WSP arguments a client may legally pass (fuzzing findings) -----------------

TEST_CASE("WSPSelect takes fd_sets larger than FD_SETSIZE, as a client that defines its own size passes",
          "[hostile][wsp][select][regression]") {
    // The provider read and wrote fd_array past its declared 64 entries
    // (undefined behaviour); it now reaches the entries through the set's
    // storage, as many as fd_count says.
    wsp_env env;
    constexpr u_int n = 100;
    struct big_fd_set {
        u_int fd_count;
        SOCKET fd_array[n];
    } set{};
    std::vector<SOCKET> socks;
    for (u_int i = 0; i < n; ++i) {
        socks.push_back(env.socket(AF_INET, SOCK_DGRAM));
        set.fd_array[i] = socks.back();
    }
    set.fd_count = n;
    timeval tv{0, 0};
    int err = 0;
    // A datagram socket is writable even before it is bound.
    CHECK(env.p.lpWSPSelect(0, nullptr, reinterpret_cast<fd_set*>(&set), nullptr, &tv, &err) == static_cast<int>(n));
    CHECK(set.fd_count == n);
    for (u_int i = 0; i < n; ++i) CHECK(set.fd_array[i] == socks[i]);
    CHECK(__WSAFDIsSet(socks[n - 1], reinterpret_cast<fd_set*>(&set)) == 1);
    for (SOCKET s : socks) CHECK(env.close(s) == 0);
}

TEST_CASE("WSPRecv into several buffers skips an empty one whose address is NULL", "[hostile][wsp][regression]") {
    // A zero-length WSABUF may have a NULL address; the copy into the
    // buffers passed that NULL to memcpy (undefined behaviour, UBSan).
    wsp_env env;
    SOCKET lst = env.listener(k_port);
    tcp_script conn(env.peer4, k_peer_port, k_port);
    SOCKET s = env.accept_from_peer(lst, conn);
    conn.send_text("hello, world");
    char a[5] = {};
    char c[10] = {};
    WSABUF bufs[3] = {{sizeof a, a}, {0, nullptr}, {sizeof c, c}};
    DWORD got = 0;
    DWORD flags = 0;
    int err = 0;
    REQUIRE(env.p.lpWSPRecv(s, bufs, 3, &got, &flags, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(got == 12);
    CHECK(std::string(a, 5) == "hello");
    CHECK(std::string(c, 7) == ", world");
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

// ---- SYN flood ----------------------------------------------------------------------

TEST_CASE("spoofed SYNs cannot lock a listener out: half-open connections have their own limit",
          "[hostile][tcp][listen][regression]") {
    // Half-open connections used to count against the accept backlog, and
    // lwIP keeps one for 20 s: eight SYNs from an address that never
    // answers locked a backlog-8 listener out.
    wsp_env env;
    SOCKET lst = env.listener(k_port, false, 8);
    int err = 0;
    // The spoofer's address is on the link but nobody answers for it.
    scripted_peer spoofer({mac_addr::parse("02:00:00:00:00:66"), ip_addr::parse("192.0.2.66")},
                          {k_stack_mac, ip_addr::parse("192.0.2.1")}, [&env](const bytes& f) { env.link.inject(f); });
    const int flood = GENERATE(8, 500);
    INFO(flood << " spoofed SYNs");
    for (int i = 0; i < flood; ++i) {
        tcp_script fake(spoofer, static_cast<std::uint16_t>(10000 + i), k_port, 7000u + static_cast<std::uint32_t>(i));
        fake.send_syn();
    }
    const lwsp::stack_stats st = env.st.stats();
    CHECK(st.tcp_pcbs - st.tcp_listen_pcbs <= 64);  // the half-open limit, whatever the flood
    // A real client still gets in, and the application accepts it.
    tcp_script conn(env.peer4, k_peer_port, k_port);
    REQUIRE(handshake(env, conn));
    SOCKET s = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE(s != INVALID_SOCKET);
    conn.send_text("hello");
    CHECK(env.recv(s, 16, err) == "hello");
    CHECK(env.close(s) == 0);
    CHECK(env.close(lst) == 0);
}

TEST_CASE("the accept backlog limits established connections, the next handshake waits for an accept",
          "[hostile][tcp][listen]") {
    wsp_env env;
    SOCKET lst = env.listener(k_port, false, 1);
    int err = 0;
    tcp_script a(env.peer4, 50001, k_port), b(env.peer4, 50002, k_port), c(env.peer4, 50003, k_port);
    // Two SYNs while the queue is empty: both are answered (half-open).
    a.send_syn();
    b.send_syn();
    for (const parsed_frame& f : env.pump()) {
        a.accept(f);
        b.accept(f);
    }
    REQUIRE(a.stack_isn());
    REQUIRE(b.stack_isn());
    // The first handshake fills the backlog of one; the second one's last
    // ACK waits (dropped, unanswered) until the application accepts.
    a.send_ack();
    b.send_ack();
    CHECK(env.pump().empty());
    // A new SYN is not answered either while the queue is full.
    c.send_syn();
    CHECK(env.pump().empty());
    SOCKET first = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE(first != INVALID_SOCKET);
    b.send_ack();  // the peer's retransmission completes it now
    REQUIRE(env.set_nonblocking(lst, true) == 0);
    SOCKET second = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE(second != INVALID_SOCKET);
    b.send_text("from b");
    CHECK(env.recv(second, 16, err) == "from b");
    // And the retried SYN of the third client is answered.
    REQUIRE(handshake(env, c));
    SOCKET third = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    CHECK(third != INVALID_SOCKET);
    for (SOCKET s : {first, second, third, lst}) CHECK(env.close(s) == 0);
}

// ---- stopping ------------------------------------------------------------------------

TEST_CASE("lwsp_stop frees the stack once the last socket on it is closed", "[hostile][capi][regression]") {
    // Every stopped stack used to stay alive for the rest of the process
    // (20,000 start/stop cycles: +33 MB): a device that restarts its network
    // on reconfiguration leaked each time.
    REQUIRE(lwsp::stack::objects() == 0);
    for (int round = 0; round < 50; ++round) {
        lwsp_options manual{};
        manual.manual_clock = 1;
        REQUIRE(lwsp_start(&manual) == 0);
        WSPDATA data{};
        WSPPROC_TABLE procs{};
        REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &procs) == 0);
        int err = 0;
        SOCKET s = procs.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
        REQUIRE(s != INVALID_SOCKET);
        lwsp_stop();
        CHECK(lwsp::stack::objects() == 1);  // the open socket still points at it
        CHECK(procs.lpWSPCloseSocket(s, &err) == SOCKET_ERROR);
        CHECK(err == WSAENETDOWN);
        CHECK(lwsp::stack::objects() == 0);
        CHECK(procs.lpWSPCleanup(&err) == 0);
        lwsp_stop();  // nothing runs: harmless
    }
    // A stop with no socket left frees it at once.
    REQUIRE(lwsp_start(nullptr) == 0);
    CHECK(lwsp::stack::objects() == 1);
    lwsp_stop();
    CHECK(lwsp::stack::objects() == 0);
}

TEST_CASE("stop frees datagrams waiting in IP reassembly", "[hostile][frames][regression]") {
    lan net;
    const std::size_t heap_before = net.st.stats().heap_bytes;
    // First fragments of an IPv4 and an IPv6 datagram whose rest never comes.
    bytes v4 = ipv4_packet(ip_addr::parse("192.0.2.2"), ip_addr::parse("192.0.2.1"), ip_proto_udp, bytes(64, 1));
    v4[6] = 0x20;  // more fragments, offset 0
    v4[10] = v4[11] = 0;
    const std::uint16_t sum = inet_checksum(v4.data(), 20);
    v4[10] = static_cast<std::uint8_t>(sum >> 8);
    v4[11] = static_cast<std::uint8_t>(sum);
    REQUIRE(net.link.inject(eth_frame(k_stack_mac, k_peer_mac, ethertype_ipv4, v4)));
    bytes frag_hdr = {ip_proto_udp, 0, 0x00, 0x01, 0, 0, 0x12, 0x34};  // offset 0, more fragments
    bytes body(64, 2);
    frag_hdr.insert(frag_hdr.end(), body.begin(), body.end());
    REQUIRE(net.link.inject(eth_frame(
        k_stack_mac, k_peer_mac, ethertype_ipv6,
        ipv6_packet(ip_addr::parse("2001:db8::2"), ip_addr::parse("2001:db8::1"), ip_proto_fragment, frag_hdr))));
    CHECK(net.st.stats().heap_bytes > heap_before);  // both are held, waiting
    net.st.stop();
    CHECK(net.st.stats().heap_bytes == 0);  // lwIP holds nothing once stopped
    CHECK(net.st.stats().pbufs == 0);
}

// ---- exhaustion ------------------------------------------------------------------------

namespace {

// A nonblocking send of `n` bytes: the bytes taken, or -WSAE code.
long send_some(wsp_env& env, SOCKET s, std::size_t n) {
    std::string data(n, 'z');
    WSABUF b{static_cast<u_long>(n), data.data()};
    DWORD sent = 0;
    int err = 0;
    if (env.p.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) != 0) return -err;
    return static_cast<long>(sent);
}

}  // namespace

TEST_CASE("when lwIP's memory runs out calls fail WSAENOBUFS, and the stack recovers as memory is freed",
          "[hostile][exhaustion]") {
    lwsp::stack::options opts;
    opts.manual_clock = true;
    opts.memory_limit = 384 * 1024;
    wsp_env env(opts);
    SOCKET lst = env.listener(k_port);
    tcp_script a(env.peer4, 50001, k_port), b(env.peer4, 50002, k_port);
    SOCKET sa = env.accept_from_peer(lst, a);
    SOCKET sb = env.accept_from_peer(lst, b);
    env.pump();
    REQUIRE(env.set_nonblocking(sa, true) == 0);
    REQUIRE(env.set_nonblocking(sb, true) == 0);
    // Fill lwIP's memory with data the peer does not acknowledge: each
    // connection may queue 256 KiB, two of them do not fit in 384 KiB.
    long last = 0;
    std::size_t queued = 0;
    for (SOCKET s : {sa, sb}) {
        for (int i = 0; i < 1000; ++i) {
            last = send_some(env, s, 16 * 1024);
            if (last < 0) break;
            queued += static_cast<std::size_t>(last);
        }
        if (last == -WSAENOBUFS) break;
        CHECK(last == -WSAEWOULDBLOCK);  // the first connection's own buffer filled first
    }
    INFO(queued << " bytes queued");
    CHECK(last == -WSAENOBUFS);  // not WAEWOULDBLOCK: no send space will come from waiting
    CHECK(env.st.stats().heap_bytes <= opts.memory_limit);
    // A datagram meets the limit too.
    int err = 0;
    SOCKET u = env.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    sockaddr_in to = wsp_env::addr4("192.0.2.2", 9);
    std::string dgram(1200, 'd');
    WSABUF db{static_cast<u_long>(dgram.size()), dgram.data()};
    DWORD sent = 0;
    CHECK(env.p.lpWSPSendTo(u, &db, 1, &sent, 0, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr,
                            &err) == SOCKET_ERROR);
    CHECK(err == WSAENOBUFS);
    // The peer acknowledges everything in flight on both connections (its
    // ACKs get in through the inbound reserve): lwIP frees what they cover,
    // sends more, and memory comes back.
    for (int round = 0; round < 200; ++round) {
        bool any_data = false;
        for (const parsed_frame& f : env.pump()) {
            if (a.accept(f) || b.accept(f)) any_data = any_data || (f.tcp && !f.tcp->payload.empty());
        }
        a.send_ack();
        b.send_ack();
        if (!any_data && round > 0) break;
    }
    env.pump();
    CHECK(a.received().size() + b.received().size() == queued);  // every byte taken was delivered
    CHECK(env.st.stats().tcp_segments == 0);
    CHECK(env.p.lpWSPSendTo(u, &db, 1, &sent, 0, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr,
                            &err) == 0);
    CHECK(send_some(env, sb, 1000) == 1000);
    for (SOCKET s : {sa, sb, u, lst}) CHECK(env.close(s) == 0);
}

TEST_CASE("when the provider runs out of socket handles WSPSocket fails WSAEMFILE, until one is closed",
          "[hostile][exhaustion]") {
    wsp_env env;
    std::vector<SOCKET> open;
    int err = 0;
    for (;;) {
        SOCKET s = env.p.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
        if (s == INVALID_SOCKET) break;
        open.push_back(s);
        REQUIRE(open.size() <= 70000);
    }
    CHECK(err == WSAEMFILE);
    CHECK(open.size() == 65535);  // the handle table's documented size
    CHECK(env.close(open.back()) == 0);
    open.pop_back();
    SOCKET again = env.p.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    CHECK(again != INVALID_SOCKET);
    open.push_back(again);
    for (SOCKET s : open) REQUIRE(env.close(s) == 0);
    CHECK_FALSE(env.handle_valid(again));
}

// ---- initial sequence numbers --------------------------------------------------------

TEST_CASE("SipHash-2-4 gives the published test vector", "[hostile][isn]") {
    // Key 00 01 .. 0f, message 00 01 .. 0e: the reference implementation's
    // vector for a 15-byte input.
    const std::array<std::uint64_t, 2> key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    std::uint8_t msg[15];
    for (int i = 0; i < 15; ++i) msg[i] = static_cast<std::uint8_t>(i);
    CHECK(lwsp::detail::siphash24(key, msg, sizeof msg) == 0xa129ca6149be45e5ull);
    std::uint8_t none = 0;
    CHECK(lwsp::detail::siphash24(key, &none, 0) == 0x726fdb47dd0e0e31ull);
}

namespace {

// The ISN of the stack's SYN-ACK to a SYN from the peer's `port`.
std::uint32_t syn_ack_isn(wsp_env& env, std::uint16_t port) {
    tcp_script conn(env.peer4, port, k_port);
    conn.send_syn();
    for (const parsed_frame& f : env.pump()) conn.accept(f);
    REQUIRE(conn.stack_isn());
    return *conn.stack_isn();
}

}  // namespace

TEST_CASE("initial sequence numbers are keyed per stack and per connection, not a counter",
          "[hostile][isn][regression]") {
    // lwIP's own ISN was 6510 plus its timer ticks: the same for every
    // connection made within one tick, and predictable from any of them.
    std::uint32_t first_a = 0, first_b = 0;
    {
        lwsp::stack::options o;
        o.manual_clock = true;
        o.random_seed = 42;
        wsp_env env(o);
        env.listener(k_port);
        first_a = syn_ack_isn(env, 40001);
        first_b = syn_ack_isn(env, 40002);
        CHECK(first_a != first_b);  // same instant, another 4-tuple
        CHECK(first_a != 6510u);
    }
    std::uint32_t again_a = 0;
    {
        lwsp::stack::options o;
        o.manual_clock = true;
        o.random_seed = 42;
        wsp_env env(o);
        env.listener(k_port);
        again_a = syn_ack_isn(env, 40001);
    }
    CHECK(again_a == first_a);  // the seed makes a run repeat exactly
    {
        lwsp::stack::options o;
        o.manual_clock = true;
        o.random_seed = 43;
        wsp_env env(o);
        env.listener(k_port);
        CHECK(syn_ack_isn(env, 40001) != first_a);  // another key, another ISN
    }
}

// ---- a port reused while lwsp holds the old connection in TIME-WAIT -----------------

TEST_CASE("a new SYN beyond a TIME-WAIT connection's sequence numbers ends the TIME-WAIT, the peer connects again",
          "[hostile][tcp][listen][regression]") {
    // Found by the TAP churn test: the kernel reused a client port whose
    // old connection lwsp (which closed first) still held in TIME-WAIT.
    // lwIP answered every SYN with an ACK, the kernel answered with RST,
    // TIME-WAIT ignores RSTs: connect() timed out.
    wsp_env env;
    SOCKET lst = env.listener(k_port, false, 8);
    int err = 0;
    tcp_script old(env.peer4, k_peer_port, k_port, 1000);
    SOCKET s = env.accept_from_peer(lst, old);
    // lwsp closes first: FIN, the peer's ACK and FIN, lwsp's last ACK.
    REQUIRE(env.close(s) == 0);
    for (const parsed_frame& f : env.pump()) old.accept(f);
    REQUIRE(old.fin_received());
    old.send_ack();
    old.send_fin();
    for (const parsed_frame& f : env.pump()) old.accept(f);
    REQUIRE(env.st.stats().tcp_time_wait_pcbs == 1);

    // An old duplicate SYN (inside the old sequence space) changes nothing:
    // TIME-WAIT stays, as RFC 793 and 1337 want.
    tcp_script stale(env.peer4, k_peer_port, k_port, 900);
    stale.send_syn();
    for (const parsed_frame& f : env.pump()) CHECK_FALSE((f.tcp && f.tcp->has(tcp_syn)));
    CHECK(env.st.stats().tcp_time_wait_pcbs == 1);

    // A new incarnation's SYN, its ISN past the old connection: TIME-WAIT
    // ends (nothing answers this SYN) and the peer's retransmission connects.
    tcp_script fresh(env.peer4, k_peer_port, k_port, old.snd_nxt() + 100000);
    fresh.send_syn();
    for (const parsed_frame& f : env.pump()) {
        CHECK_FALSE((f.tcp && (f.tcp->has(tcp_ack) || f.tcp->has(tcp_rst))));
        fresh.accept(f);
    }
    CHECK(env.st.stats().tcp_time_wait_pcbs == 0);
    SOCKET again = env.accept_from_peer(lst, fresh);  // the SYN again, as a peer retransmits it
    fresh.send_text("again");
    CHECK(env.recv(again, 16, err) == "again");
    CHECK(env.close(again) == 0);
    CHECK(env.close(lst) == 0);
}
