// lwsp_firmware — lwsp on a bare-metal Cortex-M4 board (Arm MPS2 AN386, as
// QEMU's mps2-an386 emulates it), networking through the Winsock SPI only:
// every socket call goes through the WSPPROC_TABLE that WSPStartup returns.
//
// The board (board/): console on UART0, a 1 kHz SysTick clock, WFI when idle.
// The network: the LAN9118 port (ports/lan9118), MAC 02:4c:57:53:50:01,
// 192.0.2.1/24 and 2001:db8::1; the peer is the Linux kernel at 192.0.2.2 /
// 2001:db8::2 on a TAP device (README.md).
//
// Services, all in one single-threaded select loop (WSPSelect with a
// timeout; the stack runs its poll loop inside it):
//   TCP echo, port 7, IPv4 and IPv6: non-blocking sockets, several
//     connections at once; what a connection sends comes back, bytes the
//     peer cannot take yet wait in the connection's buffer (and reading
//     stops while it is full); the peer's FIN is answered, after the last
//     echoed byte, by a graceful close.
//   UDP echo, port 7, IPv4 and IPv6: each datagram back to its sender.
//   Control, TCP port 9000 (IPv4): one command per line, one reply line
//     each; the commands are blocking WSP client calls against the kernel
//     at 192.0.2.2 (show the close table on the wire):
//       graceful PORT BYTES   connect, send BYTES bytes of the pattern
//                             byte[i] = i % 251, default close (FIN)    -> OK
//       abort PORT BYTES      the same, then SO_LINGER {1, 0}: RST       -> OK
//       linger PORT SECONDS   connect, fill the pipe without blocking (the
//                             peer does not read: send until WSAEWOULDBLOCK
//                             lasts 300 ms), SO_LINGER {1, SECONDS},
//                             blocking close: RST at the deadline
//                             -> OK <close return> <lpErrno> <elapsed ms>
//       connect PORT          connect where nobody listens -> ERR 10061 (or OK)
//       udp PORT TEXT         send TEXT to 192.0.2.2:PORT                -> OK
//       stats                 the LAN9118's counters                    -> OK ...
//     A failure replies ERR <lpErrno>.  Every command and its reply is
//     printed on the console too.
// ICMP echo (ping) is lwIP's own.
//
// The console shows boot lines, then "lwsp-firmware: ready" once the
// stack is up and every server listens.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "board.h"
#include "lwsp/lan9118.h"
#include "lwsp/lwsp.h"

namespace {

constexpr unsigned char k_mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};
constexpr std::uint32_t k_peer_ipv4 = 0xc0000202u;  // 192.0.2.2
constexpr unsigned short k_echo_port = 7;
constexpr unsigned short k_control_port = 9000;
constexpr int k_max_echo = 12;  // echo connections at once
constexpr std::size_t k_echo_buffer = 8192;
constexpr int k_max_control = 2;  // control connections at once
constexpr std::size_t k_line_max = 256;

lwsp_lan9118 eth;
WSPPROC_TABLE wsp;

std::uint16_t net16(std::uint16_t v) { return static_cast<std::uint16_t>((v >> 8) | (v << 8)); }
std::uint32_t net32(std::uint32_t v) { return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24); }

// ---- Board glue -----------------------------------------------------------

// Randomness for the stack's secrets (initial sequence numbers).  The MPS2
// has no random number generator, so this mixes what varies from boot to
// boot: the LAN9118's free-running 25 MHz counter (FREE_RUN, offset 0x9c),
// SysTick's current count and the clock.  Not cryptographic: a real board
// reads its TRNG here.
void fill_random(void* buf, std::size_t len) {
    auto* out = static_cast<unsigned char*>(buf);
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < len; ++i) {
        if (i % 8 == 0) {
            const std::uint32_t free_run = *reinterpret_cast<volatile std::uint32_t*>(BOARD_LAN9118_BASE + 0x9cu);
            const std::uint32_t systick = *reinterpret_cast<volatile std::uint32_t*>(0xE000E018u);
            x += (static_cast<std::uint64_t>(free_run) << 32 | systick) + board_millis() + 0x9e3779b97f4a7c15ull;
            // splitmix64's finaliser
            x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
            x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
            x ^= x >> 31;
        }
        out[i] = static_cast<unsigned char>(x >> (8 * (i % 8)));
    }
}

