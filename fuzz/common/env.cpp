// The fuzzing environment: see env.hpp.
#include "env.hpp"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "check.hpp"
#include "known_issues.hpp"
#include "lwip/ip6_frag.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/priv/nd6_priv.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "provider.hpp"

namespace lwsp::fuzz {

namespace {

// A frame in a buffer of exactly its size, owned by lwIP once input.
struct exact_pbuf {
    struct pbuf_custom pc;
    std::uint8_t* mem;
};
std::atomic<long> g_exact_alive{0};

void free_exact(struct pbuf* p) {
    auto* e = reinterpret_cast<exact_pbuf*>(p);
    std::free(e->mem);
    delete e;
    --g_exact_alive;
}

struct pbuf* make_exact(const std::uint8_t* data, std::size_t n) {
    auto* e = new exact_pbuf{};
    e->mem = static_cast<std::uint8_t*>(std::malloc(n == 0 ? 1 : n));
    std::memcpy(e->mem, data, n);
    e->pc.custom_free_function = free_exact;
    ++g_exact_alive;
    return pbuf_alloced_custom(PBUF_RAW, static_cast<u16_t>(n), PBUF_REF, &e->pc, e->mem, static_cast<u16_t>(n));
}

bool loop_pending() {
    struct netif* n;
    NETIF_FOREACH(n) {
        if (n->loop_first != nullptr) return true;
    }
    return false;
}

}  // namespace

const addresses& net() {
    static const addresses a;
    return a;
}

env& env::get(const WSPUPCALLTABLE* upcalls) {
    static env* e = new env(upcalls);  // never destroyed: lwIP outlives every input
    return *e;
}

env::env(const WSPUPCALLTABLE* upcalls) {
    lwsp::stack::options o;
    o.manual_clock = true;
    stack_ = new lwsp::stack(o);
    WSPDATA data{};
    WSPUPCALLTABLE none{};
    const int r = WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls ? *upcalls : none, &wsp_);
    LWSP_FUZZ_CHECK(r == 0, "WSPStartup: %d", r);
    heap_baseline_ = stack_->stats().heap_bytes;
    canonical_timers();
}

struct netif* env::our_netif() {
    struct netif* n;
    NETIF_FOREACH(n) {
        if (n->name[0] == 'l' && n->name[1] == 'w') return n;
    }
    return nullptr;
}

void env::begin(const link_config& cfg) {
    link_ = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"), cfg.mtu);
    if (cfg.tx_offloads) {
        lwsp::link_offloads o;
        o.tx_checksum = true;
        o.tx_tcp_segment_max = 65535;
        link_->set_offloads(o);
    }
    lwsp::interface_config ic;
    ic.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                                *lwsp::ipv4_address::parse("0.0.0.0")};
    ic.ipv6 = {*lwsp::ipv6_address::parse("2001:db8::1")};
    iface_ = stack_->attach(link_, ic);
    link_->take();  // MLD reports of the new interface
}

void env::settle() {
    auto lk = stack_->lock();
    for (int round = 0; loop_pending(); ++round) {
        LWSP_FUZZ_CHECK(round < 10000, "loopback traffic does not stop (10000 rounds)");
        netif_poll_all();
    }
}

void env::advance(std::uint64_t ms) {
    stack_->advance_time(lwsp::millis(ms));
    settle();
}

void env::inject(const bytes& frame, const lwsp::frame_info& info) {
    if (tracing()) trace("  peer > %s%s", test::describe(frame).c_str(), info.plain() ? "" : " (offload metadata)");
    link_->inject(frame, info);
    settle();
}

void env::inject_exact(const bytes& given, std::size_t split) {
    if (given.empty() || given.size() > 0xffff) return;
    // What a NIC hands over: at least a minimum-size frame (60 bytes without
    // FCS), the first buffer at least that long.  lwIP reads fixed-size
    // headers before it checks the length (docs/design.md: frames shorter
    // than 60 bytes are padded by the stack for the same reason).
    bytes frame = given;
    if (frame.size() < 60) frame.resize(60, 0);
    if (split < 60) split = 0;
    if (tracing()) trace("  peer > %s (zero-copy, split at %zu)", test::describe(frame).c_str(), split);
    if (avoid_known_issues() && zero_copy_known_issue(frame) != known_issue::none) {
        trace("  (known issue %s: delivered by copy instead)", to_string(zero_copy_known_issue(frame)));
        inject(frame);  // steered around a known, unfixed finding (known_issues.hpp)
        return;
    }
    {
        auto lk = stack_->lock();
        struct netif* n = our_netif();
        if (n == nullptr) return;
        struct pbuf* p;
        if (split > 0 && split < frame.size()) {
            p = make_exact(frame.data(), split);
            pbuf_cat(p, make_exact(frame.data() + split, frame.size() - split));
        } else {
            p = make_exact(frame.data(), frame.size());
        }
        if (n->input(p, n) != ERR_OK) pbuf_free(p);
    }
    settle();
}

