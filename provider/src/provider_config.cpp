// The provider's configuration (lwsp/provider_config.hpp): parsing, and the
// bring-up that turns it into a running stack with its port.
#include "lwsp/provider_config.hpp"

#include <cctype>
#include <sstream>

#include "lwsp/udp_tunnel.hpp"
#if defined(LWSP_PROVIDER_HAS_TAP_WINDOWS)
#include "lwsp/tap_windows_link.hpp"
#endif

namespace lwsp::provider {

namespace {

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
    return s.substr(b, e - b);
}

[[noreturn]] void bad(const std::string& key, const std::string& value, const char* why) {
    throw config_error("lwsp provider configuration: " + key + "=" + value + ": " + why);
}

ipv4_address ipv4_of(const std::string& key, const std::string& value) {
    const auto a = ipv4_address::parse(value);
    if (!a) bad(key, value, "not an IPv4 address (dotted quad)");
    return *a;
}

}  // namespace

config from_values(const key_values& values) {
    config c;
    std::optional<ipv4_address> ipv4, netmask, gateway;
    bool have_remote = false, have_adapter = false;
    for (const auto& [key, value] : values) {
        if (key == "port") {
            if (value == "none") {
                c.port = config::port_kind::none;
            } else if (value == "udp_tunnel") {
                c.port = config::port_kind::udp_tunnel;
            } else if (value == "tap_windows") {
                c.port = config::port_kind::tap_windows;
            } else {
                bad(key, value, "unknown port (none, udp_tunnel or tap_windows)");
            }
        } else if (key == "mac") {
            const auto m = mac_address::parse(value);
            if (!m) bad(key, value, "not a MAC address (02:4c:57:53:50:01)");
            c.mac = *m;
        } else if (key == "mtu") {
            std::size_t used = 0;
            unsigned long v = 0;
            try {
                v = std::stoul(value, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != value.size() || v < 576 || v > 65535) bad(key, value, "not an MTU in 576..65535");
            c.mtu = v;
        } else if (key == "ipv4") {
            ipv4 = ipv4_of(key, value);
        } else if (key == "netmask") {
            netmask = ipv4_of(key, value);
        } else if (key == "gateway") {
            gateway = ipv4_of(key, value);
        } else if (key == "ipv6") {
            c.iface.ipv6.clear();
            std::stringstream list(value);
            std::string item;
            while (std::getline(list, item, ',')) {
                const auto a = ipv6_address::parse(trim(item));
                if (!a) bad(key, value, "not a list of IPv6 addresses");
                c.iface.ipv6.push_back(*a);
            }
            if (c.iface.ipv6.empty() || c.iface.ipv6.size() > 2) bad(key, value, "one or two IPv6 addresses");
        } else if (key == "tunnel.local") {
            if (value.empty()) bad(key, value, "empty");
            c.tunnel_local = value;
        } else if (key == "tunnel.remote") {
            if (value.empty()) bad(key, value, "empty");
            c.tunnel_remote = value;
            have_remote = true;
        } else if (key == "adapter") {
            if (value.empty()) bad(key, value, "empty");
            c.adapter = value;
            have_adapter = true;
        } else {
            bad(key, value, "unknown key");
        }
    }
    if (!ipv4 && (netmask || gateway)) throw config_error("lwsp provider configuration: netmask/gateway without ipv4");
    if (ipv4) {
        c.iface.ipv4 = ipv4_config{*ipv4, netmask ? *netmask : *ipv4_address::parse("255.255.255.0"),
                                   gateway ? *gateway : *ipv4_address::parse("0.0.0.0")};
    }
    if (c.port == config::port_kind::udp_tunnel && !have_remote)
        throw config_error("lwsp provider configuration: port=udp_tunnel needs tunnel.remote=host:port");
    if (c.port == config::port_kind::tap_windows && !have_adapter)
        throw config_error("lwsp provider configuration: port=tap_windows needs adapter=<name or {GUID}>");
    return c;
}

config parse_file_text(const std::string& text) {
    key_values kv;
    std::stringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        const std::size_t eq = t.find('=');
        if (eq == std::string::npos || eq == 0)
            throw config_error("lwsp provider configuration, line " + std::to_string(number) +
                               ": expected key=value, got '" + t + "'");
        kv.emplace_back(trim(t.substr(0, eq)), trim(t.substr(eq + 1)));
    }
    try {
        return from_values(kv);
    } catch (const config_error& e) {
        throw config_error(std::string(e.what()) + " (in the configuration file)");
    }
}

std::unique_ptr<stack> bring_up(const config& cfg) {
    std::shared_ptr<link> port;
    switch (cfg.port) {
        case config::port_kind::none: break;
        case config::port_kind::udp_tunnel: {
            udp_tunnel::options o;
            o.local = cfg.tunnel_local;
            o.remote = cfg.tunnel_remote;
            if (cfg.mtu != 0) o.mtu = cfg.mtu;
            o.mac = cfg.mac.value_or(mac_address{{0x02, 0x4c, 0x57, 0x53, 0x50, 0x01}});
            port = udp_tunnel::open(o);
            break;
        }
        case config::port_kind::tap_windows:
#if defined(LWSP_PROVIDER_HAS_TAP_WINDOWS)
        {
            tap_windows_link::options o;
            o.adapter = cfg.adapter;
            o.mac = cfg.mac;
            o.mtu = cfg.mtu;
            port = tap_windows_link::open(o);
            break;
        }
#else
            throw config_error("lwsp provider configuration: port=tap_windows: this build has no TAP-Windows6 port");
#endif
    }
    auto st = std::make_unique<stack>(stack::options{});
    if (port) st->attach(std::move(port), cfg.iface);
    return st;
}

}  // namespace lwsp::provider
