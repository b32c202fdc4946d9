// lwsp/link.hpp — the one contract between the stack and a driver ("port").
//
// A link moves Ethernet II frames (destination MAC first, no preamble, no
// FCS) between the stack and some network: a Linux TAP device, a Windows
// adapter, NDISUIO on CE, or memory (ports/memlink).  A port implements
// `link`; the stack attaches a `link_sink` to it.  Ports never see lwIP.
//
// Threading rules:
//  * transmit() is called with the stack's core lock held, from whatever
//    thread is inside the stack.  It must not block and must not call back
//    into the stack (no sink calls); queue or drop instead.
//  * link_sink calls (deliver, set_link_up) may come from any thread —
//    typically the port's own I/O thread — but never from inside transmit().
//    They take the core lock themselves.
//  * start() and stop() are called without the core lock.  After stop()
//    returns the port must not touch the sink again.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lwsp/address.hpp"

namespace lwsp {

// One contiguous piece of an outgoing frame; a frame is a short list of them
// (headers and payload may live in different buffers).
struct frame_part {
    const void* data;
    std::size_t size;
};

class link_sink {
public:
    // An inbound frame.  The bytes are copied before deliver() returns.
    virtual void deliver(const void* frame, std::size_t size) = 0;
    // Several inbound frames, in order.  The stack takes its lock once for
    // all of them, so a port that reads frames in batches should hand them
    // over in batches (fewer lock hand-offs and wake-ups per frame).
    virtual void deliver_many(const frame_part* frames, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) deliver(frames[i].data, frames[i].size);
    }
    // Carrier state.  A link starts "up" unless it says otherwise.
    virtual void set_link_up(bool up) = 0;

protected:
    ~link_sink() = default;
};

class link {
public:
    virtual ~link() = default;
    // IP MTU in bytes (1500 for standard Ethernet; excludes the 14-byte
    // Ethernet header).  Read once, when the link is attached.
    virtual std::size_t mtu() const = 0;
    virtual mac_address mac() const = 0;
    // Begin delivering frames to `sink`.
    virtual void start(link_sink& sink) = 0;
    // Send one frame made of `count` parts.  Returns false if it was dropped.
    virtual bool transmit(const frame_part* parts, std::size_t count) = 0;
    // Stop delivering; release the device.
    virtual void stop() = 0;
};

}  // namespace lwsp