// ---- Small helpers over the WSP table --------------------------------------

int set_nonblocking(SOCKET s, bool on, int& err) {
    u_long v = on ? 1 : 0;
    DWORD ret = 0;
    return wsp.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err);
}

void close_socket(SOCKET s) {
    int err = 0;
    wsp.lpWSPCloseSocket(s, &err);
}

int send_some(SOCKET s, const void* data, std::size_t len, DWORD& sent, int& err) {
    WSABUF b{static_cast<u_long>(len), static_cast<char*>(const_cast<void*>(data))};
    sent = 0;
    return wsp.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err);
}

int recv_some(SOCKET s, void* data, std::size_t len, DWORD& got, int& err) {
    WSABUF b{static_cast<u_long>(len), static_cast<char*>(data)};
    DWORD flags = 0;
    got = 0;
    return wsp.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err);
}

// "192.0.2.2:5000" or "[2001:db8:0:0:0:0:0:2]:5000"
void address_text(const SOCKADDR_STORAGE& a, char* out, std::size_t size) {
    if (a.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(a);
        const std::uint32_t ip = net32(in.sin_addr.s_addr);
        std::snprintf(out, size, "%lu.%lu.%lu.%lu:%u", (unsigned long)(ip >> 24), (unsigned long)(ip >> 16 & 255),
                      (unsigned long)(ip >> 8 & 255), (unsigned long)(ip & 255), net16(in.sin_port));
    } else if (a.ss_family == AF_INET6) {
        const auto& in = reinterpret_cast<const sockaddr_in6&>(a);
        const unsigned char* b = in.sin6_addr.s6_addr;
        std::size_t n = std::snprintf(out, size, "[");
        for (std::size_t i = 0; i < 8 && n < size; ++i) {
            n += std::snprintf(out + n, size - n, i ? ":%x" : "%x", (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
        }
        if (n < size) std::snprintf(out + n, size - n, "]:%u", net16(in.sin6_port));
    } else {
        std::snprintf(out, size, "?");
    }
}

sockaddr_in peer_v4(unsigned short port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = net16(port);
    to.sin_addr.s_addr = net32(k_peer_ipv4);
    return to;
}

// A non-blocking socket bound to the wildcard address of `af` on `port`;
// listening if it is a stream socket.
SOCKET open_server(int af, int type, unsigned short port) {
    int err = 0;
    const int proto = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    SOCKET s = wsp.lpWSPSocket(af, type, proto, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) {
        std::printf("lwsp-firmware: WSPSocket: %d\n", err);
        return INVALID_SOCKET;
    }
    SOCKADDR_STORAGE addr{};
    int len = 0;
    if (af == AF_INET) {
        auto& in = reinterpret_cast<sockaddr_in&>(addr);
        in.sin_family = AF_INET;
        in.sin_port = net16(port);
        len = sizeof in;
    } else {
        auto& in = reinterpret_cast<sockaddr_in6&>(addr);
        in.sin6_family = AF_INET6;
        in.sin6_port = net16(port);
        len = sizeof in;
    }
    if (wsp.lpWSPBind(s, reinterpret_cast<sockaddr*>(&addr), len, &err) == SOCKET_ERROR ||
        (type == SOCK_STREAM && wsp.lpWSPListen(s, 8, &err) == SOCKET_ERROR) ||
        set_nonblocking(s, true, err) == SOCKET_ERROR) {
        std::printf("lwsp-firmware: %s %s port %u: error %d\n", af == AF_INET ? "IPv4" : "IPv6",
                    type == SOCK_STREAM ? "TCP" : "UDP", port, err);
        close_socket(s);
        return INVALID_SOCKET;
    }
    return s;
}

// ---- TCP echo ---------------------------------------------------------------

struct echo_conn {
    SOCKET s = INVALID_SOCKET;
    bool peer_closed = false;  // the peer's FIN arrived: close once drained
    std::size_t head = 0;      // bytes [head, tail) wait to be sent back
    std::size_t tail = 0;
    unsigned long echoed = 0;
    char peer[56] = {};
    unsigned char buf[k_echo_buffer];
};

echo_conn echo_conns[k_max_echo];

void echo_finish(echo_conn& c, const char* why) {
    close_socket(c.s);  // default close: what is queued, then FIN
    std::printf("echo: %s %s, %lu bytes echoed\n", c.peer, why, c.echoed);
    c.s = INVALID_SOCKET;
}

// Sends what waits; false if the connection failed (and was closed).
bool echo_flush(echo_conn& c) {
    while (c.head < c.tail) {
        DWORD sent = 0;
        int err = 0;
        if (send_some(c.s, c.buf + c.head, c.tail - c.head, sent, err) == SOCKET_ERROR) {
            if (err == WSAEWOULDBLOCK) return true;
            char why[32];
            std::snprintf(why, sizeof why, "send error %d", err);
            echo_finish(c, why);
            return false;
        }
        c.head += sent;
        c.echoed += sent;
    }
    c.head = c.tail = 0;
    if (c.peer_closed) {
        echo_finish(c, "closed by the peer");
        return false;
    }
    return true;
}

void echo_readable(echo_conn& c) {
    if (c.tail == sizeof c.buf && c.head > 0) {
        std::memmove(c.buf, c.buf + c.head, c.tail - c.head);
        c.tail -= c.head;
        c.head = 0;
    }
    if (c.tail == sizeof c.buf) return;
    DWORD got = 0;
    int err = 0;
    if (recv_some(c.s, c.buf + c.tail, sizeof c.buf - c.tail, got, err) == SOCKET_ERROR) {
        if (err == WSAEWOULDBLOCK) return;
        char why[32];
        std::snprintf(why, sizeof why, "receive error %d", err);
        echo_finish(c, why);
        return;
    }
    if (got == 0) c.peer_closed = true;
    c.tail += got;
    echo_flush(c);  // at once: most of the time the peer can take it
}

void echo_accept(SOCKET listener) {
    for (;;) {
        SOCKADDR_STORAGE peer{};
        int peer_len = sizeof peer;
        int err = 0;
        SOCKET s = wsp.lpWSPAccept(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len, nullptr, 0, &err);
        if (s == INVALID_SOCKET) {
            if (err != WSAEWOULDBLOCK) std::printf("echo: WSPAccept: error %d\n", err);
            return;
        }
        echo_conn* slot = nullptr;
        for (auto& c : echo_conns) {
            if (c.s == INVALID_SOCKET) {
                slot = &c;
                break;
            }
        }
        char text[56];
        address_text(peer, text, sizeof text);
        if (slot == nullptr || set_nonblocking(s, true, err) == SOCKET_ERROR) {
            std::printf("echo: %s refused (%s)\n", text, slot == nullptr ? "all connections busy" : "FIONBIO failed");
            close_socket(s);
            continue;
        }
        slot->s = s;
        slot->peer_closed = false;
        slot->head = slot->tail = 0;
        slot->echoed = 0;
        std::memcpy(slot->peer, text, sizeof text);
        std::printf("echo: %s connected\n", slot->peer);
    }
}

// ---- UDP echo ---------------------------------------------------------------

void udp_echo(SOCKET s) {
    static char datagram[2048];
    for (;;) {
        SOCKADDR_STORAGE from{};
        int from_len = sizeof from;
        WSABUF b{sizeof datagram, datagram};
        DWORD got = 0, flags = 0;
        int err = 0;
        if (wsp.lpWSPRecvFrom(s, &b, 1, &got, &flags, reinterpret_cast<sockaddr*>(&from), &from_len, nullptr, nullptr,
                              nullptr, &err) == SOCKET_ERROR) {
            if (err == WSAEWOULDBLOCK) return;
            if (err != WSAEMSGSIZE && err != WSAECONNRESET) {
                std::printf("udp echo: WSPRecvFrom: error %d\n", err);
                return;
            }
            continue;  // too large for the buffer, or an ICMP error: drop
        }
        b.len = got;
        DWORD sent = 0;
        if (wsp.lpWSPSendTo(s, &b, 1, &sent, 0, reinterpret_cast<sockaddr*>(&from), from_len, nullptr, nullptr, nullptr,
                            &err) == SOCKET_ERROR) {
            std::printf("udp echo: WSPSendTo: error %d\n", err);
        }
    }
}

// ---- Control: blocking client calls against the kernel ---------------------

// Fills `buf` with the pattern byte[i] = i % 251 from stream offset `offset`.
void pattern(unsigned char* buf, std::size_t len, unsigned long offset) {
    unsigned v = static_cast<unsigned>(offset % 251u);
    for (std::size_t i = 0; i < len; ++i) {
        buf[i] = static_cast<unsigned char>(v);
        if (++v == 251u) v = 0;
    }
}

// A blocking TCP connection to 192.0.2.2:port, or INVALID_SOCKET with `err`.
SOCKET client_connect(unsigned short port, int& err) {
    SOCKET s = wsp.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) return INVALID_SOCKET;
    const sockaddr_in to = peer_v4(port);
    if (wsp.lpWSPConnect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr, nullptr,
                         &err) == SOCKET_ERROR) {
        close_socket(s);
        return INVALID_SOCKET;
    }
    return s;
}

