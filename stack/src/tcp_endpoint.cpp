// TCP endpoint over lwIP's raw API.  Rules it follows (docs/lwip-notes.md §3, §7):
// callbacks are cleared before tcp_close/tcp_abort, since the pcb then
// belongs to lwIP and tcp_abort calls the err callback inside the call;
// tcp_recved only for consumed bytes; tcp_write and tcp_recved take 16-bit
// lengths, so everything is chunked.
#include "lwsp/tcp_endpoint.hpp"

#include <algorithm>
#include <cstring>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip_address.hpp"
#include "lwsp_hooks.h"
#include "lwsp/stack.hpp"
#include "net_error_map.hpp"

namespace lwsp {

namespace {
constexpr std::size_t max_chunk = 0xffff;
}

tcp_endpoint::tcp_endpoint(stack& st, bool v6) : stack_(st), v6_(v6) {}

tcp_endpoint::tcp_endpoint(stack& st, bool v6, struct tcp_pcb* accepted, const options& inherited)
    : stack_(st), v6_(v6), pcb_(accepted), state_(state::connected), opts_(inherited) {
    tcp_arg(pcb_, this);
    tcp_recv(pcb_, &tcp_endpoint::on_recv);
    tcp_sent(pcb_, &tcp_endpoint::on_sent);
    tcp_err(pcb_, &tcp_endpoint::on_err);
    apply_options();
    remember_local_address();
}

tcp_endpoint::~tcp_endpoint() {
    forget_if_stopped();
    if (pcb_ != nullptr || !accept_q_.empty() || !rx_.empty()) close();
}

void tcp_endpoint::forget_if_stopped() {
    // stop() frees every pcb, some without callbacks; once it has, never
    // touch ours again.  (While it is still at work the pcb is valid, and
    // letting go of it goes the normal way: callbacks cleared first.)
    if (!stack_.pcbs_released()) return;
    if (pcb_ != nullptr || state_ == state::connecting || state_ == state::listening) {
        pcb_ = nullptr;
        state_ = state::closed;
        fate_ = net_error::network_down;
    }
    for (auto& child : accept_q_) child->forget_if_stopped();
}

std::size_t tcp_endpoint::send_buffer_size() { return TCP_SND_BUF; }
std::size_t tcp_endpoint::receive_window_size() { return TCP_WND; }

void tcp_endpoint::notify(endpoint_event ev, net_error err) {
    if (sink_ != nullptr) sink_->on_endpoint_event(ev, err);
}

bool tcp_endpoint::ensure_pcb() {
    if (pcb_ != nullptr) return true;
    if (stack_.stopped()) return false;
    pcb_ = tcp_new_ip_type(v6_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    if (pcb_ == nullptr) return false;
    tcp_arg(pcb_, this);
    tcp_recv(pcb_, &tcp_endpoint::on_recv);
    tcp_sent(pcb_, &tcp_endpoint::on_sent);
    tcp_err(pcb_, &tcp_endpoint::on_err);
    apply_options();
    return true;
}

void tcp_endpoint::apply_options() {
    if (pcb_ == nullptr || state_ == state::listening) return;
    if (opts_.nodelay)
        tcp_nagle_disable(pcb_);
    else
        tcp_nagle_enable(pcb_);
    if (opts_.keepalive)
        ip_set_option(pcb_, SOF_KEEPALIVE);
    else
        ip_reset_option(pcb_, SOF_KEEPALIVE);
    if (opts_.reuse_address)
        ip_set_option(pcb_, SOF_REUSEADDR);
    else
        ip_reset_option(pcb_, SOF_REUSEADDR);
    if (opts_.ttl != 0) pcb_->ttl = opts_.ttl;
}

void tcp_endpoint::set_options(const options& o) {
    forget_if_stopped();
    opts_ = o;
    apply_options();
}

void tcp_endpoint::detach_pcb() {
    if (pcb_ == nullptr) return;
    tcp_arg(pcb_, nullptr);
    if (state_ == state::listening) {
        tcp_accept(pcb_, nullptr);
    } else {
        tcp_recv(pcb_, nullptr);
        tcp_sent(pcb_, nullptr);
        tcp_err(pcb_, nullptr);
        tcp_poll(pcb_, nullptr, 0);
    }
}

void tcp_endpoint::release_rx() {
    // Freed without tcp_recved: the window stays closed by that amount, so a
    // following tcp_close resets the connection (unread data => RST).
    for (struct pbuf* p : rx_) pbuf_free(p);
    rx_.clear();
    rx_offset_ = 0;
    rx_bytes_ = 0;
}

void tcp_endpoint::remember_local_address() {
    // lwIP may free the pcb with nothing but a callback (or, in TIME_WAIT,
    // nothing at all): the name of the socket must not depend on it.
    bound_ = from_lwip(pcb_->local_ip, pcb_->local_port);
    bound_.v6 = v6_;
    has_bound_ = true;
}

void tcp_endpoint::lost_pcb(net_error why) {
    pcb_ = nullptr;
    const bool was_connecting = state_ == state::connecting;
    if (was_connecting) {
        // A failed connect leaves the socket reusable for another attempt.
        state_ = state::fresh;
        has_bound_ = false;
        pending_error_ = why;
        notify(endpoint_event::connect, why);
        notify(endpoint_event::writable, why);
        return;
    }
    state_ = state::closed;
    fate_ = why;
    if (why != net_error::ok) pending_error_ = why;
    notify(endpoint_event::close, why);
    notify(endpoint_event::readable, why);
    notify(endpoint_event::writable, why);
}

// ---- lwIP callbacks ---------------------------------------------------------

err_t tcp_endpoint::on_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
    auto* self = static_cast<tcp_endpoint*>(arg);
    if (self == nullptr) {  // not ours any more: behave like lwIP's default
        if (p != nullptr) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == nullptr) {
        self->rx_fin_ = true;
        if (pcb->state == TIME_WAIT || pcb->state == CLOSING) {
            // Our FIN went first (tx shutdown): lwIP finishes the close by
            // itself and frees the pcb after 2 MSL without any callback, so
            // let go of it now, keeping only its local address.
            self->remember_local_address();
            self->detach_pcb();
            self->pcb_ = nullptr;
            self->state_ = state::closed;
        }
        self->notify(endpoint_event::readable);
        self->notify(endpoint_event::close, net_error::ok);
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return ERR_OK;
    }
    if (self->shut_rd_ && p->tot_len > 0) {
        // Data after a receive shutdown resets the connection (Winsock's
        // SD_RECEIVE).  lwIP's own TF_RXCLOSED would do the same, but it
        // also makes lwIP free the pcb silently when LAST_ACK completes,
        // so the endpoint keeps the flag itself.  tcp_abort reports
        // ERR_ABRT through on_err before it returns.
        pbuf_free(p);
        if (pcb->state == TIME_WAIT) {
            // The peer's FIN came with this data and was processed first:
            // for a TIME_WAIT pcb tcp_abort sends no RST and frees it with
            // no callback.  Send the RST, let go of the pcb, then free it.
            tcp_rst(pcb, pcb->snd_nxt, pcb->rcv_nxt, &pcb->local_ip, &pcb->remote_ip, pcb->local_port,
                    pcb->remote_port);
            self->remember_local_address();
            self->detach_pcb();
            tcp_abort(pcb);
            self->lost_pcb(from_err(ERR_ABRT));
            return ERR_ABRT;
        }
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    self->rx_bytes_ += p->tot_len;
    self->rx_.push_back(p);
    self->notify(endpoint_event::readable);
    return ERR_OK;
}

err_t tcp_endpoint::on_sent(void* arg, struct tcp_pcb*, u16_t) {
    auto* self = static_cast<tcp_endpoint*>(arg);
    if (self != nullptr) self->notify(endpoint_event::writable);
    return ERR_OK;
}

void tcp_endpoint::on_err(void* arg, err_t err) {
    auto* self = static_cast<tcp_endpoint*>(arg);
    if (self == nullptr) return;
    net_error why;
    if (err == ERR_CLSD) {
        why = net_error::ok;  // LAST_ACK finished after our FIN: a clean end
    } else if (self->stack_.stopped()) {
        // stop() abandons every pcb.  A thread blocked on this socket may
        // wake before that or after it: either way it learns that the
        // network went down, not that the connection was aborted.
        why = net_error::network_down;
    } else if (self->state_ == state::connecting) {
        why = err == ERR_RST ? net_error::connection_refused : err == ERR_ABRT ? net_error::timed_out : from_err(err);
    } else {
        why = from_err(err);
    }
    self->lost_pcb(why);
}

err_t tcp_endpoint::on_connected(void* arg, struct tcp_pcb*, err_t err) {
    auto* self = static_cast<tcp_endpoint*>(arg);
    if (self == nullptr) return ERR_OK;
    if (err == ERR_OK) self->state_ = state::connected;
    self->notify(endpoint_event::connect, from_err(err));
    self->notify(endpoint_event::writable);
    return ERR_OK;
}

err_t tcp_endpoint::on_accept(void* arg, struct tcp_pcb* newpcb, err_t err) {
    auto* self = static_cast<tcp_endpoint*>(arg);
    if (self == nullptr || err != ERR_OK || newpcb == nullptr) return ERR_VAL;
    // The child inherits the listener's callback arg: re-point it at once.
    // It no longer counts as half-open (lwIP's backlog counter); the accept
    // queue has its own limit (admission below).
    std::unique_ptr<tcp_endpoint> child(new tcp_endpoint(self->stack_, self->v6_, newpcb, self->opts_));
    self->accept_q_.push_back(std::move(child));
    self->notify(endpoint_event::accept);
    self->notify(endpoint_event::readable);
    return ERR_OK;
}

// ---- admission at a listener (lwsp_hooks.h) ------------------------------------
//
// lwIP counts SYN-received connections against the listen pcb's backlog
// (set to LWSP_TCP_HALF_OPEN_MAX) and, when it is reached, drops every new
// SYN for as long as the half-open ones live (20 s): eight spoofed SYNs
// locked a backlog-8 listener out.  Here the two limits are separate, as in
// BSD and Linux: established connections waiting for accept() are limited
// by the application's backlog; half-open ones by LWSP_TCP_HALF_OPEN_MAX,
// and a new SYN beyond that evicts the least recently active half-open
// connection (without a RST: its peer, if real, retransmits).

struct tcp_endpoint::admission {
    static std::size_t queued(const tcp_endpoint& listener) {
        std::size_t n = 0;
        for (const auto& child : listener.accept_q_) n += child->pcb_ != nullptr ? 1 : 0;
        return n;
    }
    // The listener's endpoint, or null for a listener that is not ours (a
    // raw-API user's) or is closing: lwIP's own rules apply to those.
    static const tcp_endpoint* owner(const struct tcp_pcb_listen* lpcb) {
        if (lpcb->accept != &tcp_endpoint::on_accept) return nullptr;
        return static_cast<const tcp_endpoint*>(lpcb->callback_arg);
    }
    static bool queue_full(const struct tcp_pcb_listen* lpcb) {
        const tcp_endpoint* self = owner(lpcb);
        return self != nullptr && queued(*self) >= static_cast<std::size_t>(self->backlog_);
    }
    static void evict_half_open(const struct tcp_pcb_listen* lpcb) {
        struct tcp_pcb* victim = nullptr;
        for (struct tcp_pcb* p = tcp_active_pcbs; p != nullptr; p = p->next) {
            if (p->state != SYN_RCVD || p->listener != lpcb) continue;
            if (victim == nullptr ||
                static_cast<u32_t>(tcp_ticks - p->tmr) > static_cast<u32_t>(tcp_ticks - victim->tmr))
                victim = p;
        }
        if (victim != nullptr) tcp_abandon(victim, 0);  // no callbacks set yet: lwIP's alone
    }
};

extern "C" err_t lwsp_tcp_listener_input(struct tcp_pcb_listen* listener, unsigned char flags) {
    if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) return ERR_OK;  // lwIP answers the rest
    if (tcp_endpoint::admission::owner(listener) == nullptr) return ERR_OK;
    if (tcp_endpoint::admission::queue_full(listener)) return ERR_INPROGRESS;  // waits for the peer's retry
    if (listener->accepts_pending >= listener->backlog) tcp_endpoint::admission::evict_half_open(listener);
    return ERR_OK;
}

extern "C" err_t lwsp_tcp_handshake_input(struct tcp_pcb* pcb, unsigned char flags) {
    // The ACK that would complete the handshake waits (dropped; the peer
    // retransmits) while the accept queue is full.
    if ((flags & (TCP_ACK | TCP_RST)) != TCP_ACK || pcb->listener == nullptr) return ERR_OK;
    return tcp_endpoint::admission::queue_full(pcb->listener) ? ERR_INPROGRESS : ERR_OK;
}

// ---- operations -------------------------------------------------------------

net_error tcp_endpoint::bind(const sock_address& local) {
    forget_if_stopped();
    if (state_ != state::fresh || has_bound_) return net_error::invalid_argument;
    if (local.v6 != v6_) return net_error::invalid_argument;
    if (!ensure_pcb()) return stack_.stopped() ? net_error::network_down : net_error::no_buffers;
    if (!local.is_any_ip()) {
        // Only addresses of this stack can be bound.
        ip_addr_t a;
        to_lwip(local, a);
        bool found = false;
        struct netif* n;
        NETIF_FOREACH(n) {
            if (v6_) {
                found = netif_get_ip6_addr_match(n, ip_2_ip6(&a)) >= 0;
            } else {
                found = ip4_addr_cmp(netif_ip4_addr(n), ip_2_ip4(&a));
            }
            if (found) break;
        }
        if (!found) return net_error::address_not_available;
    }
    ip_addr_t a;
    to_lwip(local, a);
    const err_t e = tcp_bind(pcb_, &a, local.port);
    if (e != ERR_OK) return from_err(e);
    remember_local_address();
    state_ = state::bound;
    return net_error::ok;
}

net_error tcp_endpoint::listen(int backlog) {
    forget_if_stopped();
    const int clamped = std::clamp(backlog, 1, TCP_DEFAULT_LISTEN_BACKLOG);
    if (state_ == state::listening) {
        backlog_ = clamped;
        return net_error::ok;
    }
    if (state_ == state::connected || state_ == state::connecting) return net_error::is_connected;
    if (state_ != state::bound) return net_error::invalid_argument;
    err_t e = ERR_OK;
    // lwIP's backlog counts half-open connections only (see admission).
    static_assert(LWSP_TCP_HALF_OPEN_MAX >= 1 && LWSP_TCP_HALF_OPEN_MAX <= 0xff, "lwIP's backlog is 8 bits");
    struct tcp_pcb* lpcb = tcp_listen_with_backlog_and_err(pcb_, LWSP_TCP_HALF_OPEN_MAX, &e);
    if (lpcb == nullptr) return from_err(e);
    pcb_ = lpcb;  // the original pcb was freed by lwIP
    state_ = state::listening;
    backlog_ = clamped;
    tcp_arg(pcb_, this);
    tcp_accept(pcb_, &tcp_endpoint::on_accept);
    return net_error::ok;
}

net_error tcp_endpoint::connect(const sock_address& remote) {
    forget_if_stopped();
    switch (state_) {
        case state::connecting: return net_error::already;
        case state::connected: return net_error::is_connected;
        case state::listening: return net_error::invalid_argument;
        case state::closed: return fate_ == net_error::ok ? net_error::is_connected : net_error::invalid_argument;
        default: break;
    }
    if (remote.v6 != v6_) return net_error::invalid_argument;
    if (remote.is_any_ip()) return net_error::address_not_available;
    if (remote.port == 0) return net_error::address_not_available;
    if (!ensure_pcb()) return stack_.stopped() ? net_error::network_down : net_error::no_buffers;
    ip_addr_t a;
    to_lwip(remote, a);
#if LWIP_IPV4
    if (!v6_) {
        // lwIP hands anything off-link to the default interface, and only its
        // ARP output finds there is no gateway (ERR_RTE), a result tcp_connect
        // ignores: the SYN would vanish and the connect time out.  Fail at
        // once, as a UDP send to the same address does.
        const ip4_addr_t* dst = ip_2_ip4(&a);
        const struct netif* n = ip4_route(dst);
        if (n == nullptr) return net_error::network_unreachable;
        if ((n->flags & NETIF_FLAG_ETHARP) != 0 && !ip4_addr_ismulticast(dst) &&
            !ip4_addr_netcmp(dst, netif_ip4_addr(n), netif_ip4_netmask(n)) && !ip4_addr_islinklocal(dst) &&
            ip4_addr_isany_val(*netif_ip4_gw(n)))
            return net_error::network_unreachable;
    }
#endif
    pending_error_ = net_error::ok;
    stack_.expect_answer();  // the SYN's
    const err_t e = tcp_connect(pcb_, &a, remote.port, &tcp_endpoint::on_connected);
    if (e != ERR_OK) return from_err(e);
    state_ = state::connecting;
    remember_local_address();
    return net_error::in_progress;
}

std::unique_ptr<tcp_endpoint> tcp_endpoint::accept() {
    forget_if_stopped();
    while (!accept_q_.empty()) {
        std::unique_ptr<tcp_endpoint> child = std::move(accept_q_.front());
        accept_q_.pop_front();
        if (child->pcb_ != nullptr) return child;
        // Reset (or aborted) while queued: dropped, as if never accepted.
    }
    return nullptr;
}

std::size_t tcp_endpoint::pending_accepts() {
    forget_if_stopped();
    // Dead entries do not count.
    while (!accept_q_.empty() && accept_q_.front()->pcb_ == nullptr) accept_q_.pop_front();
    return accept_q_.size();
}

bool tcp_endpoint::pending_peer(sock_address& out) {
    if (pending_accepts() == 0) return false;
    return accept_q_.front()->peer_address(out);
}

void tcp_endpoint::reject_pending() {
    if (pending_accepts() == 0) return;
    std::unique_ptr<tcp_endpoint> child = std::move(accept_q_.front());
    accept_q_.pop_front();
    child->abort();
}

tcp_endpoint::io_result tcp_endpoint::send(const void* data, std::size_t len) {
    forget_if_stopped();
    if (shut_wr_) return {0, net_error::shut_down};
    if (state_ == state::closed) return {0, fate_ != net_error::ok ? fate_ : net_error::not_connected};
    if (state_ != state::connected || pcb_ == nullptr) return {0, net_error::not_connected};
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::size_t done = 0;
    while (done < len) {
        std::size_t room = tcp_sndbuf(pcb_);
        if (room == 0 || tcp_sndqueuelen(pcb_) >= TCP_SND_QUEUELEN) break;
        std::size_t chunk = std::min({len - done, room, max_chunk});
        const u8_t more = done + chunk < len ? TCP_WRITE_FLAG_MORE : 0;
        err_t e = tcp_write(pcb_, p + done, static_cast<u16_t>(chunk), TCP_WRITE_FLAG_COPY | more);
        // The segment queue, not the bytes, ran out: smaller pieces need fewer
        // pbufs, and one byte needs at most one, so writable() means progress.
        while (e == ERR_MEM && chunk > 1) {
            chunk /= 2;
            e = tcp_write(pcb_, p + done, static_cast<u16_t>(chunk), TCP_WRITE_FLAG_COPY | more);
        }
        if (e == ERR_MEM) {
            // One byte within the connection's own limits (checked above)
            // failed: lwIP's memory, not this connection, ran out.  Waiting
            // for send space would spin; say so instead.
            if (done == 0) return {0, net_error::no_buffers};
            break;
        }
        if (e != ERR_OK) {
            if (done == 0) return {0, from_err(e)};
            break;
        }
        done += chunk;
    }
    if (done == 0) return {0, net_error::would_block};
    // A peer acknowledges a new connection's first data at once (Linux's
    // quick-ack mode); later ACKs are delayed or ride on its replies.
    if (!sent_data_) stack_.expect_answer();
    sent_data_ = true;
    tcp_output(pcb_);
    return {done, net_error::ok};
}

tcp_endpoint::io_result tcp_endpoint::recv(void* buf, std::size_t len, bool peek) {
    forget_if_stopped();
    if (shut_rd_) return {0, net_error::shut_down};
    if (rx_bytes_ > 0) {
        auto* out = static_cast<std::uint8_t*>(buf);
        std::size_t copied = 0;
        std::size_t offset = rx_offset_;
        for (std::size_t i = 0; i < rx_.size() && copied < len; ++i) {
            struct pbuf* p = rx_[i];
            const std::size_t avail = p->tot_len - offset;
            const std::size_t n = std::min(avail, len - copied);
            pbuf_copy_partial(p, out + copied, static_cast<u16_t>(n), static_cast<u16_t>(offset));
            copied += n;
            offset = 0;
        }
        if (!peek) {
            std::size_t left = copied;
            while (left > 0) {
                struct pbuf* p = rx_.front();
                const std::size_t avail = p->tot_len - rx_offset_;
                if (left >= avail) {
                    left -= avail;
                    rx_.pop_front();
                    rx_offset_ = 0;
                    pbuf_free(p);
                } else {
                    rx_offset_ += left;
                    left = 0;
                }
            }
            rx_bytes_ -= copied;
            for (std::size_t acked = 0; pcb_ != nullptr && acked < copied;) {
                const std::size_t n = std::min(copied - acked, max_chunk);
                tcp_recved(pcb_, static_cast<u16_t>(n));
                acked += n;
            }
        }
        return {copied, net_error::ok};
    }
    if (rx_fin_) return {0, net_error::ok};
    if (state_ == state::closed) return {0, fate_ == net_error::ok ? net_error::ok : fate_};
    if (state_ != state::connected) return {0, net_error::not_connected};
    return {0, net_error::would_block};
}

net_error tcp_endpoint::shutdown(bool receive, bool send) {
    forget_if_stopped();
    if (state_ == state::listening || (state_ != state::connected && state_ != state::closed))
        return net_error::not_connected;
    // The receive side is closed here, never in lwIP: tcp_shutdown(pcb, 1, 0)
    // sets TF_RXCLOSED, and lwIP then frees the pcb without a callback when
    // LAST_ACK completes.  on_recv resets the connection when data arrives.
    if (receive) shut_rd_ = true;
    if (send && !shut_wr_) {
        shut_wr_ = true;
        if (pcb_ != nullptr) {
            stack_.expect_answer();                    // the FIN's
            const err_t e = tcp_shutdown(pcb_, 0, 1);  // FIN; the pcb stays ours
            if (e != ERR_OK && e != ERR_CONN) return from_err(e);
        }
    }
    return net_error::ok;
}

void tcp_endpoint::close() {
    forget_if_stopped();
    for (auto& child : accept_q_) child->abort();  // never accepted: reset
    accept_q_.clear();
    release_rx();
    if (pcb_ != nullptr) {
        detach_pcb();
        if (state_ == state::connected && !shut_wr_) stack_.expect_answer();  // the FIN's
        if (tcp_close(pcb_) != ERR_OK && state_ != state::listening) tcp_abort(pcb_);
        pcb_ = nullptr;
    }
    state_ = state::closed;
}

void tcp_endpoint::abort() {
    forget_if_stopped();
    if (state_ == state::listening) {  // lwIP forbids tcp_abort on a listener
        close();
        return;
    }
    release_rx();
    if (pcb_ != nullptr) {
        detach_pcb();
        // A reset needs no acknowledgement before it: lwIP would flush a
        // delayed ACK on the way out, so that the peer saw ACK then RST.
        tcp_clear_flags(pcb_, TF_ACK_DELAY);
        // lwIP's reset carries snd_nxt, which a zero-window probe has moved
        // one byte past what the peer's window allows; Linux (RFC 5961)
        // answers such a reset with a challenge ACK and keeps the
        // connection.  Send it at the window's right edge at most, as
        // Linux's own resets do (docs/lwip-notes.md).
        const u32_t edge = pcb_->lastack + pcb_->snd_wnd;
        if (TCP_SEQ_GT(pcb_->snd_nxt, edge)) pcb_->snd_nxt = edge;
        tcp_abort(pcb_);
        pcb_ = nullptr;
    }
    state_ = state::closed;
}

void tcp_endpoint::start_linger() {
    forget_if_stopped();
    if (pcb_ == nullptr || state_ != state::connected || shut_wr_) return;
    shut_wr_ = true;
    stack_.expect_answer();  // the FIN's
    tcp_shutdown(pcb_, 0, 1);
}

bool tcp_endpoint::send_settled() const {
    if (pcb_ == nullptr || state_ == state::listening || stack_.stopped()) return true;
    return pcb_->unsent == nullptr && pcb_->unacked == nullptr;
}

bool tcp_endpoint::readable() const {
    if (state_ == state::listening) return !accept_q_.empty();
    return rx_bytes_ > 0 || rx_fin_ || state_ == state::closed || pending_error_ != net_error::ok;
}

bool tcp_endpoint::writable() const {
    if (state_ == state::closed || shut_wr_) return true;  // a send would fail at once
    if (stack_.stopped()) return true;
    // Room in bytes and in lwIP's segment queue: what send() needs to make progress.
    return state_ == state::connected && pcb_ != nullptr && !shut_wr_ && tcp_sndbuf(pcb_) > 0 &&
           tcp_sndqueuelen(pcb_) < TCP_SND_QUEUELEN;
}

std::size_t tcp_endpoint::send_buffer_free() const {
    return pcb_ != nullptr && state_ == state::connected && !stack_.stopped() ? tcp_sndbuf(pcb_) : 0;
}

net_error tcp_endpoint::take_error() {
    const net_error e = pending_error_;
    pending_error_ = net_error::ok;
    return e;
}

bool tcp_endpoint::local_address(sock_address& out) const {
    if (pcb_ == nullptr || stack_.stopped()) {
        if (!has_bound_) return false;
        out = bound_;
        return true;
    }
    if (state_ == state::fresh) return false;
    out = from_lwip(pcb_->local_ip, pcb_->local_port);
    out.v6 = v6_;
    return true;
}

bool tcp_endpoint::peer_address(sock_address& out) const {
    if (pcb_ == nullptr || state_ != state::connected || stack_.stopped()) return false;
    out = from_lwip(pcb_->remote_ip, pcb_->remote_port);
    return true;
}

}  // namespace lwsp
