// lwsp/soft_offload.hpp — what a NIC (or the Linux kernel) does to a frame
// that carries offload metadata before the frame goes on a wire, done in
// software: finish a partial checksum, cut a frame that stands for several
// TCP segments (frame_info::gso_size) into those segments.
//
// Why: a frame marked partial, verified or gso_size exists only between a
// stack and its device; the wire carries plain frames.  Code that must see
// or change a frame as the wire carries it needs this — the fault decorator
// (ports/fault) before it flips bits or impairs one segment of a merged
// frame, and the offload tests, which check that what the stack hands a
// link becomes exactly lwIP's own segments.  One implementation for both.
//
// Pure functions on bytes; no lwIP, no state, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp {

using frame_bytes = std::vector<std::uint8_t>;

// Completes a checksum::partial frame in place: sums from csum_start to the
// end of the frame, with the checksum field as it is (the pseudo-header
// sum), and stores the complement at csum_start + csum_offset.  Returns
// false, changing nothing, when the offsets do not fit the frame.
bool complete_partial_checksum(std::uint8_t* frame, std::size_t size, const frame_info& info);

// Appends to `out` the plain frames a wire carries for `frame`:
//  * a plain frame: itself;
//  * checksum::partial: the checksum completed (above);
//  * checksum::verified: the TCP or UDP checksum computed afresh (the link
//    vouched for it; the field need not hold it); other protocols as they are;
//  * gso_size: the segments it stands for, as Linux's TSO/GSO cuts them —
//    the first segment's headers on each, the sequence number advanced,
//    PSH and FIN on the last segment only, CWR on the first only; IPv4:
//    total length set, identification advanced by one per segment, header
//    checksum recomputed; IPv6: payload length set; every TCP checksum
//    computed afresh.  The TCP header starts at csum_start.
// Returns false, appending nothing, when the metadata does not fit the
// frame (a gso_size frame that is no TCP segment over IPv4 or IPv6,
// offsets past its end).
bool to_wire_frames(const std::uint8_t* frame, std::size_t size, const frame_info& info, std::vector<frame_bytes>& out);

}  // namespace lwsp
