// lwsp/memlink.hpp — an in-process link: the test (or benchmark) is the
// network.  Frames the stack transmits are captured in order; frames the
// test injects are delivered to the stack synchronously, so by the time
// inject() returns the stack has processed the frame and any immediate
// answer is already captured.
//
// Threading: any thread may inject, take or wait.  inject() takes the
// stack's core lock, so never call it while holding that lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp {

class memlink final : public link {
public:
    using frame = std::vector<std::uint8_t>;

    explicit memlink(mac_address mac, std::size_t mtu = 1500);

    // link
    std::size_t mtu() const override { return mtu_; }
    mac_address mac() const override { return mac_; }
    void start(link_sink& sink) override;
    link_offloads offloads() const override { return offloads_; }
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;

    // What the link claims to accept (default: plain frames only); set it
    // before attaching, to see what the stack sends to an offloading link.
    void set_offloads(const link_offloads& o) { offloads_ = o; }

    // The network side.
    // Delivers `f` (described by `info`) to the stack.  Returns false if the
    // link is not started.
    bool inject(const frame& f, const frame_info& info = {});
    // Frames the stack sent since the last take(), oldest first.
    std::vector<frame> take();
    // The same, with each frame's offload metadata.
    std::vector<std::pair<frame, frame_info>> take_with_info();
    // Waits (real time) until at least `count` frames are waiting to be
    // taken; returns whether they arrived in time.
    bool wait_for(std::size_t count, std::chrono::milliseconds timeout);
    // Carrier up/down, as seen by the stack.
    void set_link_up(bool up);
    // Optional hook on every transmitted frame, called under the core lock
    // (keep it cheap; it must not call back into the stack).
    void on_transmit(std::function<void(const frame&)> hook);
    std::size_t frames_sent() const;

private:
    const mac_address mac_;
    const std::size_t mtu_;
    mutable std::mutex mu_;  // leaf lock: never held while taking the core lock
    std::condition_variable cv_;
    link_sink* sink_ = nullptr;
    link_offloads offloads_;
    std::deque<std::pair<frame, frame_info>> sent_;
    std::size_t total_sent_ = 0;
    std::function<void(const frame&)> hook_;
};

}  // namespace lwsp
