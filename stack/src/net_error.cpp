// err_t -> net_error: the one translation of lwIP's error codes.
#include "net_error_map.hpp"

namespace lwsp {

net_error from_err(err_t err) {
    switch (err) {
        case ERR_OK: return net_error::ok;
        case ERR_MEM:
        case ERR_BUF: return net_error::no_buffers;
        case ERR_TIMEOUT: return net_error::timed_out;
        case ERR_RTE: return net_error::network_unreachable;
        case ERR_INPROGRESS: return net_error::in_progress;
        case ERR_VAL: return net_error::invalid_argument;
        case ERR_WOULDBLOCK: return net_error::would_block;
        case ERR_USE: return net_error::address_in_use;
        case ERR_ALREADY: return net_error::already;
        case ERR_ISCONN: return net_error::is_connected;
        case ERR_CONN: return net_error::not_connected;
        case ERR_IF: return net_error::network_down;
        case ERR_ABRT: return net_error::connection_aborted;
        case ERR_RST: return net_error::connection_reset;
        case ERR_CLSD: return net_error::not_connected;
        case ERR_ARG: return net_error::invalid_argument;
    }
    return net_error::invalid_argument;
}

const char* to_string(net_error e) {
    switch (e) {
        case net_error::ok: return "ok";
        case net_error::would_block: return "would block";
        case net_error::in_progress: return "in progress";
        case net_error::already: return "already in progress";
        case net_error::is_connected: return "is connected";
        case net_error::not_connected: return "not connected";
        case net_error::connection_refused: return "connection refused";
        case net_error::connection_reset: return "connection reset by peer";
        case net_error::connection_aborted: return "connection aborted";
        case net_error::timed_out: return "timed out";
        case net_error::network_reset: return "network reset (keep-alive failed)";
        case net_error::address_in_use: return "address in use";
        case net_error::address_not_available: return "address not available";
        case net_error::network_unreachable: return "network unreachable";
        case net_error::host_unreachable: return "host unreachable";
        case net_error::no_buffers: return "no buffer space";
        case net_error::invalid_argument: return "invalid argument";
        case net_error::shut_down: return "shut down";
        case net_error::message_size: return "message too long";
        case net_error::network_down: return "network down";
        case net_error::not_supported: return "not supported";
        case net_error::access_denied: return "access denied";
        case net_error::destination_required: return "destination address required";
        case net_error::interrupted: return "interrupted";
    }
    return "unknown";
}

}  // namespace lwsp
