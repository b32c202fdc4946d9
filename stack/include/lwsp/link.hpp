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
//  * poll() is called without the core lock by stack::poll() — on bare
//    metal by the main loop and by every blocking call — for a port that
//    has no thread of its own: it reads the device and delivers.
//  * receive_inline() is called without the core lock by a thread about to
//    block in the stack (hosted only), for a port that offers it: that
//    thread waits on the device itself and delivers what it reads, so the
//    frame that satisfies it wakes it directly instead of waking the port's
//    thread, which then wakes it (one thread wake-up per reply instead of
//    two).  The port's own thread goes on reading as before: inline reads
//    only come first, and nothing depends on them.
//  * hold_receive() is called with the core lock held, release_receive()
//    with it (read = false) or without it (read = true): a receive hold,
//    taken by a thread that sent a SYN or a FIN and will read the answer
//    itself (stack::expect_answer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lwsp/address.hpp"

namespace lwsp {

namespace platform {
class waker;  // lwsp/platform.hpp
}

// One contiguous piece of an outgoing frame; a frame is a short list of them
// (headers and payload may live in different buffers).
struct frame_part {
    const void* data;
    std::size_t size;
};

// Offload metadata of one frame, in either direction.  It says what the
// virtio-net header of a Linux TAP device, a virtio NIC or an NDIS
// checksum/LSO offload says, in one portable form.  A plain frame has the
// default value.
struct frame_info {
    enum class checksum : std::uint8_t {
        complete,  // the frame's checksums are final: a receiver verifies them
        partial,   // TCP/UDP: the checksum field holds only the pseudo-header
                   // sum; summing from csum_start to the end and storing the
                   // result at csum_start + csum_offset completes it
        verified,  // receive only: the other side already verified them
    };
    checksum csum = checksum::complete;
    std::uint16_t csum_start = 0;   // partial: offset of the TCP/UDP header in the frame
    std::uint16_t csum_offset = 0;  // partial: offset of the checksum field within it
    // Nonzero: a TCP frame standing for several segments ("TSO"/"GSO"): its
    // payload is cut into gso_size-byte segments (the last may be shorter),
    // each carrying the first segment's headers with the sequence number
    // advanced; PSH and FIN belong to the last one.  Always with `partial`.
    std::uint16_t gso_size = 0;

    bool plain() const { return csum == checksum::complete && gso_size == 0; }
};

// What a link accepts on transmit beyond plain frames.  The stack sends
// offloaded frames only to a link that announces them; whatever a link
// delivers is described frame by frame (frame_info), so there is nothing to
// announce for receiving.
struct link_offloads {
    bool tx_checksum = false;            // takes checksum::partial TCP/UDP frames
    std::size_t tx_tcp_segment_max = 0;  // takes gso_size TCP frames up to this many bytes (0: none)
};

class link_sink {
public:
    // An inbound plain frame.  The bytes are copied before deliver() returns.
    virtual void deliver(const void* frame, std::size_t size) = 0;
    // Several inbound frames, in order; `info` is null (all plain) or holds
    // one entry per frame.  The stack takes its lock once for all of them,
    // so a port that reads frames in batches should hand them over in
    // batches (fewer lock hand-offs and wake-ups per frame).
    virtual void deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) = 0;
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
    // What transmit() accepts beyond plain frames.  Read once, when the
    // link is attached.
    virtual link_offloads offloads() const { return {}; }
    // Send one frame made of `count` parts.  `info` is plain unless
    // offloads() announced otherwise.  Returns false if it was dropped.
    virtual bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) = 0;
    // Stop delivering; release the device.
    virtual void stop() = 0;
    // A polled port: read the device, deliver what arrived to the sink
    // start() gave, and return how many frames it delivered.  Ports with an
    // I/O thread of their own keep the default.
    virtual std::size_t poll() { return 0; }
    // Inline receive: whether receive_inline() can wait on the device.
    // Read once, when the link is attached.
    virtual bool offers_inline_receive() const { return false; }
    // Waits until the device has frames, `wake` is signalled (handle()
    // readable) or the platform clock reaches `until_ms` (UINT64_MAX: no
    // limit), whichever is first; then reads what is ready and delivers it
    // as the port's thread would (in order with its own deliveries), and
    // returns true.  It may return early.  Returns false at once when it
    // cannot wait now (stopped, the device gone): the caller then sleeps
    // as it would without inline receive.  The port consumes `wake`'s
    // signal.  Called by one thread at a time.
    virtual bool receive_inline(platform::waker& wake, std::uint64_t until_ms) {
        (void)wake;
        (void)until_ms;
        return false;
    }
    // Receive holds, for a port that offers inline receive.  A thread
    // inside a WSP call that transmits holds the device's receive side
    // until it leaves the stack: a peer on the same host answers inside the
    // write, and the answer should not wake the port's thread, which would
    // then contend with the holder for the core lock.  hold_receive() is
    // called with the core lock held, before the transmit; it must not
    // block.  Each hold ends with one release_receive(): with `read` (called
    // without the core lock) the port first reads what is ready and
    // delivers it, as receive_inline() does without waiting; without it
    // (under the core lock) it only gives the device back to its thread,
    // which then wakes for whatever is ready.  While any hold lasts, the
    // port's thread may leave the device alone.
    virtual void hold_receive() {}
    virtual void release_receive(bool read) { (void)read; }
};

}  // namespace lwsp
