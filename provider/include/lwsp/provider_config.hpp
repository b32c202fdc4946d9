// lwsp/provider_config.hpp — the provider's configuration: which port
// carries its frames and with which addresses, and the bring-up that
// starts a stack from it.
//
// The Windows provider DLL (provider/src/dll_main.cpp) reads it when ws2
// first calls WSPStartup: from the file named by the environment variable
// LWSP_PROVIDER_CONFIG when that is set (tests, a quick trial), otherwise
// from the registry key HKLM\SOFTWARE\lwsp\Provider (one REG_SZ value per
// key below).  A file holds one `key=value` per line; blank lines and lines
// starting with '#' are ignored; spaces around keys and values are trimmed.
//
//   port           none | udp_tunnel | tap_windows            (default none)
//   mac            the stack's MAC (udp_tunnel default 02:4c:57:53:50:01;
//                  tap_windows default: derived from the adapter's)
//   mtu            IP MTU, 576..65535 (udp_tunnel default 1500;
//                  tap_windows default: the adapter's)
//   ipv4           dotted quad (absent: no IPv4)
//   netmask        dotted quad                        (default 255.255.255.0)
//   gateway        dotted quad                              (default none)
//   ipv6           one or two addresses, comma-separated (a link-local
//                  address from the MAC is always added)
//   tunnel.local   udp_tunnel: host:port to bind     (default 127.0.0.1:0)
//   tunnel.remote  udp_tunnel: host:port frames go to           (required)
//   adapter        tap_windows: the adapter's name or {GUID}    (required)
//
// Unknown keys, malformed values and a missing required key are errors:
// config_error says which line or key and why.  `none` attaches no port:
// the stack serves its loopback addresses only.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lwsp/address.hpp"
#include "lwsp/stack.hpp"

namespace lwsp::provider {

class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct config {
    enum class port_kind { none, udp_tunnel, tap_windows };
    port_kind port = port_kind::none;
    std::optional<mac_address> mac;  // absent: the port's default
    std::size_t mtu = 0;             // 0: the port's default
    interface_config iface;
    std::string tunnel_local = "127.0.0.1:0";
    std::string tunnel_remote;
    std::string adapter;
};

using key_values = std::vector<std::pair<std::string, std::string>>;

// From key/value pairs (the registry's values); throws config_error.
config from_values(const key_values& values);
// From the text of a configuration file; throws config_error (with the
// line number).
config parse_file_text(const std::string& text);

// Starts the process's stack and attaches the configured port.  Throws
// config_error (a port this build lacks) or the port's own error (a tunnel
// that cannot bind, an adapter that does not exist).
std::unique_ptr<stack> bring_up(const config& cfg);

}  // namespace lwsp::provider
