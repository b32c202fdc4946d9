// The C bring-up API of lwsp/lwsp.h (WSPStartup lives in provider.cpp).
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "lwsp/c_link.h"
#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"

namespace {
std::mutex g_mu;
std::unique_ptr<lwsp::stack> g_stack;  // the stack lwsp_start made

void set_error(char* error, size_t len, const char* what) {
    if (error != nullptr && len > 0) std::snprintf(error, len, "%s", what);
}
}  // namespace

extern "C" int lwsp_start(const lwsp_options* options) {
    std::lock_guard<std::mutex> g(g_mu);
    if (lwsp::stack::current() != nullptr) return -1;
    lwsp::stack::options o;
    o.manual_clock = options != nullptr && options->manual_clock != 0;
    try {
        g_stack = std::make_unique<lwsp::stack>(o);
    } catch (...) {
        return -1;
    }
    return 0;
}

extern "C" void lwsp_stop(void) {
    std::lock_guard<std::mutex> g(g_mu);
    if (!g_stack) return;
    // Sockets still open point at it (and fail WSAENETDOWN): it is deleted
    // when the last of them is closed.  A new lwsp_start may follow at once.
    lwsp::stack::retire(std::move(g_stack));
}

extern "C" int lwsp_advance_time(unsigned long milliseconds) {
    lwsp::stack* st = lwsp::stack::current();
    if (st == nullptr || !st->manual_clock()) return -1;
    st->advance_time(lwsp::millis(static_cast<long long>(milliseconds)));
    return 0;
}

extern "C" int lwsp_attach(lwsp_link* link, const lwsp_interface_config* config, char* error, size_t error_len) {
    lwsp::stack* st = lwsp::stack::current();
    if (st == nullptr) {
        set_error(error, error_len, "lwsp_attach: no stack running (call lwsp_start first)");
        return -1;
    }
    if (link == nullptr || link->impl == nullptr || config == nullptr) {
        set_error(error, error_len, "lwsp_attach: link and config are required");
        return -1;
    }
    lwsp::interface_config cfg;
    cfg.default_route = config->default_route != 0;
    if (config->ipv4_address != nullptr) {
        auto addr = lwsp::ipv4_address::parse(config->ipv4_address);
        auto mask = lwsp::ipv4_address::parse(config->ipv4_netmask ? config->ipv4_netmask : "255.255.255.0");
        auto gw = lwsp::ipv4_address::parse(config->ipv4_gateway ? config->ipv4_gateway : "0.0.0.0");
        if (!addr || !mask || !gw) {
            set_error(error, error_len, "lwsp_attach: bad IPv4 address, netmask or gateway");
            return -1;
        }
        cfg.ipv4 = lwsp::ipv4_config{*addr, *mask, *gw};
    }
    if (config->ipv6_address != nullptr) {
        auto a6 = lwsp::ipv6_address::parse(config->ipv6_address);
        if (!a6) {
            set_error(error, error_len, "lwsp_attach: bad IPv6 address");
            return -1;
        }
        cfg.ipv6.push_back(*a6);
    }
    try {
        return st->attach(link->impl, cfg);
    } catch (const std::exception& ex) {
        set_error(error, error_len, ex.what());
        return -1;
    }
}

extern "C" void lwsp_detach(int interface_id) {
    if (lwsp::stack* st = lwsp::stack::current()) st->detach(interface_id);
}
