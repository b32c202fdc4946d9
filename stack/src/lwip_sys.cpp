// lwIP's port symbols (sys_now and the arch/cc.h hooks), answered by the
// process's current stack.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "lwip/stats.h"
#include "lwip/sys.h"
#include "stack_impl.hpp"

extern "C" {

u32_t sys_now(void) {
    lwsp::stack* s = lwsp::stack::current();
    return s ? static_cast<u32_t>(s->internals().now_ms()) : 0;
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
    static std::minstd_rand gen{std::random_device{}()};
    return static_cast<unsigned int>(gen());
}

void* lwsp_mem_malloc(size_t size) {
    // Called under the core lock (every lwIP entry holds it), so the count
    // lwIP keeps of its heap is stable here.
    lwsp::stack* s = lwsp::stack::current();
    std::size_t limit = s != nullptr ? s->settings().memory_limit : 0;
    if (limit != 0) {
        if (s->internals().allocating_inbound) limit += std::max<std::size_t>(limit / 8, 64 * 1024);
        if (lwip_stats.mem.used + size > limit) return nullptr;
    }
    return std::malloc(size);
}

void lwsp_assert_core_locked(void) {
    lwsp::stack* s = lwsp::stack::current();
    if (s == nullptr) lwsp_platform_assert("lwIP entered with no lwsp::stack alive", __LINE__, __FILE__);
    if (s->internals().owner.load(std::memory_order_relaxed) != std::this_thread::get_id())
        lwsp_platform_assert("lwIP entered without the lwsp core lock", __LINE__, __FILE__);
}

}  // extern "C"
