// mirror.hpp — the network as a mirror, so that two of the stack's own
// sockets talk to each other over its link: two complete TCPs, with
// retransmission, reassembly and close handshakes, and nothing scripted.
//
// Every IP frame the stack sends to the peer's address (192.0.2.2,
// 2001:db8::2) comes back with source and destination swapped — MAC and IP,
// ports untouched.  A connection from the stack to peer:P thus arrives at
// the stack's own listener on P, from peer:(the client's port), and the
// replies travel the same way back.  Swapping leaves every checksum valid:
// the pseudo-header sum does not depend on the order of the addresses, nor
// the IPv4 header checksum on the order of its words.  Address resolution
// for the peer is answered on the way (scripted_peer).
//
// With a fault_link between the stack and the memlink, every segment
// crosses the impaired link twice (out, then back in): a loss rate r per
// crossing loses 1 - (1 - r)^2 of the segments end to end.
#pragma once

#include <cstddef>

#include "fixture.hpp"
#include "packet.hpp"

namespace lwsp::test {

// Swaps source and destination of an IPv4 or IPv6 frame the stack sent to
// `peer`; false (frame untouched) for anything else.
bool mirror_frame(bytes& frame, const ip_addr& stack, const ip_addr& peer);

// Takes everything the stack sent, answers resolution for the peer, mirrors
// the rest back into the stack, and repeats until the stack sends nothing
// more.  Returns the number of frames taken.  Call without the core lock.
std::size_t reflect(lan& net);

}  // namespace lwsp::test
