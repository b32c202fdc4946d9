#include "lwsp/udp_endpoint.hpp"

#include <algorithm>

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"
#include "lwip_address.hpp"
#include "lwsp/stack.hpp"
#include "net_error_map.hpp"

namespace lwsp {

struct udp_endpoint::glue {
    static void on_recv(void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t* addr, u16_t port) {
        static_cast<udp_endpoint*>(arg)->on_datagram(p, from_lwip(*addr, port));
    }
};

udp_endpoint::udp_endpoint(stack& st, bool v6) : stack_(st), v6_(v6) {}

udp_endpoint::~udp_endpoint() { close(); }

void udp_endpoint::forget_if_stopped() {
    if (stack_.pcbs_released() && pcb_ != nullptr) {
        pcb_ = nullptr;  // freed by stop()
        dead_ = true;
    }
}

bool udp_endpoint::ensure_pcb() {
    forget_if_stopped();
    if (pcb_ != nullptr) return true;
    if (dead_ || stack_.stopped()) return false;
    pcb_ = udp_new_ip_type(v6_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    if (pcb_ == nullptr) return false;
    udp_recv(pcb_, &glue::on_recv, this);
    set_options(opts_);
    return true;
}

void udp_endpoint::set_options(const options& o) {
    forget_if_stopped();
    opts_ = o;
    if (pcb_ == nullptr) return;
    if (o.reuse_address)
        ip_set_option(pcb_, SOF_REUSEADDR);
    else
        ip_reset_option(pcb_, SOF_REUSEADDR);
    if (o.broadcast)
        ip_set_option(pcb_, SOF_BROADCAST);
    else
        ip_reset_option(pcb_, SOF_BROADCAST);
    if (o.ttl != 0) pcb_->ttl = o.ttl;
}

namespace {

// The memory a received datagram holds: each pbuf of its chain with the
// headers lwIP has hidden in front of the payload (the whole frame was
// allocated), plus the queue entry.
std::size_t truesize(const struct pbuf* p, std::size_t entry) {
    std::size_t n = entry;
    for (const struct pbuf* q = p; q != nullptr; q = q->next) {
        const auto* start = reinterpret_cast<const std::uint8_t*>(q);
        const auto* data = static_cast<const std::uint8_t*>(q->payload);
        const bool inline_data = (q->type_internal & PBUF_TYPE_FLAG_STRUCT_DATA_CONTIGUOUS) != 0 && data > start &&
                                 static_cast<std::size_t>(data - start) < 0x10000;
        n += (inline_data ? static_cast<std::size_t>(data - start) : sizeof(struct pbuf)) + q->len;
    }
    return n;
}

}  // namespace

void udp_endpoint::on_datagram(struct pbuf* p, const sock_address& from) {
    const std::size_t limit = std::min(opts_.receive_buffer, max_receive_buffer);
    if (shut_rd_ || charged_bytes_ >= limit) {
        pbuf_free(p);  // no room: dropped, like a full socket buffer
        return;
    }
    const std::size_t charge = truesize(p, sizeof(datagram));
    queued_bytes_ += p->tot_len;
    charged_bytes_ += charge;
    queue_.push_back(datagram{p, from, charge});
    if (sink_) sink_->on_endpoint_event(endpoint_event::readable, net_error::ok);
}

net_error udp_endpoint::bind(const sock_address& local) {
    if (bound_) return net_error::invalid_argument;
    if (local.v6 != v6_) return net_error::invalid_argument;
    if (!ensure_pcb()) return stack_.stopped() ? net_error::network_down : net_error::no_buffers;
    ip_addr_t a;
    to_lwip(local, a);
    if (!local.is_any_ip()) {
        bool found = false;
        struct netif* n;
        NETIF_FOREACH(n) {
            found =
                v6_ ? netif_get_ip6_addr_match(n, ip_2_ip6(&a)) >= 0 : ip4_addr_cmp(netif_ip4_addr(n), ip_2_ip4(&a));
            if (found) break;
        }
        if (!found) return net_error::address_not_available;
    }
    const err_t e = udp_bind(pcb_, &a, local.port);
    if (e != ERR_OK) return from_err(e);
    bound_ = true;
    return net_error::ok;
}

net_error udp_endpoint::connect(const sock_address& remote) {
    if (!ensure_pcb()) return stack_.stopped() ? net_error::network_down : net_error::no_buffers;
    if (remote.is_any_ip() || remote.port == 0) {
        udp_disconnect(pcb_);
        connected_ = false;
        return net_error::ok;
    }
    if (remote.v6 != v6_) return net_error::invalid_argument;
    ip_addr_t a;
    to_lwip(remote, a);
    if (!v6_ && !opts_.broadcast) {
        // A broadcast peer needs SO_BROADCAST, as in send_to (WSAEACCES).
        bool bcast = ip_2_ip4(&a)->addr == IPADDR_BROADCAST;
        struct netif* n;
        NETIF_FOREACH(n) bcast = bcast || ip4_addr_isbroadcast(ip_2_ip4(&a), n);
        if (bcast) return net_error::access_denied;
    }
    const err_t e = udp_connect(pcb_, &a, remote.port);  // binds an ephemeral port if needed
    if (e != ERR_OK) return from_err(e);
    bound_ = true;
    connected_ = true;
    return net_error::ok;
}

std::size_t udp_endpoint::max_datagram() const {
    // IPv4: 65535 - 20 (IP) - 8 (UDP); IPv6: 65535 payload - 8.
    return v6_ ? 65527 : 65507;
}

udp_endpoint::io_result udp_endpoint::send_to(const void* data, std::size_t len, const sock_address* to) {
    if (shut_wr_) return {0, 0, net_error::shut_down};
    if (to == nullptr && !connected_) return {0, 0, net_error::not_connected};
    if (to != nullptr && to->v6 != v6_) return {0, 0, net_error::invalid_argument};
    if (to != nullptr && (to->port == 0 || (to->is_any_ip()))) return {0, 0, net_error::address_not_available};
    if (len > max_datagram()) return {0, 0, net_error::message_size};
    if (!ensure_pcb()) return {0, 0, stack_.stopped() ? net_error::network_down : net_error::no_buffers};
    ip_addr_t dst;
    if (to != nullptr) {
        to_lwip(*to, dst);
        if (!v6_ && !opts_.broadcast) {
            // Broadcast needs SO_BROADCAST: the limited broadcast address or
            // any interface's directed broadcast.
            // (No default interface when no port is attached: loopback only.)
            bool bcast = (netif_default != nullptr && ip4_addr_isbroadcast_u32(ip_2_ip4(&dst)->addr, netif_default)) ||
                         ip_2_ip4(&dst)->addr == IPADDR_BROADCAST;
            struct netif* n;
            NETIF_FOREACH(n) bcast = bcast || ip4_addr_isbroadcast(ip_2_ip4(&dst), n);
            if (bcast) return {0, 0, net_error::access_denied};
        }
    }
    struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(len), PBUF_RAM);
    if (p == nullptr) return {0, 0, net_error::no_buffers};
    if (len > 0) pbuf_take(p, data, static_cast<u16_t>(len));
    const err_t e = to != nullptr ? udp_sendto(pcb_, p, &dst, to->port) : udp_send(pcb_, p);
    pbuf_free(p);
    bound_ = true;  // sending binds an ephemeral port
    if (e != ERR_OK) return {0, 0, from_err(e)};
    return {len, len, net_error::ok};
}

udp_endpoint::io_result udp_endpoint::recv_from(void* buf, std::size_t len, bool peek, sock_address* from) {
    if (shut_rd_) return {0, 0, net_error::shut_down};
    if (queue_.empty()) {
        forget_if_stopped();
        return {0, 0, dead_ ? net_error::network_down : net_error::would_block};
    }
    datagram& d = queue_.front();
    const std::size_t size = d.p->tot_len;
    const std::size_t n = std::min(len, size);
    if (n > 0) pbuf_copy_partial(d.p, buf, static_cast<u16_t>(n), 0);
    if (from != nullptr) *from = d.from;
    if (!peek) {
        queued_bytes_ -= size;
        charged_bytes_ -= d.charge;
        pbuf_free(d.p);
        queue_.pop_front();
    }
    return {n, size, n < size ? net_error::message_size : net_error::ok};
}

std::size_t udp_endpoint::next_datagram_size() const { return queue_.empty() ? 0 : queue_.front().p->tot_len; }

net_error udp_endpoint::shutdown(bool receive, bool send) {
    if (receive) shut_rd_ = true;
    if (send) shut_wr_ = true;
    return net_error::ok;
}

void udp_endpoint::close() {
    forget_if_stopped();
    for (datagram& d : queue_) pbuf_free(d.p);
    queue_.clear();
    queued_bytes_ = 0;
    charged_bytes_ = 0;
    if (pcb_ != nullptr) {
        udp_recv(pcb_, nullptr, nullptr);
        udp_remove(pcb_);
        pcb_ = nullptr;
    }
    dead_ = true;
}

bool udp_endpoint::local_address(sock_address& out) const {
    if (pcb_ == nullptr || !bound_ || stack_.stopped()) return false;
    out = from_lwip(pcb_->local_ip, pcb_->local_port);
    out.v6 = v6_;
    return true;
}

bool udp_endpoint::peer_address(sock_address& out) const {
    if (pcb_ == nullptr || !connected_ || stack_.stopped()) return false;
    out = from_lwip(pcb_->remote_ip, pcb_->remote_port);
    return true;
}

}  // namespace lwsp
