// Internal: transmit offloads for links that announce them (link_offloads).
//
// lwIP always computes checksums and cuts TCP data into MSS-sized segments,
// one frame each.  For a link that finishes checksums itself and accepts
// TCP frames standing for several segments (a Linux TAP device with a
// virtio-net header, a NIC with LSO), that is one device write and one
// receive-path run in the peer per segment.  tx_offload sits between lwIP's
// link output and the link:
//
//  * every TCP frame leaves with checksum::partial (the field lwIP filled
//    is overwritten with the pseudo-header sum);
//  * consecutive data segments of one connection — contiguous sequence
//    numbers, identical headers, equal sizes, at most the last one shorter or
//    carrying PSH — are held back and merged into one frame with gso_size
//    set to the segment size; cut by whoever segments it (the kernel when
//    forwarding, a NIC), it gives back exactly the segments lwIP produced,
//    and a local receiver takes it as one large segment, as after GRO;
//  * anything else (ACKs, SYN/FIN/RST, other protocols) first flushes what
//    is held back, so frames never overtake each other.
//
// The interface calls flush() before the core lock is released, so nothing
// waits longer than the lwIP call that produced it.  Pure frame bytes: no
// lwIP types here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp::detail {

class tx_offload {
public:
    tx_offload(link& l, const link_offloads& o);

    // One frame from lwIP.  Returns false if the link dropped it (a frame
    // held back for merging counts as accepted).
    bool send(const frame_part* parts, std::size_t count);
    // Hands over what is held back.  Returns false if the link dropped it.
    bool flush();
    bool holding() const { return segments_ > 0; }

    struct counters {
        std::uint64_t frames = 0;          // frames handed to the link
        std::uint64_t merged_frames = 0;   // of which carried several segments
        std::uint64_t segments = 0;        // TCP data segments in merged frames
        std::uint64_t dropped_frames = 0;  // of all frames, ones the link refused
    };
    const counters& stats() const { return stats_; }

private:
    struct tcp_frame;  // a parsed frame
    bool start(const tcp_frame& f, const frame_part* parts, std::size_t count);
    bool can_append(const tcp_frame& f) const;
    bool counted(bool accepted);  // counts a refused frame
    void append(const tcp_frame& f, const frame_part* parts, std::size_t count);

    link& link_;
    const std::size_t max_;  // 0: checksum offload only, no merging
    // The frame being built: headers of the first segment, then payloads.
    std::vector<std::uint8_t> buf_;
    std::size_t hdr_len_ = 0, l4_off_ = 0;
    std::size_t segments_ = 0, seg_size_ = 0, last_size_ = 0;
    std::uint32_t next_seq_ = 0;
    bool last_psh_ = false;
    counters stats_;
};

// Whether an Ethernet frame carries an IPv4 or IPv6 fragment (the receive
// path trusts a link's checksum flags only for whole datagrams).
bool ip_fragment(const std::uint8_t* frame, std::size_t size);

}  // namespace lwsp::detail
