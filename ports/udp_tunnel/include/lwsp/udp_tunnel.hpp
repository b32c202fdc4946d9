// lwsp/udp_tunnel.hpp — the UDP tunnel port: a link that carries Ethernet
// frames one per UDP datagram, driven by Boost.Asio (epoll on Linux, I/O
// completion ports on Windows).  Portable: no device, no privileges.
//
// The convention is QEMU's `-netdev dgram,local=...,remote=...` and
// `-netdev socket,udp=...,localaddr=...`: each datagram's payload is one
// whole Ethernet II frame (destination MAC first, no FCS), nothing else.
// So lwsp can be the peer of a QEMU guest, of another lwsp, or of a TAP
// device through a bridge such as
//     socat TUN:,tun-type=tap,tun-name=lwsp0,iff-no-pi,iff-up
//           UDP-DATAGRAM:127.0.0.1:LOCAL_PORT,bind=127.0.0.1:REMOTE_PORT
// and run on Linux without root (test/firmware/fw_test.sh does this).
//
// Plugging in: udp_tunnel::open() binds options::local and sends to
// options::remote (numeric addresses: "127.0.0.1:5555", "[::1]:5555");
// attach the result to the stack with stack::attach.  Datagrams from any
// other source than `remote` are dropped, as are datagrams shorter than an
// Ethernet header or longer than mtu + 14 bytes (all counted in stats()).
//
// Threading: the link runs one Asio thread (started by start(), joined by
// stop()) that receives datagrams — as many as are ready per wake-up — and
// hands them to the stack in one batch.  transmit() sends at once without
// blocking (a non-blocking send); frames the socket cannot take yet are
// queued (bounded) and sent by the Asio thread in order.  Every call on
// the socket object is made under the port's transmit lock (a leaf lock),
// never while delivering to the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "lwsp/link.hpp"

namespace lwsp {

// Opening the tunnel failed; what() says why and what to do.
class udp_tunnel_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class udp_tunnel final : public link {
public:
    struct options {
        std::string local = "127.0.0.1:0";  // "host:port" or "[v6]:port" to bind (numeric addresses only)
        std::string remote;                 // where frames are sent; required
        std::size_t mtu = 1500;             // IP MTU (576..65507-14 so a frame fits a datagram)
        mac_address mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};  // the stack's MAC
        std::size_t max_queued_frames = 4096;                      // transmit queue while the socket is busy
    };

    // Binds the socket.  Throws udp_tunnel_error with a clear what(): a
    // missing or malformed address, an MTU out of range, families that
    // differ, a port in use.
    static std::unique_ptr<udp_tunnel> open(const options& o);
    ~udp_tunnel() override;
    udp_tunnel(const udp_tunnel&) = delete;
    udp_tunnel& operator=(const udp_tunnel&) = delete;

    std::size_t mtu() const override;
    mac_address mac() const override;
    link_offloads offloads() const override;  // none: plain frames only
    void start(link_sink& sink) override;
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;

    struct counters {
        std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
        std::uint64_t queued = 0;       // frames that had to wait for the socket
        std::uint64_t dropped = 0;      // frames not sent: the queue was full, the socket refused them, or too long
        std::uint64_t rx_runt = 0;      // datagrams shorter than an Ethernet header (14 bytes), dropped
        std::uint64_t rx_oversize = 0;  // datagrams longer than mtu + 14 bytes, dropped
        std::uint64_t rx_foreign = 0;   // datagrams from another source than `remote`, dropped
        std::uint64_t rx_errors = 0;    // failed receives (e.g. an ICMP port unreachable the OS reports)
    };
    counters stats() const;
    std::uint16_t local_port() const;   // the bound port (useful with ":0")
    const std::string& local() const;   // the bound endpoint as text, "127.0.0.1:40000"
    const std::string& remote() const;  // where frames go, as text

    struct impl;

private:
    explicit udp_tunnel(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace lwsp
