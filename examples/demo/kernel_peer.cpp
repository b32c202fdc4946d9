#include "kernel_peer.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace kernel_peer {

namespace {

bool wait_for(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

sockaddr_in make_addr(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

}  // namespace

int listen_tcp(const char* ip, std::uint16_t port, int rcvbuf) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Set before listen so accepted sockets inherit it (and the window).
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a = make_addr(ip, port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int accept_one(int listen_fd, int timeout_ms) {
    if (!wait_for(listen_fd, POLLIN, timeout_ms)) return -1;
    return ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
}

int connect_tcp(const char* ip, std::uint16_t port, int timeout_ms) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    sockaddr_in a = make_addr(ip, port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(fd, POLLOUT, timeout_ms) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        if (!wait_for(fd, POLLOUT, 10000)) return false;
        const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

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

void close_fd(int fd) {
    if (fd >= 0) ::close(fd);
}

std::string error_name(int err) {
    const char* name = err == ECONNRESET ? "ECONNRESET" : err == EPIPE ? "EPIPE" : err == ETIMEDOUT ? "ETIMEDOUT" : "errno";
    return std::string(name) + " (" + std::strerror(err) + ")";
}

}  // namespace kernel_peer
