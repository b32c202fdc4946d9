// The stack core: lwIP start-up, the core lock, the clock, the driver thread
// and interface attachment.  Design notes: docs/design.md ("Stack core").
#include "lwsp/stack.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"
#include "lwsp_hooks.h"
#include "stack_impl.hpp"
#include "tx_offload.hpp"

namespace lwsp {

namespace {

std::atomic<stack*> g_current{nullptr};
std::atomic<std::size_t> g_objects{0};
bool g_lwip_initialised = false;  // lwip_init() may run once per process

bool loop_queues_pending() {
    struct netif* n;
    NETIF_FOREACH(n) {
        if (n->loop_first != nullptr) return true;
    }
    return false;
}

// Checksum checks lwIP skips for a frame whose link says its checksums are
// partial (finished by nobody: the frame never left the machine) or already
// verified.  The IPv4 header checksum is always complete.
// The shortest Ethernet frame a NIC delivers (64 bytes on the wire, FCS
// removed).
constexpr std::size_t min_frame = 60;
// Zeros behind every inbound frame, inside its buffer (deliver_many).
constexpr std::size_t input_slack = 64;

constexpr u16_t trusted_checks =
    NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP | NETIF_CHECKSUM_CHECK_ICMP | NETIF_CHECKSUM_CHECK_ICMP6;

#if !LWSP_BARE_METAL
// Receive holds (docs/design.md, "Inline receive"): a hold lasts from
// stack::expect_answer() until the same thread releases the core lock, so
// it is the thread's, and a thread never ends with one.
//
// Trivially destructible on purpose, so that no destructor runs for it at
// thread exit: mingw-w64's emulated TLS may free a thread_local's storage
// before it runs the object's destructor (lwsp/platform.hpp, thread_slot).
// With a shared_ptr member here, the Windows build's soak test failed under
// Wine about one run in eight: a listening socket still in the handle table
// lost its last reference (a release nobody owned), or a stream's bytes came
// out wrong.  So the hold's reference to its link lives on the heap, for the
// length of the hold.
struct thread_hold {
    std::shared_ptr<link>* held = nullptr;  // the link this thread holds (owned; null: none)
    bool unread = false;                    // an answer may have come since this thread last read the device
    int in_sink = 0;                        // inside a link_sink call: a port's thread, or an inline reader
};
static_assert(std::is_trivially_destructible_v<thread_hold>, "a per-thread variable has no destructor: see above");
LWSP_THREAD_STORAGE thread_hold this_hold;
#endif

// Marks a link_sink call: the calling thread may hold the port's read lock,
// so it must neither take a hold nor read at a release.  (Bare metal has no
// holds.)
class sink_call {
public:
#if !LWSP_BARE_METAL
    sink_call() { ++this_hold.in_sink; }
    ~sink_call() { --this_hold.in_sink; }
#else
    sink_call() {}
#endif
    sink_call(const sink_call&) = delete;
    sink_call& operator=(const sink_call&) = delete;
};

}  // namespace

// ---- interfaces -----------------------------------------------------------

// One attached link: owns the lwIP netif and is the link's sink.
class interface final : public link_sink {
public:
    interface(stack& s, std::shared_ptr<link> l, interface_config cfg)
        : stack_(s), owner_(std::move(l)), link_(*owner_), cfg_(std::move(cfg)) {
        // Offloads need the link to finish checksums: a frame standing for
        // several segments cannot carry one checksum for each.
        const link_offloads o = link_.offloads();
        if (o.tx_checksum) tx = std::make_unique<detail::tx_offload>(link_, o);
    }

    void deliver(const void* frame, std::size_t size) override {
        const frame_part one{frame, size};
        deliver_many(&one, 1, nullptr);
    }

