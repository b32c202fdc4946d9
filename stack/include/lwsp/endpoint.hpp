// lwsp/endpoint.hpp — what TCP and UDP endpoints share: socket addresses and
// the event sink through which an endpoint reports that something changed.
//
// Endpoints are the stack's socket objects over lwIP's raw API.  They never
// block: every operation completes, fails, or reports would_block, and the
// endpoint tells its sink when readiness changes.  Blocking, timeouts and
// linger waits belong to the caller (the WSP shim).  Every member function of
// an endpoint must be called with the stack's core lock held; the sink is
// called under that lock too and must not block or take another lock that a
// core-lock holder may wait for.
#pragma once

#include <array>
#include <cstdint>

#include "lwsp/address.hpp"
#include "lwsp/net_error.hpp"

namespace lwsp {

struct sock_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> ip{};  // IPv4 in the first four bytes
    std::uint16_t port = 0;             // host byte order
    std::uint32_t scope_id = 0;         // IPv6 only

    static sock_address v4(const ipv4_address& a, std::uint16_t port);
    static sock_address v6addr(const ipv6_address& a, std::uint16_t port);
    static sock_address any(bool v6, std::uint16_t port = 0);
    bool is_any_ip() const;
    bool operator==(const sock_address& o) const { return v6 == o.v6 && ip == o.ip && port == o.port; }
};

// What changed on an endpoint.  These map one to one onto Winsock's FD_*
// network events.
enum class endpoint_event : unsigned {
    readable = 1u << 0,  // data, EOF or an error is waiting
    writable = 1u << 1,  // send space opened up (or the connect completed)
    accept = 1u << 3,    // a connection is waiting to be accepted
    connect = 1u << 4,   // a connect finished (the error says how)
    close = 1u << 5,     // the connection ended (error 0: graceful)
};

class endpoint_sink {
public:
    // `err` is meaningful for connect (ok or why it failed) and close (ok for
    // the peer's FIN, or the reset/abort reason).
    virtual void on_endpoint_event(endpoint_event ev, net_error err) = 0;

protected:
    ~endpoint_sink() = default;
};

}  // namespace lwsp
