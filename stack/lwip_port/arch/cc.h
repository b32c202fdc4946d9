/*
 * arch/cc.h — lwIP's compiler/platform port for lwsp.
 *
 * lwIP's defaults fit gcc and clang on Linux (stdint types, byte order from
 * the compiler, struct packing by attribute).  What lwsp adds: assertions and
 * diagnostics routed to the stack's reporter, a random source for local port
 * selection, the core-lock check used by LWIP_ASSERT_CORE_LOCKED, and the
 * allocator behind lwIP's heap (it enforces stack::options::memory_limit).  The
 * functions are defined in stack/src/lwip_sys.cpp with C linkage.
 */
#ifndef LWSP_ARCH_CC_H
#define LWSP_ARCH_CC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *lwsp_mem_malloc(size_t size);
void *lwsp_mem_calloc(size_t count, size_t size);
void lwsp_mem_free(void *p);
void lwsp_platform_assert(const char *message, int line, const char *file);
void lwsp_platform_diag(const char *format, ...);
unsigned int lwsp_rand(void);
void lwsp_assert_core_locked(void);

#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_ASSERT(x) lwsp_platform_assert((x), __LINE__, __FILE__)
#define LWIP_PLATFORM_DIAG(x)   do { lwsp_platform_diag x; } while (0)
#define LWIP_RAND()             ((u32_t)lwsp_rand())

#endif /* LWSP_ARCH_CC_H */