    void deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) override {
        const sink_call mark;
        core_lock lk(stack_);
        stack::impl::of(stack_).assert_held();
        if (!active) return;
        for (std::size_t i = 0; i < count; ++i) {
            const auto* data = static_cast<const std::uint8_t*>(frames[i].data);
            const std::size_t size = frames[i].size;
            if (size < 14) continue;
            // A pbuf holds at most 64 KiB - 1.  A longer frame (a GSO frame
            // whose IP datagram is 65535 bytes) still fits once its Ethernet
            // header is gone: IP frames skip ethernet_input, which for IP
            // does nothing but strip that header.
            const std::uint16_t type = static_cast<std::uint16_t>(data[12] << 8 | data[13]);
            const bool ip_only = size > 0xffff;
            if (ip_only && (size - 14 > 0xffff || (type != 0x0800 && type != 0x86dd))) continue;
            const std::size_t skip = ip_only ? 14 : 0;
            // lwIP expects what a NIC delivers: at least a minimum-size
            // Ethernet frame (60 bytes without FCS).  Shorter ones are
            // padded with zeros, as the sender's NIC should have done, so
            // that lwIP's fixed-size header reads (ARP's 28 bytes, the IPv4
            // total length) stay inside the buffer; every length a header
            // claims is then checked by lwIP against the frame.
            //
            // Behind the frame, inside the same buffer, `input_slack` more
            // zeros: lwIP 2.1.3 reads a few bytes past what a header says
            // in places (an ND option of length 0 has its 6-byte address
            // copied from behind the packet, fuzz/README.md), and those
            // reads must find zeros of ours, not a neighbour's heap.
            const std::size_t len = std::max(size - skip, min_frame);
            const std::size_t room = std::min<std::size_t>(len + input_slack, 0xffff);
            stack::impl::of(stack_).allocating_inbound = true;
            struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(room), PBUF_RAM);
            stack::impl::of(stack_).allocating_inbound = false;
            if (p == nullptr) continue;  // out of memory: dropped, as a NIC would
            pbuf_take(p, data + skip, static_cast<u16_t>(size - skip));
            std::memset(static_cast<std::uint8_t*>(p->payload) + (size - skip), 0, room - (size - skip));
            p->len = p->tot_len = static_cast<u16_t>(len);  // one PBUF_RAM pbuf: the slack stays allocated
            const frame_info fi = info != nullptr ? info[i] : frame_info{};
            // Partial or verified checksums are not checked — for whole
            // datagrams only: a fragment's flag would carry over to the
            // datagram its arrival completes.  A frame standing for several
            // segments goes in as one segment (lwIP takes any length that
            // fits the window), acknowledged at once (lwsp_hooks.h).
            const bool trusted = fi.csum != frame_info::checksum::complete && !detail::ip_fragment(data, size);
            const u16_t saved = nif.chksum_flags;
            if (trusted) nif.chksum_flags = static_cast<u16_t>(saved & ~trusted_checks);
            lwsp_input_gso = fi.gso_size != 0;
            const err_t e = ip_only ? ip_input(p, &nif) : nif.input(p, &nif);
            if (e != ERR_OK) pbuf_free(p);
            lwsp_input_gso = 0;
            nif.chksum_flags = saved;
        }
        stack::impl::of(stack_).notify_progress();
    }

    // Hands over frames held back for merging; before the core lock goes.
    void flush() {
        if (tx && tx->holding()) tx->flush();
    }

    void set_link_up(bool up) override {
        const sink_call mark;
        core_lock lk(stack_);
        if (!active) return;
        if (up)
            netif_set_link_up(&nif);
        else
            netif_set_link_down(&nif);
    }

    static err_t init_netif(struct netif* n) {
        auto* self = static_cast<interface*>(n->state);
        n->name[0] = 'l';
        n->name[1] = 'w';
        const mac_address mac = self->link_.mac();
        std::memcpy(n->hwaddr, mac.bytes.data(), 6);
        n->hwaddr_len = 6;
        n->mtu = static_cast<u16_t>(std::min<std::size_t>(self->link_.mtu(), 0xffff));
        n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
        n->output = etharp_output;
        n->output_ip6 = ethip6_output;
        n->linkoutput = &interface::link_output;
        // lwIP keeps writing TCP checksums even for a link that finishes
        // them: tx_offload overwrites the field of every frame it marks
        // partial (cheap: with checksum-on-copy the payload is already
        // summed), and the frames it cannot mark — IPv6 fragments of a
        // segment after a Packet Too Big — stay correct.
        NETIF_SET_CHECKSUM_CTRL(n, NETIF_CHECKSUM_ENABLE_ALL);
        return ERR_OK;
    }

    static err_t link_output(struct netif* n, struct pbuf* p) {
        auto* self = static_cast<interface*>(n->state);
        constexpr std::size_t max_parts = 16;
        frame_part parts[max_parts];
        std::size_t count = 0;
        for (struct pbuf* q = p; q != nullptr && count < max_parts; q = q->next) parts[count++] = {q->payload, q->len};
        std::vector<unsigned char> flat;
        if (pbuf_clen(p) > max_parts) {  // rare: a long chain is flattened
            flat.resize(p->tot_len);
            pbuf_copy_partial(p, flat.data(), p->tot_len, 0);
            parts[0] = {flat.data(), flat.size()};
            count = 1;
        }
        if (self->tx) return self->tx->send(parts, count) ? ERR_OK : ERR_IF;
        return self->link_.transmit(parts, count, frame_info{}) ? ERR_OK : ERR_IF;
    }

    stack& stack_;
    std::shared_ptr<link> owner_;  // the stack's share of the link: it outlives the interface
    link& link_;
    interface_config cfg_;
    std::unique_ptr<detail::tx_offload> tx;  // when the link takes offloaded frames
    struct netif nif {};
    bool active = false;  // under the core lock
};

