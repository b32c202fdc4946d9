// lwsp/pcap_link.hpp — a link that wraps another link and records every
// frame in both directions to a pcap file (Ethernet, microsecond stamps),
// which Wireshark and tshark open.  Links wrap links: capture is not a flag
// inside each port.
//
// Plugging in: open the real port, wrap it, attach the wrapper (the wrapper
// shares ownership of the link it wraps, the stack that of the wrapper):
//     auto cap = std::make_shared<lwsp::pcap_link>(lwsp::tap_link::open(o), "demo.pcap");
//     st.attach(cap, cfg);
// An optional observer sees each frame as it is recorded (direction, bytes).
//
// Threading: as the wrapped link's; the file is guarded by a leaf mutex.
// Timestamps are wall-clock time.  With an offloading link inside, the file
// shows frames as they cross the device, like a capture on a host with
// TSO/GRO: TCP frames longer than the MTU and partial checksums.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "lwsp/link.hpp"

namespace lwsp {

class pcap_link final : public link, private link_sink {
public:
    enum class direction { in, out };  // in: towards the stack
    using observer = std::function<void(direction, const std::uint8_t*, std::size_t)>;

    // Throws std::runtime_error if the file cannot be created.
    // Throws std::invalid_argument for a null link.
    pcap_link(std::shared_ptr<link> inner, const std::string& path, observer obs = {});
    ~pcap_link() override;

    std::size_t mtu() const override { return inner_.mtu(); }
    mac_address mac() const override { return inner_.mac(); }
    void start(link_sink& sink) override;
    link_offloads offloads() const override { return inner_.offloads(); }
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;
    // The wrapped link reads, and delivers through the wrapper, so polling
    // and inline receive go straight to it.
    std::size_t poll() override { return inner_.poll(); }
    bool offers_inline_receive() const override { return inner_.offers_inline_receive(); }
    bool receive_inline(platform::waker& wake, std::uint64_t until_ms) override {
        return inner_.receive_inline(wake, until_ms);
    }
    void hold_receive() override { inner_.hold_receive(); }
    void release_receive(bool read) override { inner_.release_receive(read); }

    std::uint64_t frames_recorded() const;

private:
    void deliver(const void* frame, std::size_t size) override;
    void deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) override;
    void set_link_up(bool up) override;
    void record(direction d, const std::uint8_t* data, std::size_t size);

    std::shared_ptr<link> owner_;
    link& inner_;
    link_sink* outer_ = nullptr;
    observer obs_;
    mutable std::mutex mu_;
    std::FILE* file_ = nullptr;
    std::uint64_t frames_ = 0;
};

}  // namespace lwsp
