// lwsp/udp_endpoint.hpp — a UDP socket object over lwIP's raw API.
//
// Non-blocking; all calls need the core lock (see lwsp/endpoint.hpp).
// Datagrams are queued whole, in arrival order, up to a receive buffer
// limit (further datagrams are dropped, as a full socket buffer drops them).
// Each datagram is charged what it really occupies — its buffers with their
// headers and bookkeeping, not only its payload — as BSD and Linux charge a
// socket buffer, so empty or tiny datagrams cannot queue without bound.  A
// datagram is admitted while the charge is below the limit, so one of any
// size always fits into an empty queue.
// A datagram larger than the caller's buffer is truncated and the rest
// discarded (message_size), unless peeking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "lwsp/endpoint.hpp"

struct udp_pcb;
struct pbuf;

namespace lwsp {

class stack;

class udp_endpoint {
public:
    struct options {
        bool broadcast = false;  // SO_BROADCAST: may send to broadcast addresses
        bool reuse_address = false;
        std::uint8_t ttl = 0;                                 // 0: lwIP's default
        std::size_t receive_buffer = default_receive_buffer;  // SO_RCVBUF; at most max_receive_buffer
    };

    static constexpr std::size_t default_receive_buffer = std::size_t{64} * 1024;
    static constexpr std::size_t max_receive_buffer = std::size_t{8} * 1024 * 1024;

    udp_endpoint(stack& st, bool v6);
    ~udp_endpoint();
    udp_endpoint(const udp_endpoint&) = delete;
    udp_endpoint& operator=(const udp_endpoint&) = delete;

    void set_sink(endpoint_sink* sink) { sink_ = sink; }

    net_error bind(const sock_address& local);
    // Sets the default peer and filters inbound datagrams to it; an
    // all-zero address (or port 0) dissolves the association.
    net_error connect(const sock_address& remote);
    bool connected() const { return connected_; }

    struct io_result {
        std::size_t bytes = 0;          // bytes copied / sent
        std::size_t datagram_size = 0;  // full size of the received datagram
        net_error error = net_error::ok;
    };
    // `to` null: the connected peer.
    io_result send_to(const void* data, std::size_t len, const sock_address* to);
    io_result recv_from(void* buf, std::size_t len, bool peek, sock_address* from);

    net_error shutdown(bool receive, bool send);
    bool receive_shut() const { return shut_rd_; }
    bool send_shut() const { return shut_wr_; }
    void close();

    bool readable() const { return !queue_.empty(); }
    bool writable() const { return true; }
    std::size_t bytes_queued() const { return queued_bytes_; }
    // What the queued datagrams occupy (what the receive buffer limits).
    std::size_t bytes_charged() const { return charged_bytes_; }
    std::size_t next_datagram_size() const;

    bool v6() const { return v6_; }
    bool bound() const { return bound_; }
    bool local_address(sock_address& out) const;
    bool peer_address(sock_address& out) const;

    const options& opts() const { return opts_; }
    void set_options(const options& o);

    std::size_t max_datagram() const;

private:
    struct datagram {
        struct pbuf* p;
        sock_address from;
        std::size_t charge;  // memory it occupies (see bytes_charged)
    };
    bool ensure_pcb();
    void forget_if_stopped();
    struct glue;  // lwIP's receive callback, defined in udp_endpoint.cpp
    friend struct glue;
    void on_datagram(struct pbuf* p, const sock_address& from);

    stack& stack_;
    bool v6_;
    struct udp_pcb* pcb_ = nullptr;
    options opts_;
    endpoint_sink* sink_ = nullptr;
    std::deque<datagram> queue_;
    std::size_t queued_bytes_ = 0;   // payload
    std::size_t charged_bytes_ = 0;  // memory
    bool bound_ = false;
    bool connected_ = false;
    bool shut_rd_ = false;
    bool shut_wr_ = false;
    bool dead_ = false;
};

}  // namespace lwsp
