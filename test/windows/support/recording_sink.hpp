// recording_sink — a link_sink that keeps what a port hands the stack:
// every frame, byte for byte, and every carrier change, in order, with
// waits for them (the port's threads deliver).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp_test {

class recording_sink : public lwsp::link_sink {
public:
    using frame = std::vector<std::uint8_t>;

    recording_sink() = default;
    ~recording_sink() = default;
    recording_sink(const recording_sink&) = delete;
    recording_sink& operator=(const recording_sink&) = delete;

    void deliver(const void* frame, std::size_t size) override;
    void deliver_many(const lwsp::frame_part* frames, std::size_t count, const lwsp::frame_info* info) override;
    void set_link_up(bool up) override;

    std::vector<frame> frames() const;
    std::vector<bool> link_changes() const;
    std::size_t batches() const;  // deliver/deliver_many calls
    bool wait_frames(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
    bool wait_link_changes(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

private:
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::vector<frame> frames_;
    std::vector<bool> links_;
    std::size_t batches_ = 0;
};

}  // namespace lwsp_test
