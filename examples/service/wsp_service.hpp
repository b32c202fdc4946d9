// examples/service/wsp_service.hpp — the WSP service the lwsp firmware and
// lwsp_tunnel_service run: servers and a control port built on the Winsock
// SPI alone (every socket call goes through the WSPPROC_TABLE that
// WSPStartup returned), portable to any target lwsp runs on — bare metal,
// Linux, Windows.  The program around it brings the stack up and supplies
// the hooks: where console lines go, a millisecond clock, the port's
// counters.
//
// Services, all in one single-threaded select loop (WSPSelect with a 1 s
// timeout; on bare metal the stack runs its poll loop inside it):
//   TCP echo, port 7, IPv4 and IPv6: non-blocking sockets, up to 12
//     connections at once; what a connection sends comes back, bytes the
//     peer cannot take yet wait in the connection's 8 KiB buffer (and
//     reading stops while it is full); the peer's FIN is answered, after
//     the last echoed byte, by a graceful close.
//   UDP echo, port 7, IPv4 and IPv6: each datagram back to its sender.
//   Control, TCP port 9000 (IPv4): one command per line, one reply line
//     each; the commands are blocking WSP client calls against the peer
//     at 192.0.2.2 (they show the close table on the wire):
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
//       stats                 the port's counters (hooks::stats)        -> OK ...
//     A failure replies ERR <lpErrno>.  Every command and its reply is
//     printed on the console too.
// ICMP echo (ping) is lwIP's own.
//
// The console shows "<name>: TCP and UDP echo on port 7 ..." and then
// "<name>: ready" once every server listens (test/firmware/fw_test.sh
// waits for that line).  The kernel-side tests: test/firmware/*.py.
#pragma once

#include <cstddef>

#include "lwsp/ws2spi.h"

namespace wsp_service {

struct hooks {
    // Prefix of the service's own console lines: "<name>: ready".
    const char* name = "lwsp-service";
    // Console output: each call is one whole line, '\n' included.
    void (*print)(const char* line) = nullptr;
    // A millisecond clock (monotonic): the linger command's timings.
    unsigned long long (*millis)() = nullptr;
    // The port's counters for the `stats` command, as "name value ..."
    // (the reply is "OK " and this text); null: `stats` replies
    // "ERR unsupported".
    void (*stats)(char* out, std::size_t size) = nullptr;
    // Checked once per turn of the loop (at least once a second); the loop
    // returns when it says false.  Null: serve forever.
    bool (*keep_running)() = nullptr;
};

// Opens the servers, says "<name>: ready" and serves until
// hooks.keep_running says false (true), or returns false at once, after
// printing why, when a server did not start.  `table` is copied.  One call
// at a time per process (the connections' buffers are static).
bool serve(const WSPPROC_TABLE& table, const hooks& h);

}  // namespace wsp_service
