// net_error -> WSAE*: the one place the shim turns the stack's errors into
// Winsock codes.  Every *lpErrno the provider writes for a network condition
// comes from here (argument errors such as WSAEFAULT are the callers' own).
#include "error_table.hpp"

namespace lwsp::wsp {

int to_wsa(net_error e) {
    switch (e) {
        case net_error::ok: return 0;
        case net_error::would_block:
        case net_error::in_progress: return WSAEWOULDBLOCK;  // in_progress: a nonblocking connect under way
        case net_error::already: return WSAEALREADY;
        case net_error::is_connected: return WSAEISCONN;
        case net_error::not_connected: return WSAENOTCONN;
        case net_error::connection_refused: return WSAECONNREFUSED;
        case net_error::connection_reset: return WSAECONNRESET;
        case net_error::connection_aborted: return WSAECONNABORTED;
        case net_error::timed_out: return WSAETIMEDOUT;
        case net_error::network_reset: return WSAENETRESET;
        case net_error::address_in_use: return WSAEADDRINUSE;
        case net_error::address_not_available: return WSAEADDRNOTAVAIL;
        case net_error::network_unreachable: return WSAENETUNREACH;
        case net_error::host_unreachable: return WSAEHOSTUNREACH;
        case net_error::no_buffers: return WSAENOBUFS;
        case net_error::invalid_argument: return WSAEINVAL;
        case net_error::shut_down: return WSAESHUTDOWN;
        case net_error::message_size: return WSAEMSGSIZE;
        case net_error::network_down: return WSAENETDOWN;
        case net_error::not_supported: return WSAEOPNOTSUPP;
        case net_error::access_denied: return WSAEACCES;
        case net_error::destination_required: return WSAEDESTADDRREQ;
        case net_error::interrupted: return WSAEINTR;
    }
    return WSAEINVAL;
}

}  // namespace lwsp::wsp
