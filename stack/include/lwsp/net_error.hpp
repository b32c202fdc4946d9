// lwsp/net_error.hpp — the stack's own error codes.
//
// Endpoints report every failure as a net_error; lwIP's err_t is translated
// into it in exactly one place (stack/src/net_error.cpp), and the WSP shim
// translates net_error into WSAE* codes in exactly one place
// (spi_shim/src/error_table.cpp).
#pragma once

namespace lwsp {

enum class net_error {
    ok = 0,
    would_block,  // the operation cannot complete now
    in_progress,  // a connect is under way
    already,      // a nonblocking connect is already under way
    is_connected,
    not_connected,
    connection_refused,  // peer answered SYN with RST
    connection_reset,    // peer sent RST
    connection_aborted,  // this stack gave up (retransmissions, local abort)
    timed_out,           // a connect's SYNs went unanswered, or a deadline passed
    network_reset,       // (lwIP reports keep-alive failure as an abort: connection_aborted)
    address_in_use,
    address_not_available,
    network_unreachable,
    host_unreachable,
    no_buffers,
    invalid_argument,
    shut_down,     // the direction was shut down
    message_size,  // datagram too large, or truncated
    network_down,  // the stack stopped
    not_supported,
    access_denied,  // broadcast without SO_BROADCAST
    destination_required,
    interrupted,  // canceled by close or by the caller
};

const char* to_string(net_error e);

}  // namespace lwsp
