// lwsp/tap_link.hpp — the Linux TAP port: a link over /dev/net/tun
// (IFF_TAP | IFF_NO_PI), with one I/O thread of its own (an epoll loop).
//
// Plugging in: tap_link::open() attaches to an existing TAP device by name
// (created with `ip tuntap add dev NAME mode tap`, typically inside a
// private network namespace — see scripts/netns-run), or creates one when
// options::create is set; attach the
// result to the stack with stack::attach.  The kernel side of the device is
// an ordinary Linux interface: give it an address and the kernel's own
// TCP/IP stack becomes the peer.
//
// Threading: the link runs one I/O thread (started by start(), joined by
// stop()) that waits in epoll and reads frames — as many as are ready per
// wake-up — and hands them to the stack (with their offload metadata).
// transmit() writes at once without blocking; frames the device cannot take
// yet are queued (bounded) and flushed by the I/O thread when the
// descriptor becomes writable, in order.  lwIP's timers are not the port's
// business: the stack's driver thread runs them.  The port offers inline
// receive (link::receive_inline): a thread about to block in the stack polls
// the device beside its waker and delivers what it reads itself, and while
// it does the device is out of the I/O thread's epoll set, so the frame
// wakes one thread, not two; reads from either thread are serialised, so
// frames keep their order.  Receive holds (link::hold_receive) take the
// device out of the set the same way, from a SYN, a FIN or a connection's
// first data until the sending thread has read the answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "lwsp/link.hpp"

namespace lwsp {

// Opening the device failed; what() says why and what to do.
class tap_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class tap_link final : public link {
public:
    struct options {
        std::string name = "lwsp0";                                // the device's name
        std::size_t mtu = 1500;                                    // IP MTU, 576..65535 (set the kernel side to match)
        mac_address mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};  // the stack's MAC
        std::size_t max_queued_frames = 4096;                      // transmit queue while the device is busy
        // Create the device when it does not exist (in the calling thread's
        // network namespace).  Off by default: attaching to a device the
        // scripts made inside a private namespace is the safe default, and a
        // typo then fails instead of creating a stray device.
        bool create = false;
        // Offloads through a virtio-net header (IFF_VNET_HDR +
        // TUNSETOFFLOAD): the kernel hands over TCP frames standing for up
        // to 64 KiB of segments with checksums left partial, and takes the
        // same from the stack, which merges consecutive segments (see
        // stack/src/tx_offload.hpp).  What the peer's TCP sees is unchanged:
        // segments of the negotiated MSS.  Falls back to plain frames when
        // the kernel refuses; offloading() says which.
        bool offload = true;
        // Busy polling (as Linux's SO_BUSY_POLL): after delivering frames the
        // reader keeps reading for this long before it sleeps again, so a
        // quick reply costs no thread wake-up.  Off by default: it trades a
        // core's idle time for latency (measured in README, Performance).
        std::chrono::microseconds busy_poll{0};
    };

    static std::unique_ptr<tap_link> open(const options& opts);
    ~tap_link() override;

    std::size_t mtu() const override;
    mac_address mac() const override;
    link_offloads offloads() const override;
    void start(link_sink& sink) override;
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;
    bool offers_inline_receive() const override;
    bool receive_inline(platform::waker& wake, std::uint64_t until_ms) override;
    void hold_receive() override;
    void release_receive(bool read) override;

    struct counters {
        std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
        std::uint64_t queued = 0;   // frames that had to wait for the device
        std::uint64_t dropped = 0;  // frames dropped because the queue was full
        std::uint64_t frames_in_inline =
            0;  // of frames_in: read by a stack thread (inline wait or hold), not the port's
    };
    counters stats() const;
    const std::string& name() const;
    bool offloading() const;  // the kernel accepted the offloads

    struct impl;

private:
    explicit tap_link(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace lwsp