std::vector<std::pair<bytes, lwsp::frame_info>> env::take() {
    auto frames = link_->take_with_info();
    if (tracing())
        for (const auto& f : frames) trace("  stack> %s", test::describe(f.first).c_str());
    return frames;
}

bool env::tracing() {
    static const bool on = std::getenv("LWSP_FUZZ_TRACE") != nullptr;
    return on;
}

void env::trace(const char* fmt, ...) {
    if (!tracing()) return;
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
}

void env::release_leftovers() {
    auto lk = stack_->lock();
    // Every socket is closed: a listening, bound or UDP pcb left now is one
    // the shim or an endpoint forgot.
    LWSP_FUZZ_CHECK(tcp_listen_pcbs.listen_pcbs == nullptr, "a listening pcb outlived its socket");
    LWSP_FUZZ_CHECK(tcp_bound_pcbs == nullptr, "a bound TCP pcb outlived its socket");
    LWSP_FUZZ_CHECK(udp_pcbs == nullptr, "a UDP pcb outlived its socket");
    // Connections lwIP finishes on its own (FIN_WAIT, LAST_ACK, TIME_WAIT)
    // would live on for minutes of retransmissions: released without a
    // segment, as stack::stop() does.
    while (tcp_active_pcbs != nullptr) tcp_abandon(tcp_active_pcbs, 0);
    while (tcp_tw_pcbs != nullptr) tcp_abandon(tcp_tw_pcbs, 0);
}

void env::canonical_timers() {
    // The TCP timer stops one tick after the last pcb; the cyclic timers
    // (100 ms and 1 s) are in phase again on a whole second.
    const std::uint64_t now = static_cast<std::uint64_t>(stack_->now().count());
    const std::uint64_t target = (now + 300) / 1000 * 1000 + 1000;
    stack_->advance_time(lwsp::millis(target - now));
    auto lk = stack_->lock();
    // tcp_tmr runs the slow timer every second call; a fresh lwIP runs it on
    // the first.  One or two idle calls put the parity back.
    const u32_t ticks = tcp_ticks;
    tcp_tmr();
    if (tcp_ticks != ticks) tcp_tmr();
    // A router advertisement may have changed these.
    reachable_time = LWIP_ND6_REACHABLE_TIME;
    retrans_timer = LWIP_ND6_RETRANS_TIMER;
}

void env::check_baseline() {
    const lwsp::stack_stats s = stack_->stats();
    LWSP_FUZZ_CHECK(s.tcp_pcbs == 0 && s.udp_pcbs == 0, "pcbs left: tcp %zu udp %zu", s.tcp_pcbs, s.udp_pcbs);
    LWSP_FUZZ_CHECK(s.pbufs == 0, "%zu pbufs leaked", s.pbufs);
    LWSP_FUZZ_CHECK(s.tcp_segments == 0, "%zu TCP segments leaked", s.tcp_segments);
    LWSP_FUZZ_CHECK(s.heap_bytes == heap_baseline_, "lwIP heap %zu bytes, %zu before the first input", s.heap_bytes,
                    heap_baseline_);
    LWSP_FUZZ_CHECK(g_exact_alive == 0, "%ld zero-copy frames never freed", g_exact_alive.load());
    LWSP_FUZZ_CHECK(lwsp::wsp::provider().handles.size() == 0, "%zu socket handles left after closing every socket",
                    lwsp::wsp::provider().handles.size());
}

void env::end() {
    release_leftovers();
    stack_->detach(iface_);
    link_.reset();
    settle();
    // Fragments waiting for the rest of their datagram age out after
    // IP_REASS_MAXAGE (15 s) and IPV6_REASS_MAXAGE (60 s) timer ticks.
    bool reassembling;
    {
        auto lk = stack_->lock();
        reassembling = lwip_stats.memp[MEMP_REASSDATA]->used != 0 || lwip_stats.memp[MEMP_IP6_REASSDATA]->used != 0;
    }
    if (reassembling) stack_->advance_time(lwsp::millis(62000));
    canonical_timers();
    check_baseline();
}

}  // namespace lwsp::fuzz