stack::impl::impl(stack& s, const options& o) : self(s), opts(o), core(s.core_mu_) {
    std::uint64_t seed = o.random_seed;
    if (seed == 0) seed = platform::random_seed();
    if (seed == 0)
        throw std::invalid_argument(
            "lwsp: no random source for the stack's secrets: set options::random_seed or, on bare metal, "
            "lwsp_set_random");
    if (!platform::hosted && !o.manual_clock && !platform::has_clock())
        throw std::invalid_argument("lwsp: a bare-metal stack needs a clock (lwsp_set_clock) or a manual clock");
    rng.seed(seed);
    isn_key = {rng(), rng()};
}
stack::impl::~impl() = default;

// ---- core lock ------------------------------------------------------------

core_lock::core_lock(stack& s) : stack_(&s), lk_(s.core_mu_.native()) { s.impl_->mark_owner(); }

core_lock::~core_lock() {
    if (lk_.owns_lock()) unlock();
}

void core_lock::unlock() {
    stack::impl& in = *stack_->impl_;
    in.assert_held();
    in.before_unlock();
    in.drain_deferred(lk_);
    in.clear_owner();
    lk_.unlock();
    stack::impl::release_hold(true);
}

void stack::expect_answer() {
    impl& in = *impl_;
    in.assert_held();
#if !LWSP_BARE_METAL
    // Not while another thread polls the device inline (it reads the
    // answer), nor in the driver's timers or a port's own deliveries.
    if (!in.inline_link || in.inline_busy || this_hold.in_sink != 0 || platform::this_thread() == in.driver_id) return;
    if (this_hold.held == nullptr) {
        // Out of memory: no hold; the port's own thread reads the answer.
        this_hold.held = new (std::nothrow) std::shared_ptr<link>(in.inline_link);
        if (this_hold.held == nullptr) return;
        in.inline_link->hold_receive();
    }
    this_hold.unread = true;
#endif
}

