#include "kernel_peer.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace kernel_peer {

namespace {

bool wait_for(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

struct any_addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
};

any_addr make_addr(const char* ip, std::uint16_t port) {
    any_addr a;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    if (std::strchr(ip, ':') != nullptr) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        ::inet_pton(AF_INET6, ip, &in6->sin6_addr);
        a.len = sizeof(sockaddr_in6);
        a.family = AF_INET6;
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        ::inet_pton(AF_INET, ip, &in->sin_addr);
        a.len = sizeof(sockaddr_in);
    }
    return a;
}

}  // namespace

int listen_tcp(const char* ip, std::uint16_t port, int rcvbuf, int backlog) {
    const any_addr a = make_addr(ip, port);
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Set before listen so accepted sockets inherit it (and the window).
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0 || ::listen(fd, backlog) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int accept_one(int listen_fd, int timeout_ms) {
    if (!wait_for(listen_fd, POLLIN, timeout_ms)) return -1;
    return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

int connect_tcp(const char* ip, std::uint16_t port, int timeout_ms, int* error) {
    const any_addr a = make_addr(ip, port);
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int err = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0 && errno != EINPROGRESS) {
        err = errno;
    } else if (!wait_for(fd, POLLOUT, timeout_ms)) {
        err = ETIMEDOUT;
    } else {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (error) *error = err;
    if (err != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool write_all(int fd, const void* data, std::size_t size, int timeout_ms) {
    const auto* p = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
        if (!wait_for(fd, POLLOUT, timeout_ms)) return false;
        const ssize_t n = ::send(fd, p + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool write_all(int fd, const std::string& data) { return write_all(fd, data.data(), data.size()); }

read_result read_some(int fd, std::size_t max, int timeout_ms) {
    read_result r;
    if (!wait_for(fd, POLLIN, timeout_ms)) {
        r.timed_out = true;
        return r;
    }
    std::string buf(max, '\0');
    const ssize_t n = ::recv(fd, buf.data(), max, MSG_DONTWAIT);
    if (n > 0) {
        buf.resize(static_cast<std::size_t>(n));
        r.data = std::move(buf);
    } else if (n == 0) {
        r.eof = true;
    } else {
        r.error = errno;
    }
    return r;
}

read_result read_to_end(int fd, std::size_t max_total, int timeout_ms) {
    read_result total;
    for (;;) {
        read_result r = read_some(fd, 65536, timeout_ms);
        if (total.data.size() < max_total) total.data += r.data.substr(0, max_total - total.data.size());
        if (r.eof || r.error || r.timed_out) {
            total.eof = r.eof;
            total.error = r.error;
            total.timed_out = r.timed_out;
            return total;
        }
    }
}

void reset(int fd) {
    struct linger l {
        1, 0
    };
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

void shutdown_send(int fd) { ::shutdown(fd, SHUT_WR); }
void shutdown_both(int fd) { ::shutdown(fd, SHUT_RDWR); }

void close_fd(int fd) {
    if (fd >= 0) ::close(fd);
}

int udp_socket(const char* ip, std::uint16_t port) {
    const any_addr a = make_addr(ip, port);
    const int fd = ::socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool udp_send(int fd, const char* ip, std::uint16_t port, const std::string& data) {
    const any_addr a = make_addr(ip, port);
    return ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&a.ss), a.len) ==
           static_cast<ssize_t>(data.size());
}

datagram udp_recv(int fd, int timeout_ms) {
    datagram d;
    if (!wait_for(fd, POLLIN, timeout_ms)) return d;
    std::string buf(65536, '\0');
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return d;
    buf.resize(static_cast<std::size_t>(n));
    d.ok = true;
    d.data = std::move(buf);
    char text[INET6_ADDRSTRLEN] = {};
    if (from.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&from);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        d.from_port = ntohs(in6->sin6_port);
    } else {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&from);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        d.from_port = ntohs(in->sin_port);
    }
    d.from_ip = text;
    return d;
}

bool raise_fd_limit(std::size_t n) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    if (rl.rlim_cur >= n) return true;
    rl.rlim_cur = n;
    if (rl.rlim_max < n) rl.rlim_max = n;
    return ::setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

std::string error_name(int err) {
    const char* name = err == ECONNRESET  ? "ECONNRESET"
                       : err == EPIPE     ? "EPIPE"
                       : err == ETIMEDOUT ? "ETIMEDOUT"
                                          : "errno";
    return std::string(name) + " (" + std::strerror(err) + ")";
}

tcp_mss mss_of(int fd) {
    struct tcp_info ti {};
    socklen_t len = sizeof ti;
    tcp_mss m;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        m.rcv = ti.tcpi_rcv_mss;
        m.snd = ti.tcpi_snd_mss;
    }
    return m;
}

unsigned retransmits_of(int fd) {
    struct tcp_info ti {};
    socklen_t len = sizeof ti;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_total_retrans : 0;
}

std::string tcp_state_of(int fd) {
    struct tcp_info ti {};
    socklen_t len = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return "TCP_INFO failed: " + error_name(errno);
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "state %u, rto %u ms, backoff %u, retransmits now %u (total %u), unacked %u, lost %u, "
                  "cwnd %u, last data sent %u ms ago, last data received %u ms ago, last ACK received %u ms ago",
                  ti.tcpi_state, ti.tcpi_rto / 1000, ti.tcpi_backoff, ti.tcpi_retransmits, ti.tcpi_total_retrans,
                  ti.tcpi_unacked, ti.tcpi_lost, ti.tcpi_snd_cwnd, ti.tcpi_last_data_sent, ti.tcpi_last_data_recv,
                  ti.tcpi_last_ack_recv);
    return buf;
}

bool tcp_reset_seen(int fd) {
    struct tcp_info ti {};
    socklen_t len = sizeof ti;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE;
}

long unread_bytes(int fd) {
    int n = 0;
    return ::ioctl(fd, SIOCINQ, &n) == 0 ? n : -1;
}

namespace {

// Attaches to TAP device `name` with IFF_NO_PI and `extra` flags; -1 on failure.
int attach_tap(const char* name, short extra) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq ifr {};
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | extra);
    std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

int open_plain_tap(const char* name) { return attach_tap(name, 0); }

bool leave_vnet_header_size(const char* name, int vnet_hdr_size) {
    const int fd = attach_tap(name, IFF_VNET_HDR);
    if (fd < 0) return false;
    const bool ok = ::ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_size) == 0;
    ::close(fd);
    return ok;
}

std::vector<std::uint8_t> read_frame(int fd, int timeout_ms) {
    struct pollfd p {
        fd, POLLIN, 0
    };
    if (::poll(&p, 1, timeout_ms) <= 0) return {};
    std::vector<std::uint8_t> buf(65536);
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
}

}  // namespace kernel_peer
