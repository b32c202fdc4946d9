// lwIP's port symbols (sys_now and the arch/cc.h hooks), answered by the
// process's current stack.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>

#include "isn.hpp"
#include "lwip/ip_addr.h"
#include "lwip/stats.h"
#include "lwsp_hooks.h"
#include "lwip/sys.h"
#include "stack_impl.hpp"

namespace lwsp {

void stack::impl::assert_held() const {
    if (owner.load(std::memory_order_relaxed) != lwsp::platform::this_thread())
        lwsp_platform_assert("lwIP entered without the lwsp core lock", __LINE__, __FILE__);
}

}  // namespace lwsp

extern "C" {

u32_t sys_now(void) {
    lwsp::stack* s = lwsp::stack::current();
    return s ? static_cast<u32_t>(lwsp::stack::impl::of(*s).now_ms()) : 0;
}

void lwsp_platform_assert(const char* message, int line, const char* file) {
    std::fprintf(stderr, "lwsp: lwIP assertion \"%s\" failed at %s:%d\n", message, file, line);
    std::fflush(stderr);
    std::abort();
}

void lwsp_platform_diag(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    std::vfprintf(stderr, format, ap);
    va_end(ap);
}

unsigned int lwsp_rand(void) {
    // Called under the core lock only (local port choice).
    lwsp::stack* s = lwsp::stack::current();
    if (s == nullptr) return 0;
    lwsp::stack::impl& in = lwsp::stack::impl::of(*s);
    in.assert_held();
    return static_cast<unsigned int>(in.rng());
}

u32_t lwsp_tcp_isn(const ip_addr_t* local, u16_t local_port, const ip_addr_t* remote, u16_t remote_port) {
    lwsp::stack* s = lwsp::stack::current();
    lwsp::stack::impl* in = s != nullptr ? &lwsp::stack::impl::of(*s) : nullptr;
    const std::uint64_t now_us = in != nullptr ? in->now_ms() * 1000 : 0;
    const std::array<std::uint64_t, 2> key = in != nullptr ? in->isn_key : std::array<std::uint64_t, 2>{};
    if (IP_IS_V6(local)) {
        return lwsp::detail::tcp_isn(key, now_us, reinterpret_cast<const std::uint8_t*>(ip_2_ip6(local)->addr),
                                     local_port, reinterpret_cast<const std::uint8_t*>(ip_2_ip6(remote)->addr),
                                     remote_port, 16);
    }
    return lwsp::detail::tcp_isn(key, now_us, reinterpret_cast<const std::uint8_t*>(&ip_2_ip4(local)->addr), local_port,
                                 reinterpret_cast<const std::uint8_t*>(&ip_2_ip4(remote)->addr), remote_port, 4);
}

// The running stack's block cache when this thread holds its core lock;
// otherwise (no stack, a stopped one, memory an endpoint frees after its
// stack is gone) none, and blocks go to and from malloc.
static lwsp::detail::block_cache* held_heap_cache() {
    lwsp::stack* s = lwsp::stack::current();
    if (s == nullptr) return nullptr;
    lwsp::stack::impl& in = lwsp::stack::impl::of(*s);
    if (in.owner.load(std::memory_order_relaxed) != lwsp::platform::this_thread()) return nullptr;
    in.assert_held();
    return in.stopped_done ? nullptr : &in.heap;
}

void* lwsp_mem_malloc(size_t size) {
    // Called under the core lock (every lwIP entry holds it), so the count
    // lwIP keeps of its heap is stable here.
    lwsp::stack* s = lwsp::stack::current();
    std::size_t limit = s != nullptr ? s->settings().memory_limit : 0;
    if (limit != 0) {
        lwsp::stack::impl& in = lwsp::stack::impl::of(*s);
        in.assert_held();
        if (in.allocating_inbound) limit += std::max<std::size_t>(limit / 8, std::size_t{64} * 1024);
        if (lwip_stats.mem.used + size > limit) return nullptr;
    }
    return lwsp::detail::block_cache::allocate(held_heap_cache(), size);
}

void* lwsp_mem_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return nullptr;
    void* p = lwsp_mem_malloc(count * size);
    if (p != nullptr) std::memset(p, 0, count * size);
    return p;
}

void lwsp_mem_free(void* p) { lwsp::detail::block_cache::release(held_heap_cache(), p); }

void lwsp_assert_core_locked(void) {
    lwsp::stack* s = lwsp::stack::current();
    if (s == nullptr) lwsp_platform_assert("lwIP entered with no lwsp::stack alive", __LINE__, __FILE__);
    lwsp::stack::impl::of(*s).assert_held();
}

}  // extern "C"
