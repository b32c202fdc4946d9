// raw_loopback.cpp — see raw_loopback.hpp.  Runs on lwsp's stack (its core
// lock, driver thread and loopback interface); talks to lwIP directly.
#include "raw_loopback.hpp"

#include <algorithm>
#include "lwsp/platform.hpp"
#include <vector>

#include "bench_common.hpp"
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "lwsp/stack.hpp"

namespace bench {

namespace {

struct raw_pair {
    lwsp::platform::condvar cv;
    struct tcp_pcb* server = nullptr;
    bool connected = false;
    bool failed = false;
    std::uint64_t received = 0;
};

err_t on_recv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    auto* r = static_cast<raw_pair*>(arg);
    if (p == nullptr) return ERR_OK;
    r->received += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    r->cv.notify_all();
    return ERR_OK;
}

void on_err(void* arg, err_t) {
    auto* r = static_cast<raw_pair*>(arg);
    r->failed = true;
    r->cv.notify_all();
}

err_t on_accept(void* arg, struct tcp_pcb* pcb, err_t err) {
    auto* r = static_cast<raw_pair*>(arg);
    if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
    r->server = pcb;
    tcp_arg(pcb, r);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    r->cv.notify_all();
    return ERR_OK;
}

err_t on_connected(void* arg, struct tcp_pcb*, err_t) {
    auto* r = static_cast<raw_pair*>(arg);
    r->connected = true;
    r->cv.notify_all();
    return ERR_OK;
}

err_t on_sent(void* arg, struct tcp_pcb*, u16_t) {
    static_cast<raw_pair*>(arg)->cv.notify_all();
    return ERR_OK;
}

void detach(struct tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

}  // namespace

double raw_loopback_transfer(lwsp::stack& st, std::uint64_t bytes, std::uint16_t port) {
    raw_pair r;
    std::vector<char> chunk(256 * 1024, 'r');
    lwsp::core_lock lk = st.lock();
    struct tcp_pcb* l = tcp_new_ip_type(IPADDR_TYPE_V4);
    ip_addr_t lo;
    IP_ADDR4(&lo, 127, 0, 0, 1);
    if (l == nullptr || tcp_bind(l, &lo, port) != ERR_OK) return -1;
    l = tcp_listen(l);
    tcp_arg(l, &r);
    tcp_accept(l, on_accept);
    struct tcp_pcb* c = tcp_new_ip_type(IPADDR_TYPE_V4);
    tcp_arg(c, &r);
    tcp_recv(c, on_recv);
    tcp_sent(c, on_sent);
    tcp_err(c, on_err);
    // Nagle off on both halves (the WSP half sets TCP_NODELAY): otherwise the
    // last partial segment waits for a delayed ACK (up to 250 ms).
    tcp_nagle_disable(c);
    if (tcp_connect(c, &lo, port, on_connected) != ERR_OK) return -1;
    st.wait(lk, r.cv, [&] { return r.failed || (r.connected && r.server != nullptr); });
    if (r.failed) return -1;

    const auto t0 = clock::now();
    std::uint64_t sent = 0;
    std::size_t off = 0;
    while (sent < bytes && !r.failed) {
        std::size_t n = std::min<std::uint64_t>({tcp_sndbuf(c), bytes - sent, chunk.size() - off});
        if (n == 0 || tcp_sndqueuelen(c) >= TCP_SND_QUEUELEN - 1) {
            tcp_output(c);
            st.wait(lk, r.cv, [&] {
                return r.failed || (tcp_sndbuf(c) >= TCP_MSS && tcp_sndqueuelen(c) < TCP_SND_QUEUELEN / 2);
            });
            continue;
        }
        if (tcp_write(c, chunk.data() + off, static_cast<u16_t>(std::min<std::size_t>(n, 0xffff)),
                      TCP_WRITE_FLAG_COPY) != ERR_OK) {
            tcp_output(c);
            st.wait(lk, r.cv, [&] { return r.failed || tcp_sndbuf(c) >= TCP_MSS; });
            continue;
        }
        const std::size_t w = std::min<std::size_t>(n, 0xffff);
        sent += w;
        off = (off + w) % chunk.size();
    }
    tcp_output(c);
    st.wait(lk, r.cv, [&] { return r.failed || r.received >= bytes; });
    const double t = seconds_since(t0);
    detach(c);
    tcp_abort(c);
    if (r.server != nullptr) {
        detach(r.server);
        tcp_abort(r.server);
    }
    tcp_arg(l, nullptr);
    tcp_accept(l, nullptr);
    tcp_close(l);
    return r.failed ? -1 : t;
}

std::size_t raw_tcp_pcb_size() { return sizeof(struct tcp_pcb); }
std::size_t raw_tcp_mss() { return TCP_MSS; }

}  // namespace bench