// Sends `bytes` bytes of the pattern on a blocking socket.
bool send_pattern(SOCKET s, unsigned long bytes, int& err) {
    static unsigned char chunk[4096];
    for (unsigned long done = 0; done < bytes;) {
        const std::size_t n = bytes - done < sizeof chunk ? bytes - done : sizeof chunk;
        pattern(chunk, n, done);
        DWORD sent = 0;
        if (send_some(s, chunk, n, sent, err) == SOCKET_ERROR) return false;
        done += sent;
    }
    return true;
}

// "graceful"/"abort": connect, send, close with FIN or (linger 0) RST.
void cmd_send_and_close(bool abortive, unsigned short port, unsigned long bytes, char* reply, std::size_t size) {
    int err = 0;
    SOCKET s = client_connect(port, err);
    if (s == INVALID_SOCKET || !send_pattern(s, bytes, err)) {
        if (s != INVALID_SOCKET) close_socket(s);
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    if (abortive) {
        const struct linger l { 1, 0 };
        if (wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) ==
            SOCKET_ERROR) {
            close_socket(s);
            std::snprintf(reply, size, "ERR %d", err);
            return;
        }
    }
    if (wsp.lpWSPCloseSocket(s, &err) == SOCKET_ERROR) {
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    std::snprintf(reply, size, "OK");
}

// "linger": the pipe full, then a blocking close with SO_LINGER {1, seconds}.
void cmd_linger(unsigned short port, unsigned seconds, char* reply, std::size_t size) {
    int err = 0;
    SOCKET s = client_connect(port, err);
    if (s == INVALID_SOCKET || set_nonblocking(s, true, err) == SOCKET_ERROR) {
        if (s != INVALID_SOCKET) close_socket(s);
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    // Fill: send until WSAEWOULDBLOCK; the pipe is full once the socket
    // stays unwritable for a while (the peer's window closed and our send
    // buffer full), not at the first WSAEWOULDBLOCK (the peer may still be
    // acknowledging into its buffer).  Bounded, should the peer read.
    static unsigned char chunk[1460];
    unsigned long queued = 0;
    const unsigned long long fill_deadline = board_millis() + 10000;
    while (board_millis() < fill_deadline) {
        pattern(chunk, sizeof chunk, queued);
        DWORD sent = 0;
        if (send_some(s, chunk, sizeof chunk, sent, err) == SOCKET_ERROR) {
            if (err != WSAEWOULDBLOCK) break;
            fd_set w;
            FD_ZERO(&w);
            FD_SET(s, &w);
            timeval tv{};
            tv.tv_usec = 300000;
            const int n = wsp.lpWSPSelect(0, nullptr, &w, nullptr, &tv, &err);
            if (n == SOCKET_ERROR) break;
            if (n == 0) {
                err = WSAEWOULDBLOCK;
                break;
            }
            continue;
        }
        queued += sent;
    }
    if (err != WSAEWOULDBLOCK) {
        close_socket(s);
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    std::printf("ctl: linger: %lu bytes sent, the pipe is full\n", queued);
    const struct linger l { 1, static_cast<u_short>(seconds) };
    if (set_nonblocking(s, false, err) == SOCKET_ERROR ||
        wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) ==
            SOCKET_ERROR) {
        close_socket(s);
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    err = 0;
    const unsigned long long t0 = board_millis();
    const int rc = wsp.lpWSPCloseSocket(s, &err);
    const unsigned long elapsed = static_cast<unsigned long>(board_millis() - t0);
    std::snprintf(reply, size, "OK %d %d %lu", rc, err, elapsed);
}

void cmd_connect(unsigned short port, char* reply, std::size_t size) {
    int err = 0;
    SOCKET s = client_connect(port, err);
    if (s == INVALID_SOCKET) {
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    close_socket(s);
    std::snprintf(reply, size, "OK");
}

void cmd_udp(unsigned short port, const char* text, char* reply, std::size_t size) {
    int err = 0;
    SOCKET s = wsp.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
    if (s == INVALID_SOCKET) {
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    const sockaddr_in to = peer_v4(port);
    WSABUF b{static_cast<u_long>(std::strlen(text)), const_cast<char*>(text)};
    DWORD sent = 0;
    const int rc = wsp.lpWSPSendTo(s, &b, 1, &sent, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to, nullptr,
                                   nullptr, nullptr, &err);
    close_socket(s);
    if (rc == SOCKET_ERROR) {
        std::snprintf(reply, size, "ERR %d", err);
    } else {
        std::snprintf(reply, size, "OK");
    }
}

void cmd_stats(char* reply, std::size_t size) {
    const lwsp_lan9118_stats st = lwsp_lan9118_get_stats(&eth);
    std::snprintf(reply, size,
                  "OK rx_frames %lu rx_bytes %lu rx_errors %lu rx_oversize %lu tx_frames %lu tx_bytes %lu "
                  "tx_dropped %lu tx_errors %lu link_changes %lu",
                  st.rx_frames, st.rx_bytes, st.rx_errors, st.rx_oversize, st.tx_frames, st.tx_bytes, st.tx_dropped,
                  st.tx_errors, st.link_changes);
}

bool parse_ulong(const char*& p, unsigned long max, unsigned long& out) {
    while (*p == ' ') ++p;
    if (*p < '0' || *p > '9') return false;
    unsigned long v = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        v = v * 10 + static_cast<unsigned long>(*p - '0');
        if (v > max) return false;
    }
    out = v;
    return *p == ' ' || *p == '\0';
}

// Runs one command line; the reply (without newline) goes to `reply`.
void run_command(const char* line, char* reply, std::size_t size) {
    char word[16] = {};
    std::size_t n = 0;
    const char* p = line;
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0' && n + 1 < sizeof word) word[n++] = *p++;
    unsigned long port = 0, arg = 0;
    if (std::strcmp(word, "stats") == 0) {
        cmd_stats(reply, size);
        return;
    }
    bool usage = !parse_ulong(p, 65535, port) || port == 0;
    const auto port16 = static_cast<unsigned short>(port);
    if (usage) {
        // reported below
    } else if (std::strcmp(word, "graceful") == 0 || std::strcmp(word, "abort") == 0) {
        usage = !parse_ulong(p, 0x7fffffffUL, arg);
        if (!usage) cmd_send_and_close(word[0] == 'a', port16, arg, reply, size);
    } else if (std::strcmp(word, "linger") == 0) {
        usage = !parse_ulong(p, 65535, arg);
        if (!usage) cmd_linger(port16, static_cast<unsigned>(arg), reply, size);
    } else if (std::strcmp(word, "connect") == 0) {
        cmd_connect(port16, reply, size);
    } else if (std::strcmp(word, "udp") == 0) {
        if (*p == ' ') ++p;
        cmd_udp(port16, p, reply, size);
    } else {
        usage = true;
    }
    if (usage) std::snprintf(reply, size, "ERR usage");
}

struct control_conn {
    SOCKET s = INVALID_SOCKET;
    std::size_t len = 0;
    char line[k_line_max];
};

control_conn control_conns[k_max_control];

// Sends a whole reply on a non-blocking control socket (it is short: the
// send buffer takes it unless the peer stopped reading long ago).
bool control_reply(SOCKET s, const char* text) {
    std::size_t len = std::strlen(text), done = 0;
    while (done < len) {
        DWORD sent = 0;
        int err = 0;
        if (send_some(s, text + done, len - done, sent, err) == SOCKET_ERROR) {
            if (err != WSAEWOULDBLOCK) return false;
            fd_set w;
            FD_ZERO(&w);
            FD_SET(s, &w);
            timeval tv{};
            tv.tv_sec = 1;
            wsp.lpWSPSelect(0, nullptr, &w, nullptr, &tv, &err);
            continue;
        }
        done += sent;
    }
    return true;
}

void control_readable(control_conn& c) {
    char chunk[128];
    DWORD got = 0;
    int err = 0;
    if (recv_some(c.s, chunk, sizeof chunk, got, err) == SOCKET_ERROR && err == WSAEWOULDBLOCK) return;
    if (got == 0) {  // end of stream, or an error
        close_socket(c.s);
        c.s = INVALID_SOCKET;
        return;
    }
    for (DWORD i = 0; i < got; ++i) {
        const char ch = chunk[i];
        if (ch == '\r') continue;
        if (ch != '\n') {
            if (c.len + 1 < sizeof c.line) c.line[c.len] = ch;
            ++c.len;
            continue;
        }
        char reply[320];
        const std::size_t room = sizeof reply - 1;  // for the newline
        if (c.len >= sizeof c.line) {
            std::snprintf(reply, room, "ERR line too long");
            std::printf("ctl: (line too long) -> %s\n", reply);
        } else {
            c.line[c.len] = '\0';
            std::printf("ctl: %s\n", c.line);
            run_command(c.line, reply, room);
            std::printf("ctl: %s -> %s\n", c.line, reply);
        }
        c.len = 0;
        std::strcat(reply, "\n");
        if (!control_reply(c.s, reply)) {
            close_socket(c.s);
            c.s = INVALID_SOCKET;
            return;
        }
    }
}

void control_accept(SOCKET listener) {
    for (;;) {
        int err = 0;
        SOCKET s = wsp.lpWSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
        if (s == INVALID_SOCKET) return;
        control_conn* slot = nullptr;
        for (auto& c : control_conns) {
            if (c.s == INVALID_SOCKET) {
                slot = &c;
                break;
            }
        }
        if (slot == nullptr || set_nonblocking(s, true, err) == SOCKET_ERROR) {
            control_reply(s, "ERR busy\n");
            close_socket(s);
            continue;
        }
        slot->s = s;
        slot->len = 0;
    }
}

// ---- Bring-up and the loop ---------------------------------------------------

[[noreturn]] void fail(const char* what) { board_halt(what); }

}  // namespace

// LAN9118 interrupt (external 13): mask it until the stack polls the
// controller, and wake the main loop.
extern "C" void ETHERNET_IRQHandler() {
    lwsp_lan9118_isr(&eth);
    board_wake();
}

int main() {
    board_init();
#if defined(__ARM_ARCH_7EM__)
    const char* board = "MPS2 AN386 (Cortex-M4";
#else
    const char* board = "MPS2 AN385 (Cortex-M3";
#endif
    std::printf("lwsp-firmware: %s, %lu MHz), lwsp on lwIP, WSP calls only\n", board,
                static_cast<unsigned long>(BOARD_CPU_HZ / 1000000u));

    // The stack: the board's clock, its idle (WFI), its noise.
    lwsp_set_clock(board_millis);
    lwsp_set_idle(board_idle);
    lwsp_set_random(fill_random);
    if (lwsp_start(nullptr) != 0) fail("lwsp_start failed");

    // The LAN9118, attached as 192.0.2.1/24 and 2001:db8::1.
    if (lwsp_lan9118_init(&eth, BOARD_LAN9118_BASE, k_mac) != 0) fail("no LAN9118 at 0x40200000");
    std::printf("lwsp-firmware: LAN9118 ID_REV 0x%08lx, MAC %02x:%02x:%02x:%02x:%02x:%02x\n",
                static_cast<unsigned long>(lwsp_lan9118_id_rev(&eth)), k_mac[0], k_mac[1], k_mac[2], k_mac[3], k_mac[4],
                k_mac[5]);
    lwsp_link* link = lwsp_lan9118_link(&eth);
    if (link == nullptr) fail("lwsp_lan9118_link: out of memory");
    lwsp_interface_config cfg{};
    cfg.ipv4_address = "192.0.2.1";
    cfg.ipv4_netmask = "255.255.255.0";
    cfg.ipv6_address = "2001:db8::1";
    cfg.default_route = 1;
    char error[96] = {};
    if (lwsp_attach(link, &cfg, error, sizeof error) < 0) fail(error);
    lwsp_link_release(link);
    lwsp_lan9118_enable_irq(&eth);
    board_enable_irq(BOARD_LAN9118_IRQ);
    std::printf("lwsp-firmware: 192.0.2.1/24, 2001:db8::1, MTU 1500\n");

    // The provider, as ws2 would load it.
    WSPDATA data{};
    WSPUPCALLTABLE upcalls{};
    if (WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp) != 0) fail("WSPStartup failed");

    const SOCKET tcp4 = open_server(AF_INET, SOCK_STREAM, k_echo_port);
    const SOCKET tcp6 = open_server(AF_INET6, SOCK_STREAM, k_echo_port);
    const SOCKET udp4 = open_server(AF_INET, SOCK_DGRAM, k_echo_port);
    const SOCKET udp6 = open_server(AF_INET6, SOCK_DGRAM, k_echo_port);
    const SOCKET control = open_server(AF_INET, SOCK_STREAM, k_control_port);
    if (tcp4 == INVALID_SOCKET || tcp6 == INVALID_SOCKET || udp4 == INVALID_SOCKET || udp6 == INVALID_SOCKET ||
        control == INVALID_SOCKET) {
        fail("servers did not start");
    }
    std::printf("lwsp-firmware: TCP and UDP echo on port %u (IPv4, IPv6), control on TCP port %u\n", k_echo_port,
                k_control_port);
    std::printf("lwsp-firmware: ready\n");

    for (;;) {
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_SET(tcp4, &r);
        FD_SET(tcp6, &r);
        FD_SET(udp4, &r);
        FD_SET(udp6, &r);
        FD_SET(control, &r);
        for (auto& c : echo_conns) {
            if (c.s == INVALID_SOCKET) continue;
            if (!c.peer_closed && !(c.tail == sizeof c.buf && c.head == 0)) FD_SET(c.s, &r);
            if (c.head < c.tail) FD_SET(c.s, &w);
        }
        for (auto& c : control_conns) {
            if (c.s != INVALID_SOCKET) FD_SET(c.s, &r);
        }
        timeval tv{};
        tv.tv_sec = 1;
        int err = 0;
        const int n = wsp.lpWSPSelect(0, &r, &w, nullptr, &tv, &err);
        if (n == SOCKET_ERROR) {
            std::printf("lwsp-firmware: WSPSelect: error %d\n", err);
            continue;
        }
        if (n == 0) continue;
        if (FD_ISSET(tcp4, &r)) echo_accept(tcp4);
        if (FD_ISSET(tcp6, &r)) echo_accept(tcp6);
        if (FD_ISSET(udp4, &r)) udp_echo(udp4);
        if (FD_ISSET(udp6, &r)) udp_echo(udp6);
        for (auto& c : echo_conns) {
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &w) && !echo_flush(c)) continue;
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &r)) echo_readable(c);
        }
        for (auto& c : control_conns) {
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &r)) control_readable(c);
        }
        if (FD_ISSET(control, &r)) control_accept(control);
    }
}
