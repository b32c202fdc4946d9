// kernel_peer.hpp — the Linux kernel's TCP/IP stack as a peer, through
// ordinary POSIX sockets (demo and integration tests).  Kept in its own
// translation unit: POSIX socket headers and lwsp/ws2spi.h (Winsock's
// names) cannot share one.  Addresses are text, IPv4 or IPv6.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kernel_peer {

struct read_result {
    std::string data;
    bool eof = false;  // read() returned 0: the peer's FIN
    int error = 0;     // errno of a failed read (ECONNRESET after a RST)
    bool timed_out = false;
};

int listen_tcp(const char* ip, std::uint16_t port, int rcvbuf = 0, int backlog = 128);  // -1 on failure
int accept_one(int listen_fd, int timeout_ms);
// -1 on failure; `error` (if given) receives the errno (ECONNREFUSED …).
int connect_tcp(const char* ip, std::uint16_t port, int timeout_ms, int* error = nullptr);
// Fails when the socket takes nothing for `timeout_ms`.
bool write_all(int fd, const void* data, std::size_t size, int timeout_ms = 30000);
bool write_all(int fd, const std::string& data);
// Reads up to `max` bytes, waiting at most `timeout_ms` for the first byte.
read_result read_some(int fd, std::size_t max, int timeout_ms);
// Reads until EOF or an error, keeping at most `max_total` bytes.
read_result read_to_end(int fd, std::size_t max_total, int timeout_ms);
// The segment sizes the kernel's TCP saw on a connection (TCP_INFO): the
// largest segment received from the peer and its own send MSS.
struct tcp_mss {
    unsigned rcv = 0, snd = 0;
};
tcp_mss mss_of(int fd);
// Segments the kernel's TCP retransmitted on a connection (TCP_INFO).
unsigned retransmits_of(int fd);
// The kernel's view of a TCP connection in one line (TCP_INFO): state,
// retransmission timeout and backoff, segments in flight, lost and
// retransmitted, congestion window, and how long ago data last moved —
// what a test prints when a transfer stops making progress.
std::string tcp_state_of(int fd);
// The kernel has dropped the connection (TCP_INFO state CLOSE): a reset it
// accepted, before anything is read or sent on the socket.
bool tcp_reset_seen(int fd);
// Bytes that arrived on a TCP socket and are not read yet (SIOCINQ); -1 on
// failure.  What a test waits for when data must pile up at the kernel.
long unread_bytes(int fd);
// Closes with SO_LINGER {1, 0}: the kernel sends RST.
void reset(int fd);
void shutdown_send(int fd);
// shutdown(SHUT_RDWR): threads blocked on `fd` wake up (end of stream,
// EPIPE); the descriptor stays open.
void shutdown_both(int fd);
void close_fd(int fd);

struct datagram {
    bool ok = false;
    std::string data;
    std::string from_ip;
    std::uint16_t from_port = 0;
};
int udp_socket(const char* ip, std::uint16_t port);  // bound; -1 on failure
bool udp_send(int fd, const char* ip, std::uint16_t port, const std::string& data);
datagram udp_recv(int fd, int timeout_ms);

// A TAP device opened as a plain reader would (IFF_TAP | IFF_NO_PI, no
// virtio-net header, offloads untouched): -1 on failure.  read_frame
// returns one frame, or nothing after `timeout_ms`.
int open_plain_tap(const char* name);
// Leaves `vnet_hdr_size`-byte virtio-net headers configured on a device, as
// a virtual machine monitor would (then closes it); false on failure.
bool leave_vnet_header_size(const char* name, int vnet_hdr_size);
std::vector<std::uint8_t> read_frame(int fd, int timeout_ms);

// Raises RLIMIT_NOFILE to at least n (for tests with many connections).
bool raise_fd_limit(std::size_t n);
std::string error_name(int err);  // "ECONNRESET (Connection reset by peer)"

}  // namespace kernel_peer
