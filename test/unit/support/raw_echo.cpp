#include "raw_echo.hpp"

#include "lwip/ip_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

namespace lwsp::test {

namespace {

void poke(lwsp::platform::condvar* cv) {
    if (cv) cv->notify_all();
}

err_t server_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    auto* s = static_cast<raw_echo_server*>(arg);
    if (p == nullptr) {
        s->peer_closed = true;
        tcp_arg(pcb, nullptr);
        tcp_recv(pcb, nullptr);
        tcp_err(pcb, nullptr);
        tcp_close(pcb);
        if (s->conn == pcb) s->conn = nullptr;
        poke(s->notify);
        return ERR_OK;
    }
    for (struct pbuf* q = p; q != nullptr; q = q->next) tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY);
    tcp_output(pcb);
    s->echoed += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    poke(s->notify);
    return ERR_OK;
}

void server_err(void* arg, err_t) {
    auto* s = static_cast<raw_echo_server*>(arg);
    s->conn = nullptr;
    poke(s->notify);
}

err_t server_accept(void* arg, struct tcp_pcb* newpcb, err_t err) {
    auto* s = static_cast<raw_echo_server*>(arg);
    if (err != ERR_OK || newpcb == nullptr) return ERR_VAL;
    ++s->accepted;
    s->conn = newpcb;
    tcp_arg(newpcb, s);
    tcp_recv(newpcb, server_recv);
    tcp_err(newpcb, server_err);
    poke(s->notify);
    return ERR_OK;
}

err_t client_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    auto* c = static_cast<raw_client*>(arg);
    if (p == nullptr) {
        c->closed_by_peer = true;
    } else {
        for (struct pbuf* q = p; q != nullptr; q = q->next)
            c->received.append(static_cast<const char*>(q->payload), q->len);
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    poke(c->notify);
    return ERR_OK;
}

void client_err(void* arg, err_t err) {
    auto* c = static_cast<raw_client*>(arg);
    c->error = err;
    c->pcb = nullptr;
    poke(c->notify);
}

err_t client_connected(void* arg, struct tcp_pcb*, err_t) {
    auto* c = static_cast<raw_client*>(arg);
    c->connected = true;
    poke(c->notify);
    return ERR_OK;
}

}  // namespace

// A listener on `port` (any address, IPv4 and IPv6) handing connections to
// `accept` with `arg`; nullptr on failure.
static struct tcp_pcb* listen_any(std::uint16_t port, void* arg, tcp_accept_fn accept) {
    struct tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (pcb == nullptr) return nullptr;
    if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        tcp_close(pcb);
        return nullptr;
    }
    struct tcp_pcb* listener = tcp_listen(pcb);
    if (listener == nullptr) {
        tcp_close(pcb);
        return nullptr;
    }
    tcp_arg(listener, arg);
    tcp_accept(listener, accept);
    return listener;
}

bool raw_echo_server::listen(std::uint16_t port) {
    listener = listen_any(port, this, server_accept);
    return listener != nullptr;
}

void raw_echo_server::close_listener() {
    if (listener) tcp_close(listener);
    listener = nullptr;
}

bool raw_client::connect(const char* ip, std::uint16_t port) {
    ip_addr_t addr;
    if (!ipaddr_aton(ip, &addr)) return false;
    pcb = tcp_new_ip_type(IP_GET_TYPE(&addr));
    if (pcb == nullptr) return false;
    tcp_arg(pcb, this);
    tcp_recv(pcb, client_recv);
    tcp_err(pcb, client_err);
    return tcp_connect(pcb, &addr, port, client_connected) == ERR_OK;
}

bool raw_client::send(const std::string& data) {
    if (pcb == nullptr) return false;
    if (tcp_write(pcb, data.data(), static_cast<u16_t>(data.size()), TCP_WRITE_FLAG_COPY) != ERR_OK) return false;
    return tcp_output(pcb) == ERR_OK;
}

void raw_client::close() {
    if (pcb == nullptr) return;
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_err(pcb, nullptr);
    tcp_close(pcb);
    pcb = nullptr;
}

void raw_detach(struct tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

int raw_close(struct tcp_pcb* pcb) { return tcp_close(pcb); }

void raw_abort(struct tcp_pcb* pcb) { tcp_abort(pcb); }

bool raw_write(struct tcp_pcb* pcb, const std::string& data) {
    return tcp_write(pcb, data.data(), static_cast<u16_t>(data.size()), TCP_WRITE_FLAG_COPY) == ERR_OK &&
           tcp_output(pcb) == ERR_OK;
}

int raw_rto_ms(struct tcp_pcb* pcb) { return pcb->rto * TCP_SLOW_INTERVAL; }

int raw_slow_timer_ms() { return TCP_SLOW_INTERVAL; }

bool raw_holding_server::listen(std::uint16_t port) {
    listener = listen_any(port, this, &raw_holding_server::on_accept);
    return listener != nullptr;
}

err_t raw_holding_server::on_accept(void* arg, struct tcp_pcb* c, err_t err) {
    if (err != ERR_OK || c == nullptr) return ERR_VAL;
    tcp_arg(c, arg);
    tcp_recv(c, &raw_holding_server::on_recv);
    return ERR_OK;
}

err_t raw_holding_server::on_recv(void* arg, struct tcp_pcb*, struct pbuf* p, err_t) {
    if (p == nullptr) return ERR_OK;  // the peer's FIN
    auto* self = static_cast<raw_holding_server*>(arg);
    self->bytes += p->tot_len;
    self->held_.push_back(p);  // kept: no tcp_recved, the window shrinks
    return ERR_OK;
}

void raw_holding_server::release() {
    for (struct pbuf* p : held_) pbuf_free(p);
    held_.clear();
}

bool raw_udp_counter::bind(std::uint16_t port) {
    pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    if (pcb == nullptr) return false;
    if (udp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) return false;
    udp_recv(
        pcb,
        [](void* arg, struct udp_pcb*, struct pbuf* p, const ip_addr_t*, u16_t) {
            ++static_cast<raw_udp_counter*>(arg)->datagrams;
            pbuf_free(p);
        },
        this);
    return true;
}

void raw_udp_counter::close() {
    if (pcb != nullptr) udp_remove(pcb);
    pcb = nullptr;
}

}  // namespace lwsp::test
