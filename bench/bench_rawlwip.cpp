// bench_rawlwip — baseline (c): raw lwIP without lwsp.  The same lwIP build
// as lwsp (lwip_core, stack/lwip_port/lwipopts.h) driven by one thread: a
// poll loop over the TAP file descriptor that feeds frames to lwIP, runs its
// timers, and an application written on the raw API (callbacks).  No core
// lock, no driver thread, no shim, no Asio.
//
//   bench_rawlwip --mode tx|rx|rr|crr [--tap lwsp0] [--mtu 1500] [--warmup S] [--seconds S] [--count N]
//
// Talks to bench_kernel server at 192.0.2.2 (lwIP takes 192.0.2.1, the MAC
// lwsp's TAP port uses).  RESULT lines like the other programs.
#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <random>
#include <vector>

#include "bench_common.hpp"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwsp_hooks.h"
#include "netif/ethernet.h"
#include "tap_fd.hpp"

// ---- lwIP's port symbols (lwsp's stack provides them otherwise) -----------------
namespace {
const bench::clock::time_point g_start = bench::clock::now();
}
extern "C" {
u32_t sys_now(void) {
    return static_cast<u32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(bench::clock::now() - g_start).count());
}
void lwsp_platform_assert(const char* message, int line, const char* file) {
    std::fprintf(stderr, "bench_rawlwip: lwIP assertion \"%s\" failed at %s:%d\n", message, file, line);
    std::abort();
}
void lwsp_platform_diag(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    std::vfprintf(stderr, format, ap);
    va_end(ap);
}
unsigned int lwsp_rand(void) {
    static std::minstd_rand gen{std::random_device{}()};
    return static_cast<unsigned int>(gen());
}
void lwsp_assert_core_locked(void) {}  // one thread: nothing to check
// Plain malloc: raw lwIP as an lwIP user gets it (lwsp's block cache is
// part of what is measured against it).
void* lwsp_mem_malloc(size_t size) { return std::malloc(size); }
void* lwsp_mem_calloc(size_t count, size_t size) { return std::calloc(count, size); }
void lwsp_mem_free(void* p) { std::free(p); }
// lwsp's listener admission (lwsp_hooks.h) applies to lwsp's endpoints only:
// a raw-API program keeps lwIP's own rules.
err_t lwsp_tcp_listener_input(struct tcp_pcb_listen*, unsigned char) { return ERR_OK; }
err_t lwsp_tcp_handshake_input(struct tcp_pcb*, unsigned char) { return ERR_OK; }
u32_t lwsp_tcp_isn(const ip_addr_t*, u16_t, const ip_addr_t*, u16_t) { return static_cast<u32_t>(lwsp_rand()); }
}

namespace {

int g_fd = -1;
std::vector<std::uint8_t> g_frame(65536 + 64);

err_t tap_output(struct netif*, struct pbuf* p) {
    std::uint8_t buf[65536 + 64];
    const u16_t n = pbuf_copy_partial(p, buf, p->tot_len, 0);
    for (;;) {
        const ssize_t w = ::write(g_fd, buf, n);
        if (w == static_cast<ssize_t>(n)) return ERR_OK;
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            bench::fd_wait(g_fd, true, 10);
            continue;
        }
        return ERR_IF;
    }
}

std::size_t g_mtu = 1500;

err_t tap_netif_init(struct netif* nif) {
    nif->name[0] = 't';
    nif->name[1] = 'p';
    nif->output = etharp_output;
    nif->linkoutput = tap_output;
    nif->mtu = static_cast<u16_t>(g_mtu);
    nif->hwaddr_len = 6;
    const std::uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::memcpy(nif->hwaddr, mac, 6);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

// Reads every frame that is ready and hands it to lwIP.
void pump_input(struct netif* nif) {
    for (;;) {
        const ssize_t r = ::read(g_fd, g_frame.data(), g_frame.size());
        if (r <= 0) return;
        struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(r), PBUF_POOL);
        if (p == nullptr) continue;
        pbuf_take(p, g_frame.data(), static_cast<u16_t>(r));
        if (nif->input(p, nif) != ERR_OK) pbuf_free(p);
    }
}

// ---- the application, on the raw API -----------------------------------------------

struct app {
    std::string mode;
    std::uint64_t count = 0;
    bench::steady_meter meter{1, 2};  // tx and rx (bench_common.hpp)
    ip_addr_t peer;
    struct tcp_pcb* pcb = nullptr;
    bool done = false, failed = false;
    std::uint64_t written = 0, received = 0, iterations = 0;
    bool shut = false;
    std::vector<char> chunk = std::vector<char>(256 * 1024, 'x');
    bench::clock::time_point t0, t_rr;
    std::vector<double> rtt_us;
    void start_connection(std::uint16_t port);
};

app g_app;
bench::args g_args(0, nullptr);

