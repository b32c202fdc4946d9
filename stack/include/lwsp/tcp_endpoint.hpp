// lwsp/tcp_endpoint.hpp — a TCP socket object over lwIP's raw API.
//
// Non-blocking throughout (see lwsp/endpoint.hpp for the rules every
// endpoint follows; all calls need the core lock).  The endpoint owns its
// state, not lwIP's: when the pcb disappears under it (peer RST, abort,
// retransmission timeout) it records why, drops the pointer, and later calls
// report that reason.
//
// Received data is acknowledged to lwIP (the window reopened) only when it is
// consumed by recv(); closing with unread data therefore resets the
// connection, as RFC 1122 4.2.2.13 and Windows require.
//
// Close has three forms, matching the WSP close table: close() hands the pcb
// to lwIP for a graceful FIN after queued data; abort() resets at once;
// start_linger() queues the FIN but keeps the pcb so the caller can wait for
// send_settled() and then close() or, at its deadline, abort().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "lwsp/endpoint.hpp"
#include "lwsp/fifo.hpp"

struct tcp_pcb;
struct pbuf;

namespace lwsp {

class stack;

class tcp_endpoint {
public:
    enum class state { fresh, bound, listening, connecting, connected, closed };

    struct options {
        bool nodelay = false;
        bool keepalive = false;
        bool reuse_address = false;
        std::uint8_t ttl = 0;  // 0: lwIP's default
    };

    tcp_endpoint(stack& st, bool v6);
    // Bytes a connection may queue for sending, and its receive window
    // (lwIP's TCP_SND_BUF and TCP_WND: the same for every connection).
    static std::size_t send_buffer_size();
    static std::size_t receive_window_size();
    // Destroying an endpoint that still has a pcb closes it gracefully.
    ~tcp_endpoint();
    tcp_endpoint(const tcp_endpoint&) = delete;
    tcp_endpoint& operator=(const tcp_endpoint&) = delete;

    void set_sink(endpoint_sink* sink) { sink_ = sink; }

    net_error bind(const sock_address& local);
    net_error listen(int backlog);
    // Starts the handshake: in_progress on success, then a connect event.
    net_error connect(const sock_address& remote);

    // The oldest fully established connection, or nullptr.  Connections that
    // died while queued are dropped silently.
    std::unique_ptr<tcp_endpoint> accept();
    std::size_t pending_accepts();
    // Resets the oldest queued connection (CF_REJECT).
    void reject_pending();
    // Peer address of the oldest queued connection (for the condition
    // callback); false if none.
    bool pending_peer(sock_address& out);

    struct io_result {
        std::size_t bytes = 0;
        net_error error = net_error::ok;
    };
    // Queues as many bytes as fit in the send buffer.  would_block if none.
    io_result send(const void* data, std::size_t len);
    // Copies up to len bytes; 0 bytes with ok means the peer closed.
    io_result recv(void* buf, std::size_t len, bool peek);
    std::size_t bytes_readable() const { return rx_bytes_; }

    net_error shutdown(bool receive, bool send);

    void close();
    void abort();
    void start_linger();
    // True when everything queued, FIN included, is acknowledged — or the
    // connection is gone.
    bool send_settled() const;
    bool has_unsettled_send() const { return !send_settled(); }

    state current_state() const { return state_; }
    bool is_listening() const { return state_ == state::listening; }
    bool readable() const;
    bool writable() const;
    bool eof() const { return rx_fin_; }
    bool receive_shut() const { return shut_rd_; }
    bool send_shut() const { return shut_wr_; }
    // Why the connection ended, or ok.
    net_error fate() const { return fate_; }
    // SO_ERROR: the pending error; take_error() clears it.
    net_error pending_error() const { return pending_error_; }
    net_error take_error();

    bool v6() const { return v6_; }
    bool local_address(sock_address& out) const;
    bool peer_address(sock_address& out) const;

    const options& opts() const { return opts_; }
    void set_options(const options& o);
    std::size_t send_buffer_free() const;

    // Internal: SYN and handshake admission at a listener, called from
    // lwIP's input hook (defined in tcp_endpoint.cpp).
    struct admission;

private:
    tcp_endpoint(stack& st, bool v6, struct tcp_pcb* accepted, const options& inherited);
    bool ensure_pcb();
    void forget_if_stopped();
    void apply_options();
    void detach_pcb();
    void remember_local_address();
    void release_rx();
    void notify(endpoint_event ev, net_error err = net_error::ok);
    void lost_pcb(net_error why);

    static signed char on_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, signed char err);
    static signed char on_sent(void* arg, struct tcp_pcb* pcb, std::uint16_t len);
    static void on_err(void* arg, signed char err);
    static signed char on_connected(void* arg, struct tcp_pcb* pcb, signed char err);
    static signed char on_accept(void* arg, struct tcp_pcb* newpcb, signed char err);

    stack& stack_;
    bool v6_;
    struct tcp_pcb* pcb_ = nullptr;  // a tcp_pcb_listen while listening
    state state_ = state::fresh;
    options opts_;
    endpoint_sink* sink_ = nullptr;

    detail::fifo<struct pbuf*> rx_;  // received, not yet consumed
    std::size_t rx_offset_ = 0;      // consumed bytes of rx_.front()
    std::size_t rx_bytes_ = 0;
    bool rx_fin_ = false;
    bool shut_rd_ = false;
    bool shut_wr_ = false;
    bool sent_data_ = false;  // the first send expects an answer (stack::expect_answer)
    net_error fate_ = net_error::ok;
    net_error pending_error_ = net_error::ok;
    sock_address bound_{};  // the local address once known (bind, connect, accept)
    bool has_bound_ = false;

    detail::fifo<std::unique_ptr<tcp_endpoint>> accept_q_;
    int backlog_ = 0;
};

}  // namespace lwsp
