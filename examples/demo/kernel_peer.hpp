// kernel_peer.hpp — the Linux kernel's TCP/IP stack as the demo's peer,
// through ordinary POSIX sockets.  Kept in its own translation unit: POSIX
// socket headers and lwsp/ws2spi.h (Winsock's names) cannot share one.
#pragma once

#include <cstdint>
#include <string>

namespace kernel_peer {

struct read_result {
    std::string data;
    bool eof = false;       // read() returned 0: the peer's FIN
    int error = 0;          // errno of a failed read (ECONNRESET after a RST)
    bool timed_out = false;
};

int listen_tcp(const char* ip, std::uint16_t port, int rcvbuf = 0);  // -1 on failure
int accept_one(int listen_fd, int timeout_ms);
int connect_tcp(const char* ip, std::uint16_t port, int timeout_ms);
bool write_all(int fd, const std::string& data);
// Reads up to `max` bytes, waiting at most `timeout_ms` for the first byte.
read_result read_some(int fd, std::size_t max, int timeout_ms);
// Reads until EOF or an error, at most `max_total` bytes kept.
read_result read_to_end(int fd, std::size_t max_total, int timeout_ms);
void close_fd(int fd);
std::string error_name(int err);  // "ECONNRESET (Connection reset by peer)"

}  // namespace kernel_peer
