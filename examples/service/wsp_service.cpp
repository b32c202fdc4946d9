// The WSP service (wsp_service.hpp): TCP and UDP echo, and a control port
// whose commands are blocking WSP client calls.  Moved here unchanged from
// the firmware (examples/firmware/main.cpp), which is now board glue around
// it; only the console, the clock and the port's counters come through
// hooks.
#include "wsp_service.hpp"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace wsp_service {
namespace {

constexpr std::uint32_t k_peer_ipv4 = 0xc0000202u;  // 192.0.2.2
constexpr unsigned short k_echo_port = 7;
constexpr unsigned short k_control_port = 9000;
constexpr int k_max_echo = 12;  // echo connections at once
constexpr std::size_t k_echo_buffer = 8192;
constexpr int k_max_control = 2;  // control connections at once
constexpr std::size_t k_line_max = 256;

WSPPROC_TABLE wsp;
hooks g_hooks;

std::uint16_t net16(std::uint16_t v) { return static_cast<std::uint16_t>((v >> 8) | (v << 8)); }
std::uint32_t net32(std::uint32_t v) { return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24); }

// One console line (or more), through the print hook.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void say(const char* format, ...) {
    char line[400];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (g_hooks.print != nullptr) g_hooks.print(line);
}

unsigned long long now_ms() { return g_hooks.millis != nullptr ? g_hooks.millis() : 0; }

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
        say("%s: WSPSocket: %d\n", g_hooks.name, err);
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
        say("%s: %s %s port %u: error %d\n", g_hooks.name, af == AF_INET ? "IPv4" : "IPv6",
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
    say("echo: %s %s, %lu bytes echoed\n", c.peer, why, c.echoed);
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
            if (err != WSAEWOULDBLOCK) say("echo: WSPAccept: error %d\n", err);
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
            say("echo: %s refused (%s)\n", text, slot == nullptr ? "all connections busy" : "FIONBIO failed");
            close_socket(s);
            continue;
        }
        slot->s = s;
        slot->peer_closed = false;
        slot->head = slot->tail = 0;
        slot->echoed = 0;
        std::memcpy(slot->peer, text, sizeof text);
        say("echo: %s connected\n", slot->peer);
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
                say("udp echo: WSPRecvFrom: error %d\n", err);
                return;
            }
            continue;  // too large for the buffer, or an ICMP error: drop
        }
        b.len = got;
        DWORD sent = 0;
        if (wsp.lpWSPSendTo(s, &b, 1, &sent, 0, reinterpret_cast<sockaddr*>(&from), from_len, nullptr, nullptr, nullptr,
                            &err) == SOCKET_ERROR) {
            say("udp echo: WSPSendTo: error %d\n", err);
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
    const unsigned long long fill_deadline = now_ms() + 10000;
    while (now_ms() < fill_deadline) {
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
    say("ctl: linger: %lu bytes sent, the pipe is full\n", queued);
    const struct linger l { 1, static_cast<u_short>(seconds) };
    if (set_nonblocking(s, false, err) == SOCKET_ERROR ||
        wsp.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) ==
            SOCKET_ERROR) {
        close_socket(s);
        std::snprintf(reply, size, "ERR %d", err);
        return;
    }
    err = 0;
    const unsigned long long t0 = now_ms();
    const int rc = wsp.lpWSPCloseSocket(s, &err);
    const unsigned long elapsed = static_cast<unsigned long>(now_ms() - t0);
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
    if (g_hooks.stats == nullptr) {
        std::snprintf(reply, size, "ERR unsupported");
        return;
    }
    char counters[288] = {};
    g_hooks.stats(counters, sizeof counters);
    std::snprintf(reply, size, "OK %s", counters);
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
            say("ctl: (line too long) -> %s\n", reply);
        } else {
            c.line[c.len] = '\0';
            say("ctl: %s\n", c.line);
            run_command(c.line, reply, room);
            say("ctl: %s -> %s\n", c.line, reply);
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

// ---- The loop ------------------------------------------------------------------

struct servers {
    SOCKET tcp4, tcp6, udp4, udp6, control;
};

void close_all(const servers& sv) {
    for (SOCKET s : {sv.tcp4, sv.tcp6, sv.udp4, sv.udp6, sv.control})
        if (s != INVALID_SOCKET) close_socket(s);
    for (auto& c : echo_conns) {
        if (c.s != INVALID_SOCKET) close_socket(c.s);
        c.s = INVALID_SOCKET;
    }
    for (auto& c : control_conns) {
        if (c.s != INVALID_SOCKET) close_socket(c.s);
        c.s = INVALID_SOCKET;
    }
}

}  // namespace

bool serve(const WSPPROC_TABLE& table, const hooks& h) {
    wsp = table;
    g_hooks = h;
    servers sv{};
    sv.tcp4 = open_server(AF_INET, SOCK_STREAM, k_echo_port);
    sv.tcp6 = open_server(AF_INET6, SOCK_STREAM, k_echo_port);
    sv.udp4 = open_server(AF_INET, SOCK_DGRAM, k_echo_port);
    sv.udp6 = open_server(AF_INET6, SOCK_DGRAM, k_echo_port);
    sv.control = open_server(AF_INET, SOCK_STREAM, k_control_port);
    if (sv.tcp4 == INVALID_SOCKET || sv.tcp6 == INVALID_SOCKET || sv.udp4 == INVALID_SOCKET ||
        sv.udp6 == INVALID_SOCKET || sv.control == INVALID_SOCKET) {
        close_all(sv);
        return false;
    }
    say("%s: TCP and UDP echo on port %u (IPv4, IPv6), control on TCP port %u\n", g_hooks.name, k_echo_port,
        k_control_port);
    say("%s: ready\n", g_hooks.name);

    while (g_hooks.keep_running == nullptr || g_hooks.keep_running()) {
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_SET(sv.tcp4, &r);
        FD_SET(sv.tcp6, &r);
        FD_SET(sv.udp4, &r);
        FD_SET(sv.udp6, &r);
        FD_SET(sv.control, &r);
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
            say("%s: WSPSelect: error %d\n", g_hooks.name, err);
            continue;
        }
        if (n == 0) continue;
        if (FD_ISSET(sv.tcp4, &r)) echo_accept(sv.tcp4);
        if (FD_ISSET(sv.tcp6, &r)) echo_accept(sv.tcp6);
        if (FD_ISSET(sv.udp4, &r)) udp_echo(sv.udp4);
        if (FD_ISSET(sv.udp6, &r)) udp_echo(sv.udp6);
        for (auto& c : echo_conns) {
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &w) && !echo_flush(c)) continue;
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &r)) echo_readable(c);
        }
        for (auto& c : control_conns) {
            if (c.s != INVALID_SOCKET && FD_ISSET(c.s, &r)) control_readable(c);
        }
        if (FD_ISSET(sv.control, &r)) control_accept(sv.control);
    }
    close_all(sv);
    return true;
}

}  // namespace wsp_service