void stack::impl::release_hold(bool read) {
#if !LWSP_BARE_METAL
    if (this_hold.held == nullptr || (read && this_hold.in_sink != 0)) return;
    const std::unique_ptr<std::shared_ptr<link>> l(std::exchange(this_hold.held, nullptr));
    (*l)->release_receive(read && this_hold.unread);
#else
    (void)read;
#endif
}

void stack::impl::flush_links() {
    for (auto& entry : interfaces) entry.second->flush();
}

std::size_t stack::impl::drain_deferred(std::unique_lock<platform::native_mutex>& lk) {
    // One drainer at a time keeps the items in order; others leave the
    // queue to it.
    if (draining || deferred.empty()) return 0;
    draining = true;
    std::size_t ran = 0;
    while (!deferred.empty()) {
        std::function<void()> work = std::move(deferred.front());
        deferred.pop_front();
        flush_links();
        clear_owner();
        lk.unlock();
        release_hold(true);  // before user code, which may take its time
        work();
        lk.lock();
        mark_owner();
        ++ran;
    }
    draining = false;
    return ran;
}

void stack::defer(std::function<void()> work) {
    impl_->assert_held();
    impl_->deferred.push_back(std::move(work));
}

void core_lock::lock() {
    lk_.lock();
    stack_->impl_->mark_owner();
}

void stack::impl::before_unlock() {
    flush_links();
    // Bare metal: no driver thread to kick; the loop runs whatever is due.
    if (!platform::hosted || stopping || platform::this_thread() == driver_id) return;
    bool kick = loop_queues_pending();
    if (!kick && !opts.manual_clock) {
        const u32_t sleep = sys_timeouts_sleeptime();
        if (sleep != SYS_TIMEOUTS_SLEEPTIME_INFINITE && now_ms() + sleep < driver_wake_at) kick = true;
    }
    if (kick) {
        driver_kick = true;
        driver_cv.notify_one();
    }
}

// ---- driver thread --------------------------------------------------------

std::size_t stack::impl::run_due_work() {
    if (!opts.manual_clock) sys_check_timeouts();
    // Each pass may queue more loopback packets (replies, ACKs); a bound
    // keeps one busy pair of loopback sockets from starving the timers.
    std::size_t passes = 0;
    for (; passes < 64 && loop_queues_pending(); ++passes) netif_poll_all();
    notify_progress();
    return passes;
}

void stack::impl::driver_main() {
    core_lock lk(self);
    assert_held();
    driver_id = platform::this_thread();
    while (!stopping) {
        run_due_work();
        if (loop_queues_pending()) continue;
        driver_wake_at = UINT64_MAX;
        if (!opts.manual_clock) {
            const u32_t sleep = sys_timeouts_sleeptime();
            if (sleep != SYS_TIMEOUTS_SLEEPTIME_INFINITE) driver_wake_at = now_ms() + sleep;
        }
        drain_deferred(lk.lk_);
        if (loop_queues_pending()) continue;
        driver_kick = false;
        auto woken = [this]() LWSP_REQUIRES(core) { return driver_kick || stopping; };
        flush_links();
        clear_owner();
        while (!woken()) {
            if (driver_wake_at == UINT64_MAX) {
                driver_cv.wait(lk.lk_);
            } else {
                if (now_ms() >= driver_wake_at) break;
                driver_cv.wait_until(lk.lk_, to_platform(driver_wake_at));
            }
        }
        mark_owner();
    }
}

// ---- stack ----------------------------------------------------------------

stack::stack() : stack(options{}) {}

stack::stack(const options& opts) : impl_(std::make_unique<impl>(*this, opts)) {
    stack* expected = nullptr;
    if (!g_current.compare_exchange_strong(expected, this))
        throw std::logic_error("lwsp: only one stack may exist per process (lwIP keeps global state)");
    g_objects.fetch_add(1);
    impl_->manual_now = opts.manual_clock_start;
    {
        core_lock lk(*this);
        if (!g_lwip_initialised) {
            lwip_init();
            g_lwip_initialised = true;
        } else {
            // A previous stack of this process left lwIP's cyclic timers
            // queued against its own clock: re-base them on ours.
            sys_restart_timeouts();
        }
    }
#if LWSP_BARE_METAL
    platform::set_loop_turn(&impl::loop_turn);  // every wait() runs the loop
#else
    impl_->driver = std::thread([this] { impl_->driver_main(); });
#endif
}

