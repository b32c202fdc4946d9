// bench_stocklwip — baseline (d): stock lwIP as Debian ships it (liblwip-dev:
// NO_SYS=0, tcpip thread, its sockets API lwip_*, and its own tapif driver
// with one reader thread).  Built only against /usr/include/lwip and
// liblwip.so (pkg-config lwip), never against lwsp's lwIP build.
//
//   PRECONFIGURED_TAPIF=lwsp0 bench_stocklwip --mode tx|rx|rr|crr [--bytes N] [--count N]
//
// Talks to bench_kernel server at 192.0.2.2 (lwIP takes 192.0.2.1).
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "bench_common.hpp"
// Debian's port headers (lwipopts.h's core-lock hooks, tapif.h) declare C
// functions without C++ guards.
#include <poll.h>
#include <sys/socket.h>
extern "C" {
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/sockets.h"
#include "lwip/sys.h"
#include "lwip/tcpip.h"
#include "netif/tapif.h"
}

namespace {

void on_tcpip_ready(void* arg) { sys_sem_signal(static_cast<sys_sem_t*>(arg)); }

int connect_to(std::uint16_t port) {
    const int fd = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) bench::fail("lwip_socket");
    // Debian's LWIP_RAND is rand() unseeded: every process would start at
    // the same local port and reuse a 4-tuple the kernel keeps in TIME_WAIT
    // from the previous run.  Each run takes its own random block of ports.
    static std::uint16_t local =
        static_cast<std::uint16_t>(0xc000 + bench::clock::now().time_since_epoch().count() % 0x3000);
    for (;;) {
        if (++local < 0xc000) local = 0xc000;
        struct sockaddr_in me {};
        me.sin_family = AF_INET;
        me.sin_port = lwip_htons(local);
        if (lwip_bind(fd, reinterpret_cast<struct sockaddr*>(&me), sizeof me) == 0) break;
    }
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_port = lwip_htons(port);
    a.sin_addr.s_addr = lwip_htonl(0xc0000202u);  // 192.0.2.2
    if (lwip_connect(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
        bench::fail("lwip_connect: errno " + std::to_string(errno));
    return fd;
}

void nodelay(int fd) {
    int one = 1;
    lwip_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void write_all(int fd, const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = lwip_send(fd, c, n, 0);
        if (w <= 0) bench::fail("lwip_send: errno " + std::to_string(errno));
        c += w;
        n -= static_cast<std::size_t>(w);
    }
}

void read_exact(int fd, void* p, std::size_t n) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
        const ssize_t r = lwip_recv(fd, c, n, 0);
        if (r <= 0) bench::fail("lwip_recv: early end");
        c += r;
        n -= static_cast<std::size_t>(r);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bench::args args(argc, argv);
    const std::string mode = args.str("mode", "tx");
    const std::uint64_t bytes = args.num("bytes", 16ull << 20);
    const std::uint64_t count = args.num("count", 1000);
    if (std::getenv("PRECONFIGURED_TAPIF") == nullptr) setenv("PRECONFIGURED_TAPIF", "lwsp0", 1);

    sys_sem_t ready;
    sys_sem_new(&ready, 0);
    tcpip_init(on_tcpip_ready, &ready);
    sys_sem_wait(&ready);

    static struct netif nif;
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 192, 0, 2, 1);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    LOCK_TCPIP_CORE();
    if (netif_add(&nif, &ip, &mask, &gw, nullptr, tapif_init, tcpip_input) == nullptr) bench::fail("netif_add");
    netif_set_default(&nif);
    netif_set_up(&nif);
    UNLOCK_TCPIP_CORE();

    if (mode == "tx") {
        const int fd = connect_to(bench::port_sink);
        std::vector<char> chunk(256 * 1024, 'x');
        const auto t0 = bench::clock::now();
        for (std::uint64_t off = 0; off < bytes; off += chunk.size())
            write_all(fd, chunk.data(), std::min<std::uint64_t>(chunk.size(), bytes - off));
        lwip_shutdown(fd, SHUT_WR);
        char ack;
        read_exact(fd, &ack, 1);
        bench::result("tx_bps", static_cast<double>(bytes) * 8 / bench::seconds_since(t0));
        lwip_close(fd);
    } else if (mode == "rx") {
        const int fd = connect_to(bench::port_source);
        unsigned char be[8];
        for (int i = 0; i < 8; ++i) be[i] = static_cast<unsigned char>(bytes >> (56 - 8 * i));
        std::vector<char> buf(256 * 1024);
        const auto t0 = bench::clock::now();
        write_all(fd, be, 8);
        std::uint64_t got = 0;
        for (ssize_t r; (r = lwip_recv(fd, buf.data(), buf.size(), 0)) > 0;) got += static_cast<std::uint64_t>(r);
        const double t = bench::seconds_since(t0);
        if (got != bytes) bench::fail("rx: short transfer");
        bench::result("rx_bps", static_cast<double>(bytes) * 8 / t);
        lwip_close(fd);
    } else if (mode == "rr") {
        const int fd = connect_to(bench::port_echo);
        nodelay(fd);
        std::vector<double> us;
        char b = 'r';
        for (std::uint64_t i = 0; i < count + count / 10; ++i) {
            const auto t0 = bench::clock::now();
            write_all(fd, &b, 1);
            read_exact(fd, &b, 1);
            if (i >= count / 10) us.push_back(bench::seconds_since(t0) * 1e6);
        }
        lwip_close(fd);
        bench::report_rtt("rr", us);
    } else if (mode == "crr") {
        const auto t0 = bench::clock::now();
        for (std::uint64_t i = 0; i < count; ++i) {
            const int fd = connect_to(bench::port_crr);
            nodelay(fd);
            char b = 'c';
            write_all(fd, &b, 1);
            read_exact(fd, &b, 1);
            lwip_close(fd);
        }
        bench::result("crr_per_s", static_cast<double>(count) / bench::seconds_since(t0));
    } else {
        bench::fail("unknown mode " + mode);
    }
    // The tcpip and tapif threads never end; leave without tearing down.
    std::fflush(stdout);
    std::_Exit(0);
}
