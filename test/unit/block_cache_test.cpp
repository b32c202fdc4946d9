// The block cache behind lwIP's heap (stack/src/block_cache.hpp), tested
// directly: size classes, reuse, the capacity bound, trim, and blocks freed
// with no cache.  The stack's use of it is checked through stack::stats in
// stack_test.cpp.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "block_cache.hpp"

using lwsp::detail::block_cache;

TEST_CASE("block cache: every size maps to the smallest class that holds it, four classes per power of two") {
    std::size_t block = 0;
    CHECK(block_cache::class_of(1, block) == 0);
    CHECK(block == 64);
    CHECK(block_cache::class_of(64, block) == 0);
    CHECK(block_cache::class_of(65, block) == 1);
    CHECK(block == 80);
    CHECK(block_cache::class_of(128, block) == 4);
    CHECK(block == 128);
    CHECK(block_cache::class_of(129, block) == 5);
    CHECK(block == 160);
    // A 16000-byte segment with lwIP's headers and ours: 16 KiB, no more.
    CHECK(block_cache::class_of(16000 + 16 + 94 + 8 + block_cache::header, block) != block_cache::uncached);
    CHECK(block == 16384);
    CHECK(block_cache::class_of(block_cache::max_block, block) == block_cache::classes - 1);
    CHECK(block == block_cache::max_block);
    CHECK(block_cache::class_of(block_cache::max_block + 1, block) == block_cache::uncached);
    CHECK(block == block_cache::max_block + 1);
    // Every size: its class holds it, the class below does not, and no
    // class wastes more than a quarter of its block.
    std::uint32_t last = 0;
    for (std::size_t n = 1; n <= block_cache::max_block; ++n) {
        const std::uint32_t c = block_cache::class_of(n, block);
        REQUIRE(c < block_cache::classes);
        REQUIRE(block == block_cache::block_size(c));
        REQUIRE(block >= n);
        REQUIRE(c >= last);
        if (c > 0) REQUIRE(block_cache::block_size(c - 1) < n);
        if (n > 64) REQUIRE(block - n < block / 4 + 1);
        last = c;
    }
}

TEST_CASE("block cache: a freed block is reused for the next request of its class") {
    block_cache cache(1 << 20);
    void* a = block_cache::allocate(&cache, 1500);
    REQUIRE(a != nullptr);
    std::memset(a, 0xab, 1500);  // the whole request is usable
    block_cache::release(&cache, a);
    CHECK(cache.stats().cached_bytes == 1536);      // 1500 + header: the 1536-byte class
    void* b = block_cache::allocate(&cache, 1520);  // same class
    CHECK(b == a);
    CHECK(cache.stats().reused == 1);
    CHECK(cache.stats().fresh == 1);
    CHECK(cache.stats().cached_bytes == 0);
    void* c = block_cache::allocate(&cache, 100);  // another class: fresh
    CHECK(c != a);
    CHECK(cache.stats().fresh == 2);
    block_cache::release(&cache, b);
    block_cache::release(&cache, c);
    cache.trim();
    CHECK(cache.stats().cached_bytes == 0);
}

TEST_CASE("block cache: at most `capacity` bytes are kept, the rest goes back to malloc") {
    block_cache cache(64 * 1024);
    std::vector<void*> blocks;
    for (int i = 0; i < 16; ++i) blocks.push_back(block_cache::allocate(&cache, 16000));
    for (void* p : blocks) block_cache::release(&cache, p);
    CHECK(cache.stats().cached_bytes == 4 * 16384);  // four fit, twelve were freed
    blocks.clear();
    for (int i = 0; i < 16; ++i) blocks.push_back(block_cache::allocate(&cache, 16000));
    CHECK(cache.stats().reused == 4);
    for (void* p : blocks) block_cache::release(&cache, p);
}

TEST_CASE("block cache: blocks above the largest class, and blocks freed without a cache, go to malloc") {
    block_cache cache(std::size_t{1} << 24);
    void* big = block_cache::allocate(&cache, 200 * 1024);
    REQUIRE(big != nullptr);
    block_cache::release(&cache, big);
    CHECK(cache.stats().cached_bytes == 0);
    // Allocated through the cache, freed with none (the stack is gone), and
    // the other way round: both are plain malloc blocks behind the header.
    void* a = block_cache::allocate(&cache, 300);
    block_cache::release(nullptr, a);
    void* b = block_cache::allocate(nullptr, 300);
    block_cache::release(&cache, b);
    CHECK(cache.stats().cached_bytes == 320);
    block_cache::release(&cache, nullptr);  // ignored, as free(NULL)
    CHECK(block_cache::allocate(&cache, SIZE_MAX - 4) == nullptr);
}