stack::~stack() {
    stop();
    g_objects.fetch_sub(1);
}

std::size_t stack::objects() { return g_objects.load(); }

void stack::hold() { impl_->refs.fetch_add(1); }

void stack::release() {
    if (impl_->refs.fetch_sub(1) == 1) delete this;  // only after retire()
}

void stack::retire(std::unique_ptr<stack> s) {
    if (!s) return;
    s->stop();
    s.release()->release();  // the owner's reference
}

stack* stack::current() { return g_current.load(); }

bool stack::stopped() const { return impl_->stopping.load(); }

bool stack::pcbs_released() const {
    impl_->assert_held();
    return impl_->stopped_done;
}

void stack::stop() {
    {
        core_lock lk(*this);
        impl_->assert_held();
        if (impl_->stopping) return;
        impl_->stopping = true;
        impl_->driver_cv.notify_all();
        wake_all_waiters();
    }
#if !LWSP_BARE_METAL
    if (impl_->driver.joinable()) impl_->driver.join();
#endif
    std::vector<interface_id> ids;
    {
        core_lock lk(*this);
        impl_->assert_held();
        for (auto& entry : impl_->interfaces) ids.push_back(entry.first);
    }
    for (interface_id id : ids) detach(id);
    core_lock lk(*this);
    impl_->assert_held();
    impl_->release_all_pcbs();
    impl_->heap.trim();  // blocks freed from now on go back to malloc (lwip_sys.cpp)
    impl_->stopped_done = true;
    // lwIP is free again: another stack may start while this object still
    // exists (sockets of the old one only learn that the network is down).
    stack* self = this;
    g_current.compare_exchange_strong(self, nullptr);
}

void stack::impl::release_all_pcbs() {
    // No RST is sent: the interfaces are already gone.  Pcbs with an err
    // callback hear ERR_ABRT, so their owners learn the connection died.
    while (tcp_active_pcbs != nullptr) tcp_abandon(tcp_active_pcbs, 0);
    while (tcp_tw_pcbs != nullptr) tcp_abandon(tcp_tw_pcbs, 0);
    while (tcp_listen_pcbs.pcbs != nullptr) tcp_close(tcp_listen_pcbs.pcbs);
    while (tcp_bound_pcbs != nullptr) tcp_close(tcp_bound_pcbs);
    while (udp_pcbs != nullptr) udp_remove(udp_pcbs);
    // Datagrams waiting for their missing fragments: lwIP frees them only
    // when their reassembly timers run out, and has no call to drop them
    // all, so age them out (a timer is 8 bits).  An expired first fragment
    // answers with ICMP time exceeded, which finds no interface now (or is
    // dropped with the loopback queue below).
    for (int i = 0; i < 256; ++i) {
#if IP_REASSEMBLY
        ip_reass_tmr();
#endif
#if LWIP_IPV6 && LWIP_IPV6_REASS
        ip6_reass_tmr();
#endif
    }
    // Packets still queued on loopback interfaces (including a delayed ACK
    // that removing a pcb flushes) are dropped, not delivered.
    struct netif* n;
    NETIF_FOREACH(n) {
        if (n->loop_first != nullptr) pbuf_free(n->loop_first);  // the queue is one chain
        n->loop_first = n->loop_last = nullptr;
    }
}