void fill(struct tcp_pcb* pcb) {
    app& a = g_app;
    while (!a.meter.over()) {
        std::size_t n = std::min<std::uint64_t>(tcp_sndbuf(pcb), 0xffffu);
        if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 1) break;
        if (tcp_write(pcb, a.chunk.data() + a.written % (a.chunk.size() - 0xffff), static_cast<u16_t>(n),
                      TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        a.written += n;
        a.meter.add(n);
    }
    if (a.meter.over() && !a.shut) {
        tcp_shutdown(pcb, 0, 1);
        a.shut = true;
    }
    tcp_output(pcb);
}

err_t on_sent(void*, struct tcp_pcb* pcb, u16_t) {
    if (g_app.mode == "tx") fill(pcb);
    return ERR_OK;
}

void send_byte(struct tcp_pcb* pcb) {
    const char b = 'r';
    tcp_write(pcb, &b, 1, TCP_WRITE_FLAG_COPY);
    tcp_output(pcb);
}

void finish(struct tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
}

err_t on_recv(void*, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    app& a = g_app;
    if (p == nullptr) {                       // end of stream
        if (a.mode == "rx") a.failed = true;  // asked for 2^62 bytes
        finish(pcb);
        a.pcb = nullptr;
        return ERR_OK;
    }
    const u16_t n = p->tot_len;
    tcp_recved(pcb, n);
    pbuf_free(p);
    a.received += n;
    if (a.mode == "rx") {
        if (a.meter.add(n)) return ERR_OK;
        a.meter.report("rx_bps");  // measured: reset the connection
        a.done = true;
        tcp_arg(pcb, nullptr);
        tcp_recv(pcb, nullptr);
        tcp_sent(pcb, nullptr);
        tcp_err(pcb, nullptr);
        tcp_abort(pcb);
        a.pcb = nullptr;
        return ERR_ABRT;
    }
    if (a.mode == "tx") {  // the sink's byte: it read everything
        a.meter.report("tx_bps");
        a.done = true;
        finish(pcb);
        a.pcb = nullptr;
    } else if (a.mode == "rr") {
        ++a.iterations;
        if (a.iterations > a.count / 10) a.rtt_us.push_back(bench::seconds_since(a.t_rr) * 1e6);
        if (a.iterations >= a.count + a.count / 10) {
            a.done = true;
            finish(pcb);
            a.pcb = nullptr;
        } else {
            a.t_rr = bench::clock::now();
            send_byte(pcb);
        }
    } else if (a.mode == "crr") {
        finish(pcb);
        a.pcb = nullptr;
        if (++a.iterations >= a.count) {
            bench::result("crr_per_s", static_cast<double>(a.count) / bench::seconds_since(a.t0));
            a.done = true;
        } else {
            a.start_connection(bench::port_crr);
        }
    }
    return ERR_OK;
}

void on_err(void*, err_t err) {
    std::fprintf(stderr, "bench_rawlwip: connection error %d\n", static_cast<int>(err));
    g_app.pcb = nullptr;
    g_app.failed = true;
}

err_t on_connected(void*, struct tcp_pcb* pcb, err_t) {
    app& a = g_app;
    tcp_nagle_disable(pcb);
    if (a.mode == "tx") {
        a.meter = bench::meter_from(g_args);
        fill(pcb);
    } else if (a.mode == "rx") {
        const unsigned char be[8] = {0x40};  // 2^62 bytes
        a.meter = bench::meter_from(g_args);
        tcp_write(pcb, be, 8, TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
    } else {
        a.t_rr = bench::clock::now();
        send_byte(pcb);
    }
    return ERR_OK;
}

// lwIP starts its local ports at 0xc000 in every process (our lwipopts.h
// does not randomize them), so consecutive runs would reuse a 4-tuple the
// kernel still keeps in TIME_WAIT and stall on its challenge ACKs.  Each run
// takes its own random block of local ports instead.
std::uint16_t next_local_port() {
    static std::uint16_t port = static_cast<std::uint16_t>(0xc000 + lwsp_rand() % 0x3000);
    if (++port < 0xc000) port = 0xc000;
    return port;
}

void app::start_connection(std::uint16_t port) {
    pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (pcb == nullptr) bench::fail("tcp_new");
    while (tcp_bind(pcb, IP4_ADDR_ANY, next_local_port()) != ERR_OK) {
    }
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    if (tcp_connect(pcb, &peer, port, on_connected) != ERR_OK) bench::fail("tcp_connect");
}

}  // namespace

int main(int argc, char** argv) {
    bench::args args(argc, argv);
    g_args = args;
    app& a = g_app;
    a.mode = args.str("mode", "tx");
    a.count = args.num("count", 1000);
    g_mtu = args.num("mtu", 1500);
    g_fd = bench::tap_open(args.str("tap", "lwsp0"));

    lwip_init();
    struct netif nif;
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 192, 0, 2, 1);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    if (netif_add(&nif, &ip, &mask, &gw, nullptr, tap_netif_init, ethernet_input) == nullptr) bench::fail("netif_add");
    netif_set_default(&nif);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
    IP_ADDR4(&a.peer, 192, 0, 2, 2);

    std::uint16_t port = a.mode == "tx"    ? bench::port_sink
                         : a.mode == "rx"  ? bench::port_source
                         : a.mode == "rr"  ? bench::port_echo
                         : a.mode == "crr" ? bench::port_crr
                                           : 0;
    if (port == 0) bench::fail("unknown mode " + a.mode);
    a.t0 = bench::clock::now();
    a.start_connection(port);
    const auto deadline = bench::clock::now() + std::chrono::seconds(args.num("timeout", 30));
    while (!a.done && !a.failed) {
        if (bench::clock::now() > deadline) bench::fail("timed out");
        const u32_t sleep = sys_timeouts_sleeptime();
        bench::fd_wait(g_fd, false, static_cast<int>(std::min<u32_t>(sleep, 100)));
        pump_input(&nif);
        sys_check_timeouts();
    }
    if (a.failed) bench::fail("transfer failed");
    if (a.mode == "rr") bench::report_rtt("rr", a.rtt_us);
    return 0;
}
