// fixture.hpp — a stack on an in-memory link with a scripted peer on the
// other end: the standard setting of the unit tests.
//
//   stack 192.0.2.1/24, 2001:db8::1   mac 02:00:00:00:00:01
//   peer  192.0.2.2,    2001:db8::2   mac 02:00:00:00:00:02
//
// The clock is manual unless asked otherwise.  pump() collects what the
// stack sent, answering its ARP and neighbour solicitations for the peer on
// the way, so tests see only the traffic they script.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lwsp/memlink.hpp"
#include "lwsp/stack.hpp"
#include "packet.hpp"
#include "scripted_peer.hpp"

namespace lwsp::test {

// Puts a decorator (fault_link, say) between the stack and the memlink:
// the stack is attached to what it returns, the test keeps `link`, the
// network side beneath it.
using link_wrapper = std::function<std::shared_ptr<lwsp::link>(std::shared_ptr<lwsp::memlink>)>;

class lan {
public:
    // `offloads`: what the memlink claims to accept on transmit (set before
    // the interface is attached, which is when the stack reads it).
    explicit lan(bool manual_clock = true, lwsp::link_offloads offloads = {}, const link_wrapper& wrap = {});
    // Any stack options (a manual clock unless they say otherwise).
    explicit lan(const lwsp::stack::options& opts, lwsp::link_offloads offloads = {}, const link_wrapper& wrap = {});
    ~lan();

    lwsp::stack st;
    std::shared_ptr<lwsp::memlink> link_owner;  // shared with the stack once attached
    lwsp::memlink& link;
    lwsp::interface_id iface = 0;
    scripted_peer peer4;
    scripted_peer peer6;

    scripted_peer& peer(bool v6) { return v6 ? peer6 : peer4; }

    // Frames the stack sent since the last pump, resolution and MLD
    // traffic removed.  Every frame seen is appended to `transcript`.
    std::vector<parsed_frame> pump();
    // pump(), TCP segments only (for `port` on the stack's side, if set).
    std::vector<tcp_segment> tcp_out(std::uint16_t stack_port = 0);
    // Real-time wait (threaded tests) until the stack has sent something,
    // then pump().
    std::vector<parsed_frame> wait_pump(int timeout_ms = 2000);

    // Moves the manual clock in steps of `step` ms (lwIP's timers need no
    // bigger steps), answering resolution requests between steps.
    void advance(int ms, int step = 250);

    std::string transcript;  // describe() of every frame the stack sent
};

// Sends the peer's side of a handshake with a listener on `stack_port` and
// completes it.  Returns false if the stack did not answer SYN with SYN-ACK.
bool handshake(lan& net, tcp_script& conn);

}  // namespace lwsp::test