interface_id stack::attach(std::shared_ptr<link> l, const interface_config& cfg) {
    if (!l) throw std::invalid_argument("lwsp: attach needs a link");
    if (cfg.ipv6.size() > LWIP_IPV6_NUM_ADDRESSES - 1)
        throw std::invalid_argument("lwsp: at most two IPv6 addresses per interface besides the link-local one");
    if (l->mtu() < 576 || l->mtu() > 65535) throw std::invalid_argument("lwsp: link MTU must be 576..65535");
    link& started = *l;
    auto owned = std::make_unique<interface>(*this, std::move(l), cfg);
    interface* itf = owned.get();
    interface_id id;
    {
        core_lock lk(*this);
        impl_->assert_held();
        if (impl_->stopping) throw std::logic_error("lwsp: stack is stopped");
        ip4_addr_t addr{}, mask{}, gw{};
        if (cfg.ipv4) {
            std::memcpy(&addr.addr, cfg.ipv4->address.bytes.data(), 4);
            std::memcpy(&mask.addr, cfg.ipv4->netmask.bytes.data(), 4);
            std::memcpy(&gw.addr, cfg.ipv4->gateway.bytes.data(), 4);
        }
        if (netif_add(&itf->nif, &addr, &mask, &gw, itf, &interface::init_netif, ethernet_input) == nullptr)
            throw std::runtime_error("lwsp: lwIP refused the interface");
        // Addresses are configured, not discovered: they are usable at once
        // (no duplicate address detection; the link is ours).
        netif_create_ip6_linklocal_address(&itf->nif, 1);
        netif_ip6_addr_set_state(&itf->nif, 0, IP6_ADDR_PREFERRED);
        for (const ipv6_address& a : cfg.ipv6) {
            ip6_addr_t raw{};
            std::memcpy(raw.addr, a.bytes.data(), 16);
            s8_t idx = -1;
            if (netif_add_ip6_address(&itf->nif, &raw, &idx) != ERR_OK || idx < 0) {
                netif_remove(&itf->nif);
                throw std::runtime_error("lwsp: lwIP refused an IPv6 address");
            }
            netif_ip6_addr_set_state(&itf->nif, idx, IP6_ADDR_PREFERRED);
        }
        if (cfg.default_route) netif_set_default(&itf->nif);
        netif_set_link_up(&itf->nif);
        netif_set_up(&itf->nif);
        itf->active = true;
        if (impl_->opts.inline_receive && !impl_->inline_link && itf->owner_->offers_inline_receive())
            impl_->inline_link = itf->owner_;
        id = impl_->next_interface++;
        impl_->interfaces.emplace(id, std::move(owned));
    }
    try {
        started.start(*itf);
    } catch (...) {
        detach(id);  // a link whose start() failed is stopped again (a no-op for it) and let go
        throw;
    }
    return id;
}

void stack::detach(interface_id id) {
    std::unique_ptr<interface> itf;
    {
        core_lock lk(*this);
        impl_->assert_held();
        auto it = impl_->interfaces.find(id);
        if (it == impl_->interfaces.end()) return;
        itf = std::move(it->second);
        impl_->interfaces.erase(it);
        if (impl_->inline_link == itf->owner_) {
            impl_->inline_link.reset();
            wake_all_waiters();  // a thread waiting on the device goes back to its condition variable
        }
        itf->flush();
        itf->active = false;
        netif_set_down(&itf->nif);
        netif_remove(&itf->nif);
    }
    itf->link_.stop();
}

millis stack::now() const { return millis(impl_->now_ms()); }

bool stack::manual_clock() const { return impl_->opts.manual_clock; }

const stack::options& stack::settings() const { return impl_->opts; }

void stack::advance_time(millis d) {
    if (!impl_->opts.manual_clock) throw std::logic_error("lwsp: advance_time needs a manual-clock stack");
    if (d.count() < 0) throw std::invalid_argument("lwsp: time only moves forward");
    core_lock lk(*this);
    impl_->assert_held();
    const std::uint64_t target = impl_->manual_now + static_cast<std::uint64_t>(d.count());
    // Step from one lwIP timeout to the next so each fires at its own time.
    for (;;) {
        const u32_t sleep = sys_timeouts_sleeptime();
        if (sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE || impl_->manual_now + sleep > target) break;
        impl_->manual_now += sleep;
        sys_check_timeouts();
        while (loop_queues_pending()) netif_poll_all();
    }
    impl_->manual_now = target;
    wake_all_waiters();  // progress waiters are among them
    // (deferred work runs when `lk` is released, below)
}

