// env.hpp — the one stack a fuzzing process has, and how each input gets a
// fresh, identical network in front of it.
//
// lwIP keeps its state in globals, so a process has one lwsp::stack (manual
// clock) and one WSP provider for all its inputs.  What an input could
// change is put back before the next one, so that an input means the same
// whether it runs first or after a million others (libFuzzer replays a
// crash in a new process):
//   * every input gets its own interface: a new memlink with the fixture's
//     addresses (test/unit/support/fixture.hpp), attached by begin() and
//     detached by end(); detaching clears lwIP's ARP and neighbour caches,
//     destination cache, MLD groups and queued packets;
//   * end() takes away what the input left: connections lwIP still holds
//     after every socket closed (FIN_WAIT, TIME_WAIT...) are released as
//     stack::stop() releases them, datagrams awaiting reassembly are aged
//     out by the clock, and the timers are brought back to the same phase
//     (the clock to a whole second, lwIP's TCP timer idle and its
//     slow-timer parity as after lwip_init) and the neighbour-discovery
//     parameters a router advertisement may change to their defaults;
//   * then it checks that nothing leaked: no pcb, no pbuf, no TCP segment,
//     lwIP's heap as before the first input, no provider handle.
// What stays different is the initial sequence numbers and IP ids: the
// harnesses learn sequence numbers from the stack's own segments instead
// of assuming them.
//
// Loopback traffic (a frame from the stack's own address, a socket
// connected to 127.0.0.1) is processed by the stack's driver thread; the
// harness calls settle() after every step, which drains the loopback
// queues itself, so the state after a step does not depend on how far the
// driver got.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "lwsp/lwsp.h"
#include "lwsp/memlink.hpp"
#include "lwsp/stack.hpp"
#include "packet.hpp"

struct netif;

namespace lwsp::fuzz {

using test::bytes;
using test::ip_addr;
using test::mac_addr;

// The fixture's network: the stack and the peer on one link.
struct addresses {
    mac_addr stack_mac = mac_addr::parse("02:00:00:00:00:01");
    mac_addr peer_mac = mac_addr::parse("02:00:00:00:00:02");
    ip_addr stack4 = ip_addr::parse("192.0.2.1");
    ip_addr peer4 = ip_addr::parse("192.0.2.2");
    ip_addr stack6 = ip_addr::parse("2001:db8::1");
    ip_addr peer6 = ip_addr::parse("2001:db8::2");
    ip_addr stack_ll6 = ip_addr::parse("fe80::ff:fe00:1");  // derived from the MAC by lwIP
    ip_addr peer_ll6 = ip_addr::parse("fe80::ff:fe00:2");
    ip_addr stack(bool v6) const { return v6 ? stack6 : stack4; }
    ip_addr peer(bool v6) const { return v6 ? peer6 : peer4; }
};
const addresses& net();

struct link_config {
    std::size_t mtu = 1500;
    bool tx_offloads = false;  // the link announces checksum and segmentation offload
};

class env {
public:
    // The process's environment, created on first use.  `upcalls`: the table
    // given to WSPStartup (lwsp's own handles when null).
    static env& get(const WSPUPCALLTABLE* upcalls = nullptr);

    lwsp::stack& st() { return *stack_; }
    const WSPPROC_TABLE& wsp() const { return wsp_; }
    lwsp::memlink& link() { return *link_; }

    // Attaches a fresh interface for one input.
    void begin(const link_config& cfg);
    // Puts everything back (see above) and checks for leaks; every socket of
    // the input must be closed before.
    void end();

    // Drains the loopback queues (see above).  A step that keeps loopback
    // traffic going forever is a finding.
    void settle();
    // Moves the clock, then settles.
    void advance(std::uint64_t ms);

    // Hands a frame to the stack the way a port does (link_sink::deliver_many:
    // copied, padded to 60 bytes, offload metadata honoured).
    void inject(const bytes& frame, const lwsp::frame_info& info = {});
    // Hands a frame straight to lwIP's Ethernet input in a buffer of exactly
    // its length, cut into two pbufs at `split` when 60 <= split < size:
    // what a zero-copy driver would do (frames shorter than 60 bytes are
    // padded, as a NIC delivers them).  lwsp's ports never deliver this way (their
    // copy pads and rounds up), so a read past the end of a frame shows here
    // and not there; findings in this mode concern lwIP and zero-copy ports.
    void inject_exact(const bytes& frame, std::size_t split);

    // Frames the stack sent since the last call, with their metadata.
    std::vector<std::pair<bytes, lwsp::frame_info>> take();

    // LWSP_FUZZ_TRACE=1 in the environment: the harnesses describe what they
    // do and every frame that crosses the link on stderr (for reading a
    // finding; slow).
    static bool tracing();
    static void trace(const char* fmt, ...);

    ~env() = delete;

private:
    explicit env(const WSPUPCALLTABLE* upcalls);
    struct netif* our_netif();
    void release_leftovers();
    void canonical_timers();
    void check_baseline();

    lwsp::stack* stack_;
    WSPPROC_TABLE wsp_{};
    std::shared_ptr<lwsp::memlink> link_;
    lwsp::interface_id iface_ = 0;
    std::size_t heap_baseline_ = 0;
};

}  // namespace lwsp::fuzz
