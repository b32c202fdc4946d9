// The C bring-up API (lwsp/stack.h) and the C port ABI (lwsp/port.h).
// WSPStartup lives with the shim (spi_shim/src/provider.cpp).
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "lwsp/c_link.h"
#include "lwsp/platform.hpp"
#include "lwsp/port.h"
#include "lwsp/stack.h"
#include "lwsp/stack.hpp"
#include "lwsp/thread_safety.hpp"

namespace {

lwsp::mutex g_mu;
std::unique_ptr<lwsp::stack> g_stack LWSP_GUARDED_BY(g_mu);  // the stack lwsp_start made

void set_error(char* error, size_t len, const char* what) {
    if (error != nullptr && len > 0) std::snprintf(error, len, "%s", what);
}

// A link whose driver is a C ops table.
class c_port_link final : public lwsp::link {
public:
    c_port_link(const lwsp_port_ops* ops, void* ctx) : ops_(ops), ctx_(ctx) {}
    ~c_port_link() override {
        if (ops_->destroy != nullptr) ops_->destroy(ctx_);
    }
    c_port_link(const c_port_link&) = delete;
    c_port_link& operator=(const c_port_link&) = delete;

    std::size_t mtu() const override { return ops_->mtu(ctx_); }
    lwsp::mac_address mac() const override {
        lwsp::mac_address m{};
        ops_->mac(ctx_, m.bytes.data());
        return m;
    }
    void start(lwsp::link_sink& sink) override {
        if (ops_->start(ctx_, to_c(sink)) != 0) throw std::runtime_error("lwsp: the port's start() failed");
        sink_ = &sink;
    }
    bool transmit(const lwsp::frame_part* parts, std::size_t count, const lwsp::frame_info&) override {
        constexpr std::size_t max_parts = 16;  // what the stack ever hands over (stack.cpp, link_output)
        if (count > max_parts) return false;
        lwsp_frame_part c_parts[max_parts];
        for (std::size_t i = 0; i < count; ++i) c_parts[i] = {parts[i].data, parts[i].size};
        return ops_->transmit(ctx_, c_parts, count) == 0;
    }
    void stop() override {
        if (sink_ == nullptr) return;  // never started (attach failed in start)
        ops_->stop(ctx_);
        sink_ = nullptr;
    }
    std::size_t poll() override {
        if (ops_->poll == nullptr || sink_ == nullptr) return 0;
        const int n = ops_->poll(ctx_, to_c(*sink_));
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }

    // lwsp_sink is the C name of a link_sink: the handle is its address.
    static lwsp_sink* to_c(lwsp::link_sink& s) { return reinterpret_cast<lwsp_sink*>(&s); }
    static lwsp::link_sink& from_c(lwsp_sink* s) { return *reinterpret_cast<lwsp::link_sink*>(s); }

private:
    const lwsp_port_ops* ops_;
    void* ctx_;
    lwsp::link_sink* sink_ = nullptr;  // between start() and stop()
};

}  // namespace

// ---- bring-up ---------------------------------------------------------------

extern "C" int lwsp_start(const lwsp_options* options) {
    lwsp::lock_guard g(g_mu);
    if (lwsp::stack::current() != nullptr) return -1;
    lwsp::stack::options o;
    if (options != nullptr) {
        o.manual_clock = options->manual_clock != 0;
        o.random_seed = options->random_seed;
        o.memory_limit = options->memory_limit;
    }
    try {
        g_stack = std::make_unique<lwsp::stack>(o);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "lwsp_start: %s\n", ex.what());
        return -1;
    }
    return 0;
}

extern "C" void lwsp_stop(void) {
    lwsp::lock_guard g(g_mu);
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

// ---- platform hooks and the main loop ------------------------------------

extern "C" void lwsp_set_clock(unsigned long long (*now_ms)(void)) {
#if LWSP_BARE_METAL
    lwsp::platform::set_clock(now_ms);
#else
    (void)now_ms;  // hosted: the steady clock
#endif
}

extern "C" void lwsp_set_idle(void (*idle)(unsigned long long until_ms)) {
#if LWSP_BARE_METAL
    lwsp::platform::set_idle(idle);
#else
    (void)idle;
#endif
}

extern "C" void lwsp_set_random(void (*fill)(void* buf, size_t len)) {
#if LWSP_BARE_METAL
    lwsp::platform::set_random(fill);
#else
    (void)fill;
#endif
}

extern "C" int lwsp_poll(void) {
    lwsp::stack* st = lwsp::stack::current();
    if (st == nullptr) return -1;
    const std::size_t n = st->poll();
    return n > 0x7fffffff ? 0x7fffffff : static_cast<int>(n);
}

extern "C" long lwsp_next_deadline(void) {
    lwsp::stack* st = lwsp::stack::current();
    if (st == nullptr) return -1;
    const std::optional<lwsp::millis> next = st->next_deadline();
    if (!next) return -1;
    return next->count() > 0x7fffffff ? 0x7fffffffL : static_cast<long>(next->count());
}

// ---- the C port ABI ---------------------------------------------------------

extern "C" lwsp_link* lwsp_link_create(const lwsp_port_ops* ops, void* ctx) {
    if (ops == nullptr || ops->mtu == nullptr || ops->mac == nullptr || ops->start == nullptr ||
        ops->transmit == nullptr || ops->stop == nullptr)
        return nullptr;
    try {
        auto* handle = new lwsp_link;
        try {
            handle->impl = std::make_shared<c_port_link>(ops, ctx);
        } catch (...) {
            delete handle;
            throw;
        }
        return handle;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

extern "C" void lwsp_link_release(lwsp_link* link) { delete link; }

extern "C" void lwsp_sink_deliver(lwsp_sink* sink, const void* frame, size_t size) {
    if (sink == nullptr || frame == nullptr) return;
    c_port_link::from_c(sink).deliver(frame, size);
}

extern "C" void lwsp_sink_set_link_up(lwsp_sink* sink, int up) {
    if (sink == nullptr) return;
    c_port_link::from_c(sink).set_link_up(up != 0);
}