stack::wait_status stack::wait(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                               std::optional<millis> deadline) {
    return wait_impl(lk, cv, ready, deadline, false);
}

stack::wait_status stack::wait_progress(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                                        std::optional<millis> deadline) {
    return wait_impl(lk, cv, ready, deadline, true);
}

stack::wait_status stack::wait_impl(core_lock& lk, platform::condvar& cv, const std::function<bool()>& ready,
                                    std::optional<millis> deadline, bool on_progress) {
    impl& in = *impl_;
    in.assert_held();
    in.waiters.push_back(&cv);
    if (on_progress) in.progress_waiters.push_back(&cv);
    wait_status status;
    for (;;) {
        if (ready()) {
            status = wait_status::ready;
            break;
        }
        if (in.stopping) {
            status = wait_status::stopped;
            break;
        }
        if (deadline && in.now_ms() >= static_cast<std::uint64_t>(deadline->count())) {
            status = wait_status::timed_out;
            break;
        }
        in.before_unlock();
        if (!in.deferred.empty() && !in.draining) {  // run it first: it may be what `ready` waits for
            in.drain_deferred(lk.lk_);
            continue;
        }
        const std::uint64_t until = deadline && !in.opts.manual_clock
                                        ? in.to_platform(static_cast<std::uint64_t>(deadline->count()))
                                        : UINT64_MAX;  // a manual clock wakes waiters when it moves
        if (in.wait_inline(lk.lk_, cv, until)) continue;
        impl::release_hold(false);  // the port's thread reads while this one sleeps
        in.clear_owner();
        if (until != UINT64_MAX)
            cv.wait_until(lk.lk_, until);
        else
            cv.wait(lk.lk_);
        in.mark_owner();
    }
    in.waiters.erase(std::find(in.waiters.begin(), in.waiters.end(), &cv));
    if (on_progress) in.progress_waiters.erase(std::find(in.progress_waiters.begin(), in.progress_waiters.end(), &cv));
    return status;
}

// Inline receive (docs/design.md, "Inline receive").  The thread arms its
// waker and attaches it to `cv` under the core lock, after its condition
// was found false; every notify of `cv` happens under the core lock, so one
// that comes after the lock is released signals the waker, and none is
// lost.  While the thread waits on the device the port's own thread still
// reads and delivers: a frame for anyone else, or a timer, reaches its
// waiter as before.
bool stack::impl::wait_inline(std::unique_lock<platform::native_mutex>& lk, platform::condvar& cv,
                              std::uint64_t until_platform_ms) {
#if LWSP_BARE_METAL
    (void)lk;
    (void)cv;
    (void)until_platform_ms;
    return false;
#else
    if (!inline_link || inline_busy) return false;  // one thread at a time: no other waker is attached
    if (!inline_waker) inline_waker = platform::make_waker();
    platform::waker* const w = inline_waker.get();
    if (w == nullptr) return false;
    const std::shared_ptr<link> l = inline_link;  // outlives a detach meanwhile
    inline_busy = true;
    w->arm();
    cv.attach(w);
    clear_owner();
    lk.unlock();
    const bool waited = l->receive_inline(*w, until_platform_ms);
    if (waited && this_hold.held != nullptr && *this_hold.held == l)
        this_hold.unread = false;  // what was ready is read
    lk.lock();
    mark_owner();
    cv.attach(nullptr);
    w->disarm();
    inline_busy = false;
    return waited;
#endif
}

void stack::assert_core_held() const { impl_->assert_held(); }

