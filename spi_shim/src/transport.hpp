// Internal: a socket's transport — its TCP or UDP endpoint — behind one set
// of questions (readable? writable? how much is there to read?) and one
// send and one receive over WSABUF arrays, so that no WSP call asks
// "TCP or UDP?" before it can do its job.  Calls that exist for one protocol
// only (listen, accept, linger, datagram options) reach the endpoint through
// tcp() / udp().  Every member needs the socket's core lock.
#pragma once

#include <cstddef>
#include <memory>

#include "lwsp/tcp_endpoint.hpp"
#include "lwsp/udp_endpoint.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

class transport {
public:
    transport() = default;
    // A new endpoint of `type` (SOCK_STREAM or SOCK_DGRAM) reporting to `sink`.
    transport(stack& st, bool v6, int type, endpoint_sink* sink);
    // A connection a listener accepted.
    transport(std::unique_ptr<tcp_endpoint> accepted, endpoint_sink* sink);

    bool stream() const { return tcp_ != nullptr; }
    tcp_endpoint* tcp() const { return tcp_.get(); }
    udp_endpoint* udp() const { return udp_.get(); }
    // The endpoint exists (false once the socket is closed).
    bool open() const { return tcp_ != nullptr || udp_ != nullptr; }
    bool listening() const { return tcp_ != nullptr && tcp_->is_listening(); }

    // WSPSelect's readability: data, the peer's end (FIN or reset), or a
    // connection to accept — not the socket's own SD_RECEIVE, and not a
    // connect that failed (there is nothing to read).
    bool readable() const;
    // A send would not block (or would fail at once).
    bool writable() const;
    // FIONREAD: stream bytes, or every queued datagram byte.
    std::size_t bytes_readable() const;
    // Received data not yet taken (FD_CLOSE waits for it).
    bool has_unread_data() const;

    // One receive into `bufs`, from byte `offset` of them on.  Returns 0
    // (`got` bytes; 0 on a stream is the peer's FIN), WSAEMSGSIZE (a
    // truncated datagram: `got` bytes delivered), WSAEWOULDBLOCK, or another
    // error.  `from` (may be null) receives a datagram's source.
    int receive(const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset, bool peek, sock_address* from,
                DWORD& got);
    // One send from `bufs`, from byte `offset` on: as much as fits on a
    // stream (0 with `sent` > 0, or WSAEWOULDBLOCK), one whole datagram
    // (`to` null: the connected peer).  Or another error.
    int send(const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset, const sock_address* to,
             DWORD& sent);

    net_error shutdown(bool receive, bool send);
    bool receive_shut() const;
    bool send_shut() const;
    bool local_address(sock_address& out) const;
    bool peer_address(sock_address& out) const;

    // No more events from the endpoint (close).
    void detach();
    // Drops the endpoint; the caller has closed it as the close table says.
    void reset();

private:
    std::unique_ptr<tcp_endpoint> tcp_;
    std::unique_ptr<udp_endpoint> udp_;
};

}  // namespace lwsp::wsp
