// Internal: the one generation-checked handle table of the shim — the
// provider's SOCKET handles and lwsp's own upcall objects (events, thread
// ids, ws2-style socket handles) all use it.
//
// A handle is kind (bits 29-30) | generation (bits 16-28, 1..8191) |
// slot index + 1 (bits 0-15): never 0, always below 2^31 (so never
// INVALID_SOCKET, and it fits a 32-bit pointer); a closed or invented handle
// is recognised, a reused slot never answers to an old handle (it would take
// 8191 reuses of one slot, and slots are reused oldest first), and a handle
// of one kind is never mistaken for another kind's.  At most 65535 objects
// per table.  Not thread-safe: the owner holds its lock around every call.
// No call throws: out of memory, insert() fails like a full table.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <vector>

namespace lwsp::wsp {

template <class T>
class handle_table {
public:
    using handle = std::uintptr_t;
    static constexpr std::uint32_t max_slots = 0xffff;
    static constexpr std::uint32_t max_generation = 0x1fff;

    // kind: 0..3, the bits that keep tables of different kinds apart.
    explicit handle_table(std::uint32_t kind = 0) : kind_(kind & 3u) {}

    // 0 when the table is full or memory ran out.
    handle insert(std::shared_ptr<T> obj) noexcept {
        try {
            std::uint32_t index;
            if (!free_.empty()) {
                index = free_.front();  // oldest freed slot first: longest time before reuse
                free_.pop_front();
            } else {
                if (slots_.size() >= max_slots) return 0;
                slots_.emplace_back();
                index = static_cast<std::uint32_t>(slots_.size() - 1);
            }
            slot& s = slots_[index];
            s.obj = std::move(obj);
            ++live_;
            return encode(index, s.generation);
        } catch (const std::bad_alloc&) {
            return 0;
        }
    }

    std::shared_ptr<T> find(handle h) const noexcept {
        const slot* s = lookup(h);
        return s != nullptr ? s->obj : nullptr;
    }

    // The object, or null for an unknown handle; the handle is dead after.
    std::shared_ptr<T> remove(handle h) noexcept {
        const slot* found = lookup(h);
        if (found == nullptr) return nullptr;
        const auto index = static_cast<std::uint32_t>(found - slots_.data());
        slot& s = slots_[index];
        std::shared_ptr<T> out = std::move(s.obj);
        s.obj.reset();
        s.generation = static_cast<std::uint16_t>(s.generation % max_generation + 1);
        --live_;
        try {
            free_.push_back(index);
        } catch (const std::bad_alloc&) {
            // The slot is simply never reused.
        }
        return out;
    }

    // Every live handle, oldest slot first (empty if memory ran out).
    std::vector<handle> all() const noexcept {
        std::vector<handle> out;
        try {
            out.reserve(live_);
            for (std::size_t i = 0; i < slots_.size(); ++i)
                if (slots_[i].obj) out.push_back(encode(static_cast<std::uint32_t>(i), slots_[i].generation));
        } catch (const std::bad_alloc&) {
            out.clear();
        }
        return out;
    }

    std::size_t size() const noexcept { return live_; }

private:
    struct slot {
        std::uint16_t generation = 1;
        std::shared_ptr<T> obj;
    };

    handle encode(std::uint32_t index, std::uint16_t generation) const {
        return (static_cast<handle>(kind_) << 29) | (static_cast<handle>(generation) << 16) | (index + 1);
    }

    const slot* lookup(handle h) const {
        if ((h >> 29) != kind_) return nullptr;  // also rejects values >= 2^31
        const auto index_plus_1 = static_cast<std::uint32_t>(h & 0xffff);
        const auto generation = static_cast<std::uint16_t>((h >> 16) & max_generation);
        if (index_plus_1 == 0 || index_plus_1 > slots_.size()) return nullptr;
        const slot& s = slots_[index_plus_1 - 1];
        if (s.generation != generation || !s.obj) return nullptr;
        return &s;
    }

    std::uintptr_t kind_;
    std::vector<slot> slots_;
    std::deque<std::uint32_t> free_;
    std::size_t live_ = 0;
};

}  // namespace lwsp::wsp
