#include "recording_sink.hpp"

namespace lwsp_test {

void recording_sink::deliver(const void* frame, std::size_t size) {
    const lwsp::frame_part one{frame, size};
    deliver_many(&one, 1, nullptr);
}

void recording_sink::deliver_many(const lwsp::frame_part* frames, std::size_t count, const lwsp::frame_info*) {
    std::lock_guard<std::mutex> g(mu_);
    ++batches_;
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(frames[i].data);
        frames_.emplace_back(p, p + frames[i].size);
    }
    cv_.notify_all();
}

void recording_sink::set_link_up(bool up) {
    std::lock_guard<std::mutex> g(mu_);
    links_.push_back(up);
    cv_.notify_all();
}

std::vector<recording_sink::frame> recording_sink::frames() const {
    std::lock_guard<std::mutex> g(mu_);
    return frames_;
}

std::vector<bool> recording_sink::link_changes() const {
    std::lock_guard<std::mutex> g(mu_);
    return links_;
}

std::size_t recording_sink::batches() const {
    std::lock_guard<std::mutex> g(mu_);
    return batches_;
}

bool recording_sink::wait_frames(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return frames_.size() >= count; });
}

bool recording_sink::wait_link_changes(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return links_.size() >= count; });
}

}  // namespace lwsp_test
