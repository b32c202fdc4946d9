// lwIP's heap on a host: malloc'd blocks kept for reuse by size class.
//
// Why: every pbuf and pool element lwIP allocates comes from malloc
// (MEM_LIBC_MALLOC, MEMP_MEM_MALLOC), allocated on the thread that sends
// and freed on the thread that reads the ACK.  glibc hands the memory of
// such bursts back to the kernel as soon as the top of a heap is free
// (trimming), so the next burst page-faults it in again: at MTU 65521,
// where a segment is a 16 KiB block, 120 830 page faults in 4 s of bulk
// sending and a send rate a third of what the same code reached with
// trimming off (README, "Performance").  lwIP's own answer is static pools
// (MEMP_MEM_MALLOC 0), which the firmware profile uses; on a host the
// number of connections must stay bounded by memory, not by pool sizes.
//
// What: blocks of up to 128 KiB are rounded up to a size class (64 B, then
// four classes per power of two: 80, 96, 112, 128, 160 …) and, once freed,
// kept on that class's free list until `capacity` bytes are cached; beyond
// that, and above 128 KiB, they go back to malloc.  A 16-byte header before
// each block holds its class, so a block may be freed through any cache or
// none (release(nullptr, p) frees it to malloc).  Not thread-safe: the
// stack's cache is used under the core lock only (lwip_sys.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lwsp::detail {

class block_cache {
public:
    static constexpr std::size_t header = 16;  // keeps malloc's 16-byte alignment
    static constexpr std::size_t min_block = 64;
    static constexpr std::size_t max_block = std::size_t{128} * 1024;
    static constexpr std::size_t classes = 45;  // 64 B, then 4 per power of two up to max_block
    static constexpr std::uint32_t uncached = 0xffffffffu;

    explicit block_cache(std::size_t capacity) : capacity_(capacity) {}
    block_cache(const block_cache&) = delete;
    block_cache& operator=(const block_cache&) = delete;
    ~block_cache() { trim(); }

    // `size` usable bytes, or nullptr when malloc fails.  With no cache,
    // straight from malloc (still with the header).
    static void* allocate(block_cache* cache, std::size_t size);
    // Frees what allocate() returned (nullptr is ignored).
    static void release(block_cache* cache, void* p);

    // Frees every cached block.
    void trim();

    // The class of a block that must hold `bytes` (header included), and
    // the block's size; `uncached` above max_block.
    static std::uint32_t class_of(std::size_t bytes, std::size_t& block);
    // The size of a class's blocks (cls < classes).
    static std::size_t block_size(std::uint32_t cls);

    struct counters {
        std::size_t cached_bytes = 0;  // on the free lists now
        std::uint64_t reused = 0;      // allocations served from a free list
        std::uint64_t fresh = 0;       // allocations that called malloc
    };
    counters stats() const { return stats_; }

private:
    struct free_block {
        free_block* next;
    };
    std::size_t capacity_;
    std::array<free_block*, classes> lists_{};
    counters stats_;
};

}  // namespace lwsp::detail
