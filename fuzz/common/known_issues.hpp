// known_issues.hpp — findings not fixed yet, and how the harnesses keep
// fuzzing past them.
//
// A finding that fires on almost every input hides everything behind it.
// Until one is fixed, the harness steers around it as narrowly as it can —
// a frame that would make lwIP over-read goes through the port's copying
// path instead of zero-copy (the over-read then stays inside the padded
// copy), a segment that would crash the TCP state machine is not
// delivered, a call argument is adjusted — and its minimized input stays in
// fuzz/regressions/<harness>/.  Once the bug is fixed, its entry here goes
// and the regression input checks the fix.  LWSP_FUZZ_KNOWN_ISSUES=reproduce
// turns the steering off (to replay a regression input, say).
//
// Each entry names the lwIP or lwsp code at fault; fuzz/README.md has the
// analysis.
#pragma once

#include "lwsp/stack.hpp"
#include "packet.hpp"

namespace lwsp::fuzz {

enum class known_issue {
    none,
    // lwIP 2.1.3 ip6.c, ip6_input(): the length byte of a Hop-by-Hop,
    // Destination Options or Routing header (and of an option inside the
    // first two) is read before checking that the packet holds it.
    ip6_ext_header_overread,
    // lwIP 2.1.3 tcp_in.c, tcp_parseopt(): an option kind other than EOL/NOP
    // in the last byte of the options makes it read the length byte after
    // them.
    tcp_option_overread,
    // TCP inside IP fragments: what the reassembled packet's pbufs look
    // like cannot be told from one fragment, so zero-copy TCP fragments
    // are avoided while tcp_option_overread stands.
    tcp_fragment,
    // lwIP 2.1.3 tcp_in.c, tcp_receive(): an in-sequence segment trimmed
    // to the receive window that covers a FIN queued out of order takes that
    // FIN over, and tcplen ends one past rcv_wnd: LWIP_ASSERT("tcp_receive:
    // tcplen > rcv_wnd") aborts the process (without assertions rcv_wnd
    // wraps).  Avoided by not delivering such a segment (the harness looks
    // at the pcb's out-of-order queue first).
    tcp_ooseq_fin_past_window,
    // lwIP 2.1.3 tcp_in.c, tcp_receive(): the first segment queued out of
    // order (pcb->ooseq empty), or one replacing a shorter queued segment
    // with the same sequence number, is not trimmed to the receive window;
    // once the hole before it fills and the window has shrunk,
    // LWIP_ASSERT("tcp_receive: ooseq tcplen > rcv_wnd") aborts.  Avoided by
    // not delivering such a segment.
    tcp_ooseq_past_window,
    // lwsp stack/src/tcp_endpoint.cpp, on_recv(): data after SD_RECEIVE is
    // answered with tcp_abort(), expecting on_err to clear the endpoint's
    // pcb; but when the same segment carries the peer's FIN after ours was
    // acknowledged, lwIP has already moved the pcb to TIME_WAIT, and
    // tcp_abandon() frees a TIME_WAIT pcb without calling on_err: the
    // endpoint keeps a dangling pcb (use after free on the next call).
    // Avoided by not delivering data with a FIN (or filling a hole before a
    // queued FIN) to a connection in FIN_WAIT_1/2 whose socket shut down
    // receiving.
    sd_receive_fin_use_after_free,
    // lwsp spi_shim/src/io_calls.cpp, WSPSelect(): fd_array[i] indexed past
    // FD_SETSIZE (64) for a client's larger fd_set (UB: array bounds).
    // Avoided by keeping fd_count at most 64.
    select_fd_array_bounds,
    // lwsp spi_shim/src/transport.cpp, scatter(): a receive into several
    // WSABUFs calls memcpy with a zero-length buffer's NULL pointer (UB).
    // Avoided by giving zero-length receive buffers an address.
    recv_null_zero_length_wsabuf,
};

// Which known issue `frame` would trigger if lwIP read it from a buffer of
// exactly its length (env::inject_exact).
known_issue zero_copy_known_issue(const test::bytes& frame);

// Whether the TCP segment `l4` (header and payload, from the peer's port
// to the stack's) would hit tcp_ooseq_fin_past_window in the connection
// it belongs to.  Takes the core lock.
bool tcp_ooseq_fin_past_window_predicted(lwsp::stack& st, const test::bytes& l4);

// Whether the TCP segment `l4` would be queued out of order past the
// window's right edge untrimmed (tcp_ooseq_past_window).  Core lock taken.
bool tcp_ooseq_past_window_predicted(lwsp::stack& st, const test::bytes& l4);

// Whether the TCP segment `l4` would hit sd_receive_fin_use_after_free,
// given that its connection's socket shut down receiving.  Core lock taken.
bool sd_receive_fin_predicted(lwsp::stack& st, const test::bytes& l4);

// False when LWSP_FUZZ_KNOWN_ISSUES=reproduce.
bool avoid_known_issues();

const char* to_string(known_issue k);

}  // namespace lwsp::fuzz
