// raw_echo.hpp — a TCP echo server and a recording client written directly
// on lwIP's raw API, for tests of the stack core (below the WSP shim).
// All functions must be called with the stack's core lock held; the state
// they record is read under the same lock.
#pragma once

#include "lwsp/platform.hpp"
#include <cstdint>
#include <string>
#include <vector>

struct tcp_pcb;
struct pbuf;
struct udp_pcb;

namespace lwsp::test {

// Listens on `port` (any address, IPv4 and IPv6) and echoes every byte.
struct raw_echo_server {
    struct tcp_pcb* listener = nullptr;
    struct tcp_pcb* conn = nullptr;  // the last accepted connection
    std::size_t accepted = 0;
    std::size_t echoed = 0;
    bool peer_closed = false;
    lwsp::platform::condvar* notify = nullptr;  // optional: notified on every event

    bool listen(std::uint16_t port);
    void close_listener();
};

// Connects to an address and records what it receives.
struct raw_client {
    struct tcp_pcb* pcb = nullptr;
    bool connected = false;
    bool closed_by_peer = false;
    int error = 0;  // lwIP err_t from the err callback, 0 if none
    std::string received;
    lwsp::platform::condvar* notify = nullptr;

    bool connect(const char* ip, std::uint16_t port);
    bool send(const std::string& data);
    void close();  // tcp_close with callbacks cleared
};

// Direct raw-API operations on a pcb, so tests need no lwIP header (lwIP's
// global `ip_addr` and `tcp_rst` names collide with the packet library's).
void raw_detach(struct tcp_pcb* pcb);                          // clear arg and callbacks
int raw_close(struct tcp_pcb* pcb);                            // tcp_close; returns err_t
void raw_abort(struct tcp_pcb* pcb);                           // tcp_abort
bool raw_write(struct tcp_pcb* pcb, const std::string& data);  // tcp_write + tcp_output
int raw_rto_ms(struct tcp_pcb* pcb);                           // current RTO in ms
int raw_slow_timer_ms();                                       // lwIP's TCP slow-timer period

// Listens on `port` and keeps whatever its connections receive, unread (no
// tcp_recved): nothing the application does provokes an ACK.
struct raw_holding_server {
    struct tcp_pcb* listener = nullptr;
    std::size_t bytes = 0;  // received and held

    bool listen(std::uint16_t port);  // any address, IPv4 and IPv6
    void release();                   // frees what it held

private:
    std::vector<struct pbuf*> held_;
    static signed char on_accept(void* arg, struct tcp_pcb* c, signed char err);
    static signed char on_recv(void* arg, struct tcp_pcb* c, struct pbuf* p, signed char err);
};

// Counts the datagrams a UDP port receives.
struct raw_udp_counter {
    struct udp_pcb* pcb = nullptr;
    std::size_t datagrams = 0;

    bool bind(std::uint16_t port);
    void close();
};

}  // namespace lwsp::test
