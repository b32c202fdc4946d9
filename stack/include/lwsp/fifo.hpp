// lwsp/fifo.hpp — the queue every socket and endpoint keeps (requests,
// received pbufs, accepted connections): first in, first out, and nothing
// allocated while it has never held anything.
//
// Why not std::deque: libstdc++'s deque allocates its map and a 512-byte
// node when it is constructed, empty or not; four of them made up about
// 2.4 KiB of the 3.4 KiB an idle TCP connection cost (README,
// "Performance").  This is a vector read from an advancing head: push_back
// and pop_front are amortized O(1), the consumed prefix is dropped when it
// is more than half the storage, and the storage is released when the
// queue empties after having held many elements (so a connection that once
// queued a burst does not keep the room for it while idle).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace lwsp::detail {

template <class T>
class fifo {
public:
    using iterator = typename std::vector<T>::iterator;
    using const_iterator = typename std::vector<T>::const_iterator;

    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }

    T& front() { return items_[head_]; }
    const T& front() const { return items_[head_]; }
    T& operator[](std::size_t i) { return items_[head_ + i]; }

    void push_back(T v) {
        if (head_ != 0 && head_ * 2 >= items_.size()) {  // drop the consumed prefix
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        items_.push_back(std::move(v));
    }

    void pop_front() {
        items_[head_] = T{};  // releases what the element owns now, not later
        if (++head_ == items_.size()) clear();
    }

    void clear() {
        head_ = 0;
        if (items_.capacity() > keep_capacity) {
            std::vector<T>().swap(items_);
        } else {
            items_.clear();
        }
    }

    void swap(fifo& other) noexcept {
        items_.swap(other.items_);
        std::swap(head_, other.head_);
    }

    iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    iterator end() { return items_.end(); }
    const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    const_iterator end() const { return items_.end(); }
    // Removes one element; returns the one after it.
    iterator erase(iterator it) {
        const std::ptrdiff_t at = it - items_.begin();
        items_.erase(it);
        if (empty()) {
            clear();
            return end();
        }
        return items_.begin() + at;
    }

private:
    // Storage for this many elements survives emptying (no allocation per
    // request on a busy socket); more is given back.
    static constexpr std::size_t keep_capacity = 8;
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace lwsp::detail
