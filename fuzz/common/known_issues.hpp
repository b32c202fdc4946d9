// known_issues.hpp — findings not fixed yet, and how the harnesses keep
// fuzzing past them.
//
// A finding that fires on almost every input hides everything behind it.
// Until one is fixed, the harness steers around it as narrowly as it can —
// a frame that would make lwIP over-read goes through the port's copying
// path instead of zero-copy (the over-read then stays inside the padded
// copy); a segment that would crash the TCP state machine would not be
// delivered, a call argument would be adjusted — and its minimized input
// stays in fuzz/regressions/<harness>/.  Once the bug is fixed, its entry
// here goes and the regression input checks the fix.
// LWSP_FUZZ_KNOWN_ISSUES=reproduce turns the steering off (to replay a
// regression input, say).
//
// Each entry names the lwIP or lwsp code at fault; fuzz/README.md has the
// analysis.
#pragma once

#include "packet.hpp"

namespace lwsp::fuzz {

enum class known_issue {
    none,
    // lwIP 2.1.3 ip6.c, ip6_input(): the length byte of a Hop-by-Hop,
    // Destination Options or Routing header (and of an option inside the
    // first two) is read before checking that the packet holds it.
    ip6_ext_header_overread,
    // lwIP 2.1.3 nd6.c, nd6_input(): a Neighbor Solicitation, Neighbor
    // Advertisement or Redirect whose first option has length 0 passes the
    // option's length check (p->len < header + 8 * length), and the
    // link-layer address (6 bytes from the option's third byte) is copied
    // into the neighbour cache from past the packet.  lwsp's IPv6 input hook
    // discards such a message (behind extension headers too, and in
    // fragments), and the zeros the stack puts behind every copied frame
    // take any read past it; a zero-copy frame split in two pbufs can carry
    // the message past the hook's view (the first pbuf).  Avoided by not
    // delivering that.
    nd6_lladdr_option_overread,
    // lwIP 2.1.3 nd6.c, nd6_input(): a Redirect's target address becomes
    // the destination's next hop unchecked; the unspecified address (::)
    // matches every unused neighbour cache entry (the lookup compares
    // addresses only), and nd6_get_next_hop_addr_or_queue() queues the
    // packets to that destination on an unused entry, which no timer and
    // no nd6_cleanup_netif() ever frees.  lwsp's IPv6 input hook discards
    // a Redirect whose target is neither link-local nor the destination,
    // behind extension headers too, and neighbour discovery in fragments;
    // left: a zero-copy frame split so that the message lies past the first
    // pbuf.  Avoided by not delivering that.
    nd6_redirect_unspecified_target,
};

// Which known issue `frame` would trigger if lwIP read it from a buffer of
// exactly its length (env::inject_exact).
known_issue zero_copy_known_issue(const test::bytes& frame);

// Which known issue the ICMPv6 message `icmp6` would trigger: behind_ext,
// whether extension headers (a fragment header included) come before it;
// zero_copy, whether its frames go to lwIP zero-copy (env::inject_exact).
known_issue icmp6_known_issue(const test::bytes& icmp6, bool behind_ext, bool zero_copy);

// The same for the ICMPv6 message in a whole Ethernet frame (raw frames; a
// fragment is not followed).
known_issue icmp6_known_issue_in_frame(const test::bytes& frame, bool zero_copy);

// False when LWSP_FUZZ_KNOWN_ISSUES=reproduce.
bool avoid_known_issues();

const char* to_string(known_issue k);

}  // namespace lwsp::fuzz
