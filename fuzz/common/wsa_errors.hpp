// wsa_errors.hpp — which *lpErrno values each WSP function may report: the
// codes its Winsock SPI reference page documents, plus the entry checks
// every call makes (WSANOTINITIALISED, WSAENETDOWN, WSAEINPROGRESS,
// WSAENOTSOCK for a call on a socket) and the behaviours docs/design.md
// decides (e.g. WSAEAFNOSUPPORT for a sockaddr of a family the socket
// cannot use).  A harness that sees any other value has found a bug.
#pragma once

#include <initializer_list>

#include "lwsp/ws2spi.h"

namespace lwsp::fuzz {

enum class wsp_call {
    accept,
    bind,
    close,
    connect,
    enum_events,
    event_select,
    overlapped_result,
    getpeername,
    getsockname,
    getsockopt,
    ioctl,
    listen,
    recv,
    recvfrom,
    select,
    send,
    sendto,
    setsockopt,
    shutdown,
    socket,
    cancel_blocking,
    cleanup,
    address_to_string,
    string_to_address,
    unsupported
};

inline bool wsa_error_allowed(wsp_call call, int e) {
    auto in = [e](std::initializer_list<int> l) {
        for (int v : l)
            if (v == e) return true;
        return false;
    };
    if (in({WSANOTINITIALISED, WSAENETDOWN, WSAEINPROGRESS})) return true;
    switch (call) {
        case wsp_call::accept:
            return in({WSAECONNREFUSED, WSAECONNRESET, WSAEFAULT, WSAEINTR, WSAEINVAL, WSAEMFILE, WSAENOBUFS,
                       WSAENOTSOCK, WSAEOPNOTSUPP, WSATRY_AGAIN, WSAEWOULDBLOCK, WSAEACCES});
        case wsp_call::bind:
            return in({WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEFAULT, WSAEINVAL, WSAENOBUFS, WSAENOTSOCK, WSAEACCES,
                       WSAEAFNOSUPPORT});
        case wsp_call::close: return in({WSAENOTSOCK, WSAEINTR, WSAEWOULDBLOCK});
        case wsp_call::connect:
            return in({WSAEADDRINUSE, WSAEINTR, WSAEALREADY, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAECONNREFUSED,
                       WSAEFAULT, WSAEINVAL, WSAEISCONN, WSAENETUNREACH, WSAEHOSTUNREACH, WSAENOBUFS, WSAENOTSOCK,
                       WSAEOPNOTSUPP, WSAEPROTONOSUPPORT, WSAETIMEDOUT, WSAEWOULDBLOCK, WSAEACCES});
        case wsp_call::enum_events: return in({WSAEINVAL, WSAENOTSOCK, WSAEFAULT});
        case wsp_call::event_select: return in({WSAEINVAL, WSAENOTSOCK});
        case wsp_call::overlapped_result:
            // An operation's own result comes back through the OVERLAPPED:
            // any code its operation may report.
            return in({WSAENOTSOCK,       WSA_INVALID_HANDLE, WSA_INVALID_PARAMETER,
                       WSA_IO_INCOMPLETE, WSAEFAULT,          WSA_OPERATION_ABORTED,
                       WSAECONNABORTED,   WSAECONNRESET,      WSAEDISCON,
                       WSAEINTR,          WSAEINVAL,          WSAEMSGSIZE,
                       WSAENETRESET,      WSAENOTCONN,        WSAESHUTDOWN,
                       WSAETIMEDOUT,      WSAEWOULDBLOCK,     WSAENOBUFS,
                       WSAEOPNOTSUPP,     WSAEHOSTUNREACH,    WSAENETUNREACH,
                       WSAEACCES,         WSAEADDRNOTAVAIL,   WSAEDESTADDRREQ,
                       WSAEAFNOSUPPORT});
        case wsp_call::getpeername: return in({WSAEFAULT, WSAENOTCONN, WSAENOTSOCK, WSAEINVAL});
        case wsp_call::getsockname: return in({WSAEFAULT, WSAENOTSOCK, WSAEINVAL});
        case wsp_call::getsockopt: return in({WSAEFAULT, WSAEINVAL, WSAENOPROTOOPT, WSAENOTSOCK});
        case wsp_call::setsockopt:
            return in({WSAEFAULT, WSAEINVAL, WSAENETRESET, WSAENOPROTOOPT, WSAENOTCONN, WSAENOTSOCK});
        case wsp_call::ioctl:
            return in(
                {WSAEFAULT, WSAEINVAL, WSAENOTSOCK, WSAEOPNOTSUPP, WSA_IO_PENDING, WSAEWOULDBLOCK, WSAENOPROTOOPT});
        case wsp_call::listen:
            return in({WSAEADDRINUSE, WSAEINVAL, WSAEISCONN, WSAEMFILE, WSAENOBUFS, WSAENOTSOCK, WSAEOPNOTSUPP});
        case wsp_call::recv:
        case wsp_call::recvfrom:
            return in({WSAECONNABORTED, WSAECONNRESET, WSAEDISCON, WSAEFAULT, WSAEINTR, WSAEINVAL, WSAEISCONN,
                       WSAEMSGSIZE, WSAENETRESET, WSAENOTCONN, WSAENOTSOCK, WSAEOPNOTSUPP, WSAESHUTDOWN, WSAETIMEDOUT,
                       WSAEWOULDBLOCK, WSA_IO_PENDING, WSA_OPERATION_ABORTED});
        case wsp_call::send:
        case wsp_call::sendto:
            return in({WSAEACCES,       WSAEADDRNOTAVAIL,
                       WSAEAFNOSUPPORT, WSAECONNABORTED,
                       WSAECONNRESET,   WSAEDESTADDRREQ,
                       WSAEFAULT,       WSAEHOSTUNREACH,
                       WSAEINTR,        WSAEINVAL,
                       WSAEMSGSIZE,     WSAENETRESET,
                       WSAENETUNREACH,  WSAENOBUFS,
                       WSAENOTCONN,     WSAENOTSOCK,
                       WSAEOPNOTSUPP,   WSAESHUTDOWN,
                       WSAETIMEDOUT,    WSAEWOULDBLOCK,
                       WSA_IO_PENDING,  WSA_OPERATION_ABORTED});
        case wsp_call::select: return in({WSAEFAULT, WSAEINVAL, WSAEINTR, WSAENOTSOCK});
        case wsp_call::shutdown: return in({WSAEINVAL, WSAENOTCONN, WSAENOTSOCK});
        case wsp_call::socket:
            return in({WSAEAFNOSUPPORT, WSAEMFILE, WSAENOBUFS, WSAEPROTONOSUPPORT, WSAEPROTOTYPE, WSAESOCKTNOSUPPORT,
                       WSAEINVAL, WSAEFAULT});
        case wsp_call::cancel_blocking: return in({WSAEINVAL});
        case wsp_call::cleanup: return false;
        case wsp_call::address_to_string:
        case wsp_call::string_to_address: return in({WSAEFAULT, WSAEINVAL});
        case wsp_call::unsupported: return in({WSASYSCALLFAILURE, WSAEOPNOTSUPP, WSAENOTSOCK});
    }
    return false;
}

}  // namespace lwsp::fuzz
