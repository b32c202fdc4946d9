#include "transport.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "error_table.hpp"

namespace lwsp::wsp {

namespace {

// Where byte `offset` of a buffer array lies: buffer index and position.
struct position {
    DWORD index;
    std::size_t at;
};

position locate(const WSABUF* bufs, DWORD count, std::size_t offset) {
    DWORD i = 0;
    while (i < count && offset >= bufs[i].len) {
        offset -= bufs[i].len;
        ++i;
    }
    return {i, offset};
}

// Copies `n` bytes of `data` into the buffers from byte `offset` on.
void scatter(const std::uint8_t* data, std::size_t n, const WSABUF* bufs, DWORD count, std::size_t offset) {
    for (position p = locate(bufs, count, offset); p.index < count && n > 0; ++p.index, p.at = 0) {
        const std::size_t k = std::min<std::size_t>(n, bufs[p.index].len - p.at);
        if (k == 0) continue;  // an empty buffer may have a NULL address: no memcpy to it
        std::memcpy(bufs[p.index].buf + p.at, data, k);
        data += k;
        n -= k;
    }
}

std::vector<std::uint8_t> gather(const WSABUF* bufs, DWORD count, std::size_t total) {
    std::vector<std::uint8_t> out;
    out.reserve(total);
    for (DWORD i = 0; i < count; ++i) out.insert(out.end(), bufs[i].buf, bufs[i].buf + bufs[i].len);
    return out;
}

}  // namespace

transport::transport(stack& st, bool v6, int type, endpoint_sink* sink) {
    if (type == SOCK_STREAM) {
        tcp_ = std::make_unique<tcp_endpoint>(st, v6);
        tcp_->set_sink(sink);
    } else {
        udp_ = std::make_unique<udp_endpoint>(st, v6);
        udp_->set_sink(sink);
    }
}

transport::transport(std::unique_ptr<tcp_endpoint> accepted, endpoint_sink* sink) : tcp_(std::move(accepted)) {
    tcp_->set_sink(sink);
}

bool transport::readable() const {
    if (tcp_) {
        if (tcp_->is_listening()) return tcp_->pending_accepts() > 0;
        if (tcp_->current_state() == tcp_endpoint::state::fresh) return false;
        return tcp_->readable();
    }
    return udp_ && udp_->readable();
}

bool transport::writable() const {
    if (tcp_) return tcp_->writable();
    return true;  // datagrams go at once or fail at once
}

std::size_t transport::bytes_readable() const {
    if (tcp_) return tcp_->is_listening() ? 0 : tcp_->bytes_readable();
    return udp_ ? udp_->bytes_queued() : 0;
}

bool transport::has_unread_data() const {
    if (tcp_) return tcp_->bytes_readable() > 0;
    return udp_ && udp_->readable();
}

int transport::receive(const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset, bool peek,
                       sock_address* from, DWORD& got) {
    got = 0;
    const std::size_t want = total - offset;
    // Straight into the caller's buffer when the space left is one piece;
    // several pieces go through a copy.
    const position start = locate(bufs, count, offset);
    const bool direct = start.index < count && bufs[start.index].len - start.at >= want;
    std::vector<std::uint8_t> staging;
    if (!direct) staging.resize(want);
    std::uint8_t* dst = direct ? reinterpret_cast<std::uint8_t*>(bufs[start.index].buf) + start.at : staging.data();
    net_error err;
    std::size_t n;
    if (tcp_) {
        const tcp_endpoint::io_result r = tcp_->recv(dst, want, peek);
        err = r.error;
        n = r.bytes;
    } else {
        if (!udp_ || !udp_->bound()) return WSAEINVAL;
        const udp_endpoint::io_result r = udp_->recv_from(dst, want, peek, from);
        err = r.error;
        n = r.bytes;
    }
    if (err != net_error::ok && err != net_error::message_size) return to_wsa(err);
    if (!direct) scatter(staging.data(), n, bufs, count, offset);
    got = static_cast<DWORD>(n);
    return err == net_error::ok ? 0 : WSAEMSGSIZE;
}

int transport::send(const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset, const sock_address* to,
                    DWORD& sent) {
    sent = 0;
    if (udp_) {
        const std::vector<std::uint8_t> datagram = gather(bufs, count, total);
        const udp_endpoint::io_result r = udp_->send_to(datagram.data(), datagram.size(), to);
        if (r.error != net_error::ok) return to_wsa(r.error);
        sent = static_cast<DWORD>(r.bytes);
        return 0;
    }
    if (!tcp_) return WSAENOTSOCK;
    std::size_t done = 0;
    net_error last = net_error::ok;
    for (position p = locate(bufs, count, offset); p.index < count; ++p.index, p.at = 0) {
        const std::size_t len = bufs[p.index].len - p.at;
        if (len == 0) continue;
        const tcp_endpoint::io_result r = tcp_->send(bufs[p.index].buf + p.at, len);
        done += r.bytes;
        last = r.error;
        if (r.error != net_error::ok || r.bytes < len) break;
    }
    if (done > 0) {  // an error after some bytes comes with the next call
        sent = static_cast<DWORD>(done);
        return 0;
    }
    return to_wsa(last == net_error::ok ? net_error::would_block : last);
}

net_error transport::shutdown(bool receive, bool send) {
    if (tcp_) return tcp_->shutdown(receive, send);
    return udp_ ? udp_->shutdown(receive, send) : net_error::ok;
}

bool transport::receive_shut() const { return tcp_ ? tcp_->receive_shut() : udp_ && udp_->receive_shut(); }

bool transport::send_shut() const { return tcp_ ? tcp_->send_shut() : udp_ && udp_->send_shut(); }

bool transport::local_address(sock_address& out) const {
    if (tcp_) return tcp_->local_address(out);
    return udp_ && udp_->local_address(out);
}

bool transport::peer_address(sock_address& out) const {
    if (tcp_) return tcp_->peer_address(out);
    return udp_ && udp_->peer_address(out);
}

void transport::detach() {
    if (tcp_) tcp_->set_sink(nullptr);
    if (udp_) udp_->set_sink(nullptr);
}

void transport::reset() {
    tcp_.reset();
    udp_.reset();
}

}  // namespace lwsp::wsp