std::size_t stack::waiting_threads() {
    core_lock lk(*this);
    impl_->assert_held();
    return impl_->waiters.size();
}

void stack::wake_all_waiters() {
    impl_->assert_held();
    for (platform::condvar* cv : impl_->waiters) cv->notify_all();
}

// ---- the main loop (bare metal; lwsp_poll) --------------------------------

std::size_t stack::poll() {
    // Links poll without the core lock (they deliver, which takes it), one
    // after another in interface order; the stack keeps its share of each
    // until its poll is over, so a detach meanwhile is harmless.
    std::size_t done = 0;
    interface_id last = 0;
    for (;;) {
        std::shared_ptr<link> next;
        {
            core_lock lk(*this);
            impl_->assert_held();
            if (impl_->stopping) return done;
            const auto it = impl_->interfaces.upper_bound(last);
            if (it == impl_->interfaces.end()) break;
            last = it->first;
            next = it->second->owner_;
        }
        done += next->poll();
    }
    core_lock lk(*this);
    impl_->assert_held();
    if (impl_->stopping) return done;
    done += impl_->run_due_work();
    done += impl_->drain_deferred(lk.lk_);
    return done;
}

std::optional<millis> stack::next_deadline() {
    core_lock lk(*this);
    impl_->assert_held();
    if (impl_->stopping) return std::nullopt;
    if (loop_queues_pending() || !impl_->deferred.empty()) return millis(0);
    const u32_t sleep = sys_timeouts_sleeptime();
    if (sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE) return std::nullopt;
    return millis(sleep);
}

void stack::impl::loop_turn(std::uint64_t until_ms) {
    stack* s = stack::current();
    if (s == nullptr) {
        platform::idle(until_ms);
        return;
    }
    if (s->poll() != 0 || s->manual_clock()) return;  // a manual clock moves only when told
    std::uint64_t wake = until_ms;
    if (const std::optional<millis> next = s->next_deadline()) {
        const std::uint64_t at = platform::now_ms() + static_cast<std::uint64_t>(next->count());
        wake = std::min(wake, at);
    }
    platform::idle(wake);
}

void stack::release_heap_cache() {
    core_lock lk(*this);
    impl_->assert_held();
    impl_->heap.trim();
}

stack_stats stack::stats() {
    core_lock lk(*this);
    impl_->assert_held();
    stack_stats st;
    for (struct tcp_pcb* p = tcp_active_pcbs; p; p = p->next) ++st.tcp_pcbs;
    for (struct tcp_pcb* p = tcp_bound_pcbs; p; p = p->next) ++st.tcp_pcbs;
    for (struct tcp_pcb* p = tcp_tw_pcbs; p; p = p->next) ++st.tcp_time_wait_pcbs;
    for (struct tcp_pcb_listen* p = tcp_listen_pcbs.listen_pcbs; p; p = p->next) ++st.tcp_listen_pcbs;
    st.tcp_pcbs += st.tcp_time_wait_pcbs + st.tcp_listen_pcbs;
    for (struct udp_pcb* p = udp_pcbs; p; p = p->next) ++st.udp_pcbs;
    st.pbufs = lwip_stats.memp[MEMP_PBUF]->used + lwip_stats.memp[MEMP_PBUF_POOL]->used;
    st.tcp_segments = lwip_stats.memp[MEMP_TCP_SEG]->used;
    // lwIP's own timer entries come and go with activity (the TCP timer
    // outlives the last pcb by one tick); they are not connection memory.
    const std::size_t timer_entry = MEMP_SIZE + MEMP_ALIGN_SIZE(memp_pools[MEMP_SYS_TIMEOUT]->size);
    st.timers = lwip_stats.memp[MEMP_SYS_TIMEOUT]->used;
    st.heap_bytes = lwip_stats.mem.used - st.timers * timer_entry;
    st.heap_cached_bytes = impl_->heap.stats().cached_bytes;
    return st;
}

}  // namespace lwsp
