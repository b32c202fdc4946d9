// Internal: the provider's handle table.  A handle names a slot plus that
// slot's generation, so a closed or invented handle is recognised, and a
// reused slot never answers to an old handle.  Handles stay below 2^31 and
// are never 0 or INVALID_SOCKET.  Thread-safe (own leaf mutex; never held
// while taking the stack's core lock).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace lwsp::wsp {

template <class T>
class handle_table {
public:
    using handle = std::uintptr_t;
    static constexpr std::size_t max_slots = 0xffff;

    // 0 when the table is full.
    handle insert(std::shared_ptr<T> obj) {
        std::lock_guard<std::mutex> g(mu_);
        std::uint32_t index;
        if (!free_.empty()) {
            index = free_.front();  // oldest freed slot first: maximal time before reuse
            free_.pop_front();
        } else {
            if (slots_.size() >= max_slots) return 0;
            index = static_cast<std::uint32_t>(slots_.size());
            slots_.push_back(slot{});
        }
        slot& s = slots_[index];
        s.obj = std::move(obj);
        return encode(index, s.generation);
    }

    std::shared_ptr<T> find(handle h) const {
        std::lock_guard<std::mutex> g(mu_);
        const slot* s = lookup(h);
        return s ? s->obj : nullptr;
    }

    std::shared_ptr<T> remove(handle h) {
        std::lock_guard<std::mutex> g(mu_);
        slot* s = const_cast<slot*>(lookup(h));
        if (s == nullptr) return nullptr;
        std::shared_ptr<T> out = std::move(s->obj);
        s->obj.reset();
        s->generation = static_cast<std::uint16_t>(s->generation % 0x7fff + 1);  // 1..32767
        free_.push_back(static_cast<std::uint32_t>(s - slots_.data()));
        return out;
    }

    std::vector<handle> all() const {
        std::lock_guard<std::mutex> g(mu_);
        std::vector<handle> out;
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].obj) out.push_back(encode(static_cast<std::uint32_t>(i), slots_[i].generation));
        return out;
    }

    std::size_t size() const {
        std::lock_guard<std::mutex> g(mu_);
        return slots_.size() - free_.size();
    }

private:
    struct slot {
        std::uint16_t generation = 1;
        std::shared_ptr<T> obj;
    };

    static handle encode(std::uint32_t index, std::uint16_t gen) {
        return (static_cast<handle>(gen) << 16) | (index + 1);
    }

    const slot* lookup(handle h) const {
        if (h == 0 || h > 0x7fffffffu) return nullptr;
        const std::uint32_t index = static_cast<std::uint32_t>(h & 0xffff);
        const std::uint16_t gen = static_cast<std::uint16_t>(h >> 16);
        if (index == 0 || index > slots_.size()) return nullptr;
        const slot& s = slots_[index - 1];
        if (s.generation != gen || !s.obj) return nullptr;
        return &s;
    }

    mutable std::mutex mu_;
    std::vector<slot> slots_;
    std::deque<std::uint32_t> free_;
};

}  // namespace lwsp::wsp
