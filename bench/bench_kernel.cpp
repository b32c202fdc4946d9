// bench_kernel — the Linux kernel's TCP/IP stack on both ends of a benchmark.
//
//   bench_kernel server --ip A          the peer every benchmark talks to
//                                       (ports in bench_common.hpp)
//   bench_kernel client --ip A --mode tx|rx|rr|crr|flows [--warmup S] [--seconds S] [--count N]
//                                       baseline (b): the kernel as client,
//                                       over a veth pair to a server in a
//                                       second namespace
//
// POSIX sockets only (never in a translation unit with lwsp/ws2spi.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace {

int listen_on(const char* ip, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip, &a.sin_addr) != 1) bench::fail("bad address");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        bench::fail("bind: " + std::string(strerror(errno)));
    if (::listen(fd, 4096) != 0) bench::fail("listen");
    return fd;
}

int connect_to(const char* ip, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        bench::fail("connect: " + std::string(strerror(errno)));
    return fd;
}

void nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool write_all(int fd, const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
        ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool read_exact(int fd, void* p, std::size_t n) {
    char* c = static_cast<char*>(p);
    while (n > 0) {
        ssize_t r = ::recv(fd, c, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

std::uint64_t drain(int fd) {
    static thread_local std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
        ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return total;
        total += static_cast<std::uint64_t>(r);
    }
}

template <class F>
void accept_loop(int lfd, F handle, bool threaded) {
    for (;;) {
        int fd = ::accept(lfd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) {
                ::usleep(1000);
                continue;
            }
            return;
        }
        if (threaded)
            std::thread([fd, handle] { handle(fd); }).detach();
        else
            handle(fd);
    }
}

int server(const char* ip) {
    struct rlimit rl {
        200000, 200000
    };
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::signal(SIGPIPE, SIG_IGN);
    std::vector<std::thread> ts;
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_sink),
        [](int fd) {
            drain(fd);
            char one = 1;
            write_all(fd, &one, 1);
            ::close(fd);
        },
        true);
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_source),
        [](int fd) {
            unsigned char be[8];
            if (read_exact(fd, be, 8)) {
                std::uint64_t n = 0;
                for (unsigned char b : be) n = n << 8 | b;
                std::vector<char> chunk(1 << 20, 'k');
                while (n > 0) {
                    const std::size_t k = std::min<std::uint64_t>(n, chunk.size());
                    if (!write_all(fd, chunk.data(), k)) break;
                    n -= k;
                }
            }
            ::close(fd);
        },
        true);
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_echo),
        [](int fd) {
            nodelay(fd);
            char buf[4096];
            for (;;) {
                ssize_t r = ::recv(fd, buf, sizeof buf, 0);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0 || !write_all(fd, buf, static_cast<std::size_t>(r))) break;
            }
            ::close(fd);
        },
        true);
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_crr),
        [](int fd) {
            nodelay(fd);
            char b;
            if (read_exact(fd, &b, 1)) write_all(fd, &b, 1);
            drain(fd);
            ::close(fd);
        },
        false);
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_hold),
        [](int fd) {
            static std::vector<int> held;  // kept open until the process ends
            held.push_back(fd);
        },
        false);
    ts.emplace_back(
        accept_loop<void (*)(int)>, listen_on(ip, bench::port_greet),
        [](int fd) {
            static std::vector<int> held;
            static const std::vector<char> segment(1460, 'g');
            write_all(fd, segment.data(), segment.size());
            held.push_back(fd);
        },
        false);
    std::fprintf(stderr, "bench_kernel: serving on %s ports 5001-5006\n", ip);
    for (auto& t : ts) t.join();
    return 0;
}

int client(const bench::args& a) {
    ::signal(SIGPIPE, SIG_IGN);
    const std::string ip = a.str("ip", "192.0.2.2");
    const std::string mode = a.str("mode", "tx");
    const std::uint64_t count = a.num("count", 1000);
    if (mode == "tx") {  // steady state: --warmup, then --seconds (bench_common.hpp)
        int fd = connect_to(ip.c_str(), bench::port_sink);
        std::vector<char> chunk(256 * 1024, 'x');
        bench::steady_meter meter = bench::meter_from(a);
        do
            if (!write_all(fd, chunk.data(), chunk.size())) bench::fail("send");
        while (meter.add(chunk.size()));
        ::shutdown(fd, SHUT_WR);
        char ack;
        if (!read_exact(fd, &ack, 1)) bench::fail("no ack from sink");
        meter.report("tx_bps");
        ::close(fd);
    } else if (mode == "rx") {  // asks for 2^62 bytes and resets the connection when measured
        int fd = connect_to(ip.c_str(), bench::port_source);
        const unsigned char be[8] = {0x40};
        write_all(fd, be, 8);
        std::vector<char> buf(256 * 1024);
        bench::steady_meter meter = bench::meter_from(a);
        for (;;) {
            const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) bench::fail("rx: the stream ended early");
            if (!meter.add(static_cast<std::uint64_t>(r))) break;
        }
        meter.report("rx_bps");
        struct linger l {
            1, 0
        };
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
    } else if (mode == "rr") {
        int fd = connect_to(ip.c_str(), bench::port_echo);
        nodelay(fd);
        std::vector<double> us;
        us.reserve(count);
        char b = 'r';
        for (std::uint64_t i = 0; i < count + count / 10; ++i) {  // the first tenth warms up
            const auto t0 = bench::clock::now();
            if (!write_all(fd, &b, 1) || !read_exact(fd, &b, 1)) bench::fail("rr");
            if (i >= count / 10) us.push_back(bench::seconds_since(t0) * 1e6);
        }
        ::close(fd);
        const std::string samples = a.str("samples", "");
        if (!samples.empty())
            if (FILE* f = std::fopen(samples.c_str(), "w")) {
                for (double v : us) std::fprintf(f, "%.3f\n", v);
                std::fclose(f);
            }
        bench::report_rtt("rr", us);
    } else if (mode == "crr") {
        const auto t0 = bench::clock::now();
        for (std::uint64_t i = 0; i < count; ++i) {
            int fd = connect_to(ip.c_str(), bench::port_crr);
            nodelay(fd);
            char b = 'c';
            if (!write_all(fd, &b, 1) || !read_exact(fd, &b, 1)) bench::fail("crr");
            ::close(fd);
        }
        bench::result("crr_per_s", static_cast<double>(count) / bench::seconds_since(t0));
    } else if (mode == "flows") {  // as bench_lwsp --mode flows
        const std::size_t n = static_cast<std::size_t>(count);
        std::vector<int> fds;
        for (std::size_t i = 0; i < n; ++i) fds.push_back(connect_to(ip.c_str(), bench::port_sink));
        const std::vector<char> chunk(64 * 1024, 'f');
        const bench::flows_meter meter = bench::run_flows(a, n, [&](std::size_t i) {
            if (!write_all(fds[i], chunk.data(), chunk.size())) bench::fail("send");
            return chunk.size();
        });
        for (int fd : fds) {
            ::shutdown(fd, SHUT_WR);
            char ack;
            if (!read_exact(fd, &ack, 1)) bench::fail("no ack from sink");
            ::close(fd);
        }
        meter.report("flows");
    } else {
        bench::fail("unknown mode " + mode);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bench::args a(argc, argv);
    if (a.positional.empty()) bench::fail("usage: bench_kernel server|client --ip A [--mode M]");
    if (a.positional[0] == "server") return server(a.str("ip", "192.0.2.2").c_str());
    return client(a);
}
