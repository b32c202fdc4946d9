// lwIP's heap on a host: what and why in block_cache.hpp.
#include "block_cache.hpp"

#include <cstdlib>
#include <cstring>

namespace lwsp::detail {

namespace {

// The header in front of every block: its class (or `uncached`).
std::uint32_t& class_field(void* raw) { return *static_cast<std::uint32_t*>(raw); }

unsigned floor_log2(std::size_t n) {
    unsigned k = 0;
    while (n >>= 1) ++k;
    return k;
}

}  // namespace

std::uint32_t block_cache::class_of(std::size_t bytes, std::size_t& block) {
    if (bytes <= min_block) {
        block = min_block;
        return 0;
    }
    if (bytes > max_block) {
        block = bytes;
        return uncached;
    }
    // 2^k < bytes <= 2^(k+1), k >= 6: four classes of 2^(k-2) bytes each.
    const unsigned k = floor_log2(bytes - 1);
    const std::size_t step = std::size_t{1} << (k - 2);
    const std::size_t sub = ((bytes - 1) >> (k - 2)) & 3;
    block = (std::size_t{1} << k) + (sub + 1) * step;
    return static_cast<std::uint32_t>(std::size_t{k - 6} * 4 + sub + 1);
}

std::size_t block_cache::block_size(std::uint32_t cls) {
    if (cls == 0) return min_block;
    const unsigned k = (cls - 1) / 4 + 6;
    return (std::size_t{1} << k) + ((cls - 1) % 4 + 1) * (std::size_t{1} << (k - 2));
}

void* block_cache::allocate(block_cache* cache, std::size_t size) {
    if (size > SIZE_MAX - header) return nullptr;
    std::size_t block = 0;
    const std::uint32_t cls = class_of(size + header, block);
    void* raw = nullptr;
    if (cache != nullptr && cls != uncached && cache->lists_[cls] != nullptr) {
        free_block* b = cache->lists_[cls];
        cache->lists_[cls] = b->next;
        cache->stats_.cached_bytes -= block;
        ++cache->stats_.reused;
        raw = b;
    } else {
        raw = std::malloc(block);
        if (raw == nullptr) return nullptr;
        if (cache != nullptr) ++cache->stats_.fresh;
    }
    class_field(raw) = cls;
    return static_cast<unsigned char*>(raw) + header;
}

void block_cache::release(block_cache* cache, void* p) {
    if (p == nullptr) return;
    void* raw = static_cast<unsigned char*>(p) - header;
    const std::uint32_t cls = class_field(raw);
    if (cache == nullptr || cls == uncached) {
        std::free(raw);
        return;
    }
    const std::size_t block = block_size(cls);
    if (cache->stats_.cached_bytes + block > cache->capacity_) {
        std::free(raw);
        return;
    }
    auto* b = static_cast<free_block*>(raw);
    b->next = cache->lists_[cls];
    cache->lists_[cls] = b;
    cache->stats_.cached_bytes += block;
}

void block_cache::trim() {
    for (free_block*& head : lists_) {
        while (head != nullptr) {
            free_block* next = head->next;
            std::free(head);
            head = next;
        }
    }
    stats_.cached_bytes = 0;
}

}  // namespace lwsp::detail
