// Linux TAP port.  One I/O thread waits in epoll and reads; transmit()
// writes directly with writev and falls back to a queue that the I/O thread
// drains when the device is writable.  A thread about to block in the stack
// may read the device itself (receive_inline); while it polls, the device is
// taken out of the I/O thread's epoll set, so the frame it waits for wakes
// only it; a receive hold (a thread that sent a SYN, a FIN or a
// connection's first data and reads the answer itself) does the same.
// With offloads, every frame in both directions is preceded by a virtio-net
// header (struct virtio_net_hdr, 10 bytes, host byte order) that this file
// translates to and from lwsp::frame_info.
#include "lwsp/tap_link.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "lwsp/platform.hpp"

namespace lwsp {

struct tap_link::impl {
    options opts;
    int fd = -1;
    bool vnet = false;  // frames carry a virtio-net header (offloads on)
    int ep = -1;        // the I/O thread's epoll set: the device and `ctl`
    int ctl = -1;       // eventfd: stop() wakes the I/O thread with it
    std::thread thread;
    std::atomic<bool> running{false};

    // Reading the device: the I/O thread or a thread waiting inline, one
    // at a time (the buffers are shared, and frames must keep their order).
    // Taken before the stack's core lock (deliveries take it inside).
    std::mutex rx_mu;
    link_sink* sink = nullptr;                  // rx_mu, once started
    std::vector<std::vector<std::uint8_t>> rx;  // one buffer per frame of a read batch
    std::atomic<bool> device_failed{false};     // the device reported an error: nobody polls it

    // What the I/O thread's epoll set asks of the device: readable unless a
    // thread polls it inline, writable while frames wait in the queue.
    // Leaf lock after tx_mu.
    std::mutex interest_mu;
    int holds = 0;               // interest_mu: inline pollers and receive holds
    bool want_write = false;     // interest_mu
    std::uint32_t interest = 0;  // interest_mu: what epoll has now (UINT32_MAX: removed)

    mutable std::mutex tx_mu;  // leaf lock but for interest_mu: guards the queue and counters
    std::deque<std::vector<std::uint8_t>> tx_queue;
    std::atomic<bool> tx_pending{false};  // !tx_queue.empty(), readable without tx_mu
    counters stats;

    impl() = default;
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl();

    void io_main();
    void on_readable();
    std::size_t drain(bool inline_read = false);
    void set_interest();  // interest_mu held
    void arm_flush();     // tx_mu held
    void flush();
};

namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

// struct virtio_net_hdr (virtio 1.x, section 5.1.6; <linux/virtio_net.h>
// does not compile as C++): the header a TAP device with IFF_VNET_HDR puts
// before every frame, in host byte order unless TUNSETVNETLE/BE say
// otherwise.
struct virtio_net_hdr {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;      // Ethernet + IP + TCP headers of a GSO frame
    std::uint16_t gso_size;     // payload bytes per segment
    std::uint16_t csum_start;   // from the start of the Ethernet header
    std::uint16_t csum_offset;  // from csum_start
};
static_assert(sizeof(virtio_net_hdr) == 10, "virtio_net_hdr is 10 bytes");
constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

constexpr std::size_t vnet_len = sizeof(virtio_net_hdr);

// The frame's metadata from the header the kernel put before it.
frame_info from_vnet(const virtio_net_hdr& h) {
    frame_info info;
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        info.csum = frame_info::checksum::partial;
        info.csum_start = h.csum_start;
        info.csum_offset = h.csum_offset;
    } else if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        info.csum = frame_info::checksum::verified;
    }
    const unsigned type = h.gso_type & ~unsigned{VIRTIO_NET_HDR_GSO_ECN};
    if (type == VIRTIO_NET_HDR_GSO_TCPV4 || type == VIRTIO_NET_HDR_GSO_TCPV6) info.gso_size = h.gso_size;
    return info;
}

// Byte `at` of a frame given as parts (0 past the end).
std::uint8_t byte_at(const frame_part* parts, std::size_t count, std::size_t at) {
    for (std::size_t i = 0; i < count; ++i) {
        if (at < parts[i].size) return static_cast<const std::uint8_t*>(parts[i].data)[at];
        at -= parts[i].size;
    }
    return 0;
}

// The header the kernel expects before a frame the stack sends.
virtio_net_hdr to_vnet(const frame_info& info, const frame_part* parts, std::size_t count) {
    virtio_net_hdr h{};
    if (info.csum == frame_info::checksum::partial) {
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = info.csum_start;
        h.csum_offset = info.csum_offset;
    }
    if (info.gso_size != 0) {
        const bool v6 = byte_at(parts, count, 12) == 0x86 && byte_at(parts, count, 13) == 0xdd;
        h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        h.gso_size = info.gso_size;
        // Headers up to the end of the TCP header (its data offset field).
        h.hdr_len =
            static_cast<std::uint16_t>(info.csum_start + (byte_at(parts, count, info.csum_start + 12u) >> 4) * 4u);
    }
    return h;
}

}  // namespace

std::unique_ptr<tap_link> tap_link::open(const options& opts) {
    if (opts.mtu < 576 || opts.mtu > 65535) throw tap_error("lwsp tap: MTU must be 576..65535");
    if (opts.name.empty() || opts.name.size() >= IFNAMSIZ)
        throw tap_error("lwsp tap: bad device name '" + opts.name + "'");
    if (!opts.create && ::access(("/sys/class/net/" + opts.name).c_str(), F_OK) != 0)
        throw tap_error("lwsp tap: there is no network device '" + opts.name +
                        "': create it first (`ip tuntap add dev " + opts.name +
                        " mode tap`, inside a private namespace: scripts/netns-run does this) or set "
                        "options.create");
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            throw tap_error("lwsp tap: /dev/net/tun is missing (" + errno_text(e) +
                            "): load the tun module (modprobe tun) or, in a container, pass the device in "
                            "(--device /dev/net/tun)");
        if (e == EACCES || e == EPERM)
            throw tap_error("lwsp tap: no permission to open /dev/net/tun (" + errno_text(e) +
                            "): run as root (CAP_NET_ADMIN) or pre-create the device with "
                            "`ip tuntap add dev " +
                            opts.name + " mode tap user $USER`");
        throw tap_error("lwsp tap: cannot open /dev/net/tun: " + errno_text(e));
    }
    struct ifreq ifr {};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (opts.offload ? IFF_VNET_HDR : 0);
    std::strncpy(ifr.ifr_name, opts.name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        const int e = errno;
        ::close(fd);
        if (e == EPERM || e == EACCES)
            throw tap_error("lwsp tap: not allowed to attach to '" + opts.name + "' (" + errno_text(e) +
                            "): run as root (CAP_NET_ADMIN) or create it for your user with "
                            "`ip tuntap add dev " +
                            opts.name + " mode tap user $USER`");
        if (e == EBUSY)
            throw tap_error("lwsp tap: '" + opts.name + "' is in use by another process (" + errno_text(e) + ")");
        if (e == EINVAL)
            throw tap_error("lwsp tap: '" + opts.name + "' exists but is not a TAP device without packet info (" +
                            errno_text(e) + "); create it with `ip tuntap add dev " + opts.name + " mode tap`");
        throw tap_error("lwsp tap: TUNSETIFF on '" + opts.name + "' failed: " + errno_text(e));
    }
    auto i = std::make_unique<impl>();
    i->opts = opts;
    i->opts.name = ifr.ifr_name;
    i->fd = fd;  // the destructor closes it from here on
    i->ep = ::epoll_create1(EPOLL_CLOEXEC);
    i->ctl = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ce {};
    ce.events = EPOLLIN;
    ce.data.fd = i->ctl;
    struct epoll_event de {};
    de.data.fd = fd;  // no interest until start()
    if (i->ep < 0 || i->ctl < 0 || ::epoll_ctl(i->ep, EPOLL_CTL_ADD, i->ctl, &ce) != 0 ||
        ::epoll_ctl(i->ep, EPOLL_CTL_ADD, fd, &de) != 0) {
        const int e = errno;
        throw tap_error("lwsp tap: cannot set up the I/O thread's epoll: " + errno_text(e));
    }
    // Checksums left partial and TCP segmentation both ways.  An older
    // kernel may refuse: then the header stays, describing plain frames.
    // Without offloads they are switched off explicitly: a device keeps the
    // offloads an earlier user set, and the kernel would go on leaving
    // checksums to a reader that cannot see it should finish them.
    const unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    i->vnet = opts.offload;  // IFF_VNET_HDR is set: every frame carries the header
    if (i->vnet) {
        // The header's size and byte order also outlive their setter (a
        // device QEMU used may carry 12-byte headers): set them, or every
        // frame would be misread by two bytes.  Byte-order calls fail with
        // EINVAL on kernels without cross-endian support: nothing to reset.
        int size = static_cast<int>(vnet_len), off = 0;
        if (::ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
            const int e = errno;
            throw tap_error("lwsp tap: TUNSETVNETHDRSZ on '" + opts.name + "' failed: " + errno_text(e));
        }
        ::ioctl(fd, TUNSETVNETLE, &off);
        ::ioctl(fd, TUNSETVNETBE, &off);
    }
    i->opts.offload = opts.offload && ::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(offloads)) == 0;
    if (!i->opts.offload) ::ioctl(fd, TUNSETOFFLOAD, 0ul);
    // Frames ready at once are read and handed to the stack as one batch;
    // the batch is smaller for large frames to bound the buffers.  With
    // offloads a frame may stand for 64 KiB of segments.
    const std::size_t frame_max = i->opts.offload ? vnet_len + 14 + 4 + 0xffff : opts.mtu + 14 + 4 + vnet_len;
    const std::size_t batch = frame_max <= 9100 ? 32 : 16;
    i->rx.assign(batch, std::vector<std::uint8_t>(frame_max));  // Ethernet header and a VLAN tag
    return std::unique_ptr<tap_link>(new tap_link(std::move(i)));
}

tap_link::tap_link(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

tap_link::~tap_link() { stop(); }

tap_link::impl::~impl() {
    // Offloads outlive the descriptor on a persistent device, and a later
    // reader without a virtio-net header would get frames with unfinished
    // checksums: leave the device as a plain TAP.
    if (fd >= 0 && opts.offload) ::ioctl(fd, TUNSETOFFLOAD, 0ul);
    for (const int d : {ep, ctl, fd})
        if (d >= 0) ::close(d);
}

std::size_t tap_link::mtu() const { return impl_->opts.mtu; }
bool tap_link::offloading() const { return impl_->opts.offload; }

link_offloads tap_link::offloads() const {
    link_offloads o;
    if (impl_->opts.offload) {
        o.tx_checksum = true;
        o.tx_tcp_segment_max = 0xffff;  // frame bytes; tx_offload also caps at one IP datagram
    }
    return o;
}
mac_address tap_link::mac() const { return impl_->opts.mac; }
const std::string& tap_link::name() const { return impl_->opts.name; }

tap_link::counters tap_link::stats() const {
    std::lock_guard<std::mutex> g(impl_->tx_mu);
    return impl_->stats;
}

void tap_link::start(link_sink& sink) {
    impl& in = *impl_;
    if (in.running.exchange(true)) return;
    {
        std::lock_guard<std::mutex> r(in.rx_mu);
        in.sink = &sink;
    }
    in.device_failed = false;
    {
        std::lock_guard<std::mutex> g(in.interest_mu);
        in.set_interest();
    }
    in.thread = std::thread([&in] { in.io_main(); });
}

void tap_link::stop() {
    impl& in = *impl_;
    if (!in.running.exchange(false)) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(in.ctl, &one, sizeof one);
    if (in.thread.joinable()) in.thread.join();
    {
        std::lock_guard<std::mutex> r(in.rx_mu);  // an inline reader finishes its batch first
        in.sink = nullptr;
    }
    std::lock_guard<std::mutex> g(in.tx_mu);
    in.tx_queue.clear();
    in.tx_pending.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> i(in.interest_mu);
    in.want_write = false;
}

void tap_link::impl::set_interest() {
    if (device_failed) {
        // epoll reports errors and hang-ups whatever it was asked for.
        if (interest != UINT32_MAX) ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        interest = UINT32_MAX;
        return;
    }
    std::uint32_t want = 0;
    if (running) {
        if (holds == 0) want |= EPOLLIN;
        if (want_write) want |= EPOLLOUT;
    }
    if (want == interest) return;
    struct epoll_event ev {};
    ev.events = want;
    ev.data.fd = fd;
    // Removed after an error, and started again since: back into the set.
    const int op = interest == UINT32_MAX ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(ep, op, fd, &ev) == 0) interest = want;
}

void tap_link::impl::io_main() {
    while (running) {
        struct epoll_event evs[2];
        const int n = ::epoll_wait(ep, evs, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;  // EBADF/EINVAL: nothing this thread can recover from
        }
        for (int k = 0; k < n && running; ++k) {
            if (evs[k].data.fd == ctl) {
                std::uint64_t count = 0;
                [[maybe_unused]] const ssize_t r = ::read(ctl, &count, sizeof count);
                continue;
            }
            const std::uint32_t e = evs[k].events;
            if ((e & (EPOLLERR | EPOLLHUP)) != 0) {
                // The device went away (its interface was deleted): reading
                // would fail at once, forever.  Stop asking.
                std::lock_guard<std::mutex> g(interest_mu);
                device_failed = true;
                set_interest();
                continue;
            }
            if ((e & EPOLLOUT) != 0) {
                {
                    std::lock_guard<std::mutex> g(interest_mu);
                    want_write = false;
                    set_interest();
                }
                flush();
            }
            if ((e & EPOLLIN) != 0) on_readable();
        }
    }
}

void tap_link::impl::on_readable() {
    if (drain() == 0 || opts.busy_poll.count() <= 0) return;
    // Busy polling: a reply often follows within microseconds of what was
    // just delivered; reading it without going back to epoll saves this
    // thread's wake-up.  Every frame restarts the period.
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + opts.busy_poll;
    while (running && clock::now() < deadline) {
        if (drain() != 0) deadline = clock::now() + opts.busy_poll;
        // The I/O thread would flush the queue when the device is writable,
        // but it is this thread; a lock-free look first keeps the spin off
        // the transmit lock.
        if (tx_pending.load(std::memory_order_acquire)) flush();
    }
}

bool tap_link::offers_inline_receive() const { return true; }

bool tap_link::receive_inline(platform::waker& wake, std::uint64_t until_ms) {
    impl& in = *impl_;
    if (!in.running || in.device_failed) return false;
    int timeout = -1;
    if (until_ms != UINT64_MAX) {
        const std::uint64_t now = platform::now_ms();
        timeout = until_ms <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(until_ms - now, INT_MAX));
    }
    // The device leaves the I/O thread's epoll set while this thread polls
    // it: the frame this thread waits for wakes this thread only.
    {
        std::lock_guard<std::mutex> g(in.interest_mu);
        ++in.holds;
        in.set_interest();
    }
    struct pollfd fds[2] = {{in.fd, POLLIN, 0}, {wake.handle(), POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout);
    if (n > 0 && fds[1].revents != 0) wake.consume();
    const bool failed = n > 0 && (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    if (!failed) in.drain(true);  // what is ready, whatever woke this thread
    // Back to the I/O thread.  Level-triggered: a frame that came after the
    // drain above wakes it at once.
    std::lock_guard<std::mutex> g(in.interest_mu);
    if (failed) in.device_failed = true;  // the I/O thread would spin on it too
    --in.holds;
    in.set_interest();
    return !failed;
}

void tap_link::hold_receive() {
    impl& in = *impl_;
    std::lock_guard<std::mutex> g(in.interest_mu);
    ++in.holds;
    in.set_interest();
}

void tap_link::release_receive(bool read) {
    impl& in = *impl_;
    if (read && in.running && !in.device_failed) in.drain(true);
    std::lock_guard<std::mutex> g(in.interest_mu);
    --in.holds;
    in.set_interest();
}

std::size_t tap_link::impl::drain(bool inline_read) {
    // Drain what is ready, a batch at a time (bounded, so transmit flushes
    // get their turn); each batch reaches the stack under one lock.
    std::lock_guard<std::mutex> r(rx_mu);
    if (sink == nullptr) return 0;  // stopped
    std::size_t total = 0;
    frame_part frames[32];
    frame_info infos[32];
    const std::size_t skip = vnet ? vnet_len : 0;
    for (int round = 0; round < 4; ++round) {
        std::size_t n = 0, bytes = 0, slot = 0;
        for (; slot < rx.size(); ++slot) {
            const ssize_t got = ::read(fd, rx[slot].data(), rx[slot].size());
            if (got <= 0) break;  // EAGAIN, or the device went away
            if (static_cast<std::size_t>(got) <= skip) continue;
            infos[n] = frame_info{};
            if (vnet) {
                virtio_net_hdr h;
                std::memcpy(&h, rx[slot].data(), vnet_len);
                infos[n] = from_vnet(h);
            }
            frames[n] = {rx[slot].data() + skip, static_cast<std::size_t>(got) - skip};
            bytes += frames[n].size;
            ++n;
        }
        if (n == 0 && slot < rx.size()) return total;
        total += n;
        {
            std::lock_guard<std::mutex> g(tx_mu);
            stats.frames_in += n;
            stats.bytes_in += bytes;
            if (inline_read) stats.frames_in_inline += n;
        }
        if (n != 0) sink->deliver_many(frames, n, infos);
        if (slot < rx.size()) return total;  // the device is empty
    }
    return total;
}

bool tap_link::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    impl& in = *impl_;
    if (!in.running) return false;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
    virtio_net_hdr h{};
    if (in.vnet) h = to_vnet(info, parts, count);
    const std::size_t skip = in.vnet ? vnet_len : 0;
    std::lock_guard<std::mutex> g(in.tx_mu);
    if (in.tx_queue.empty()) {  // keep order: nothing may overtake queued frames
        // The virtio-net header and up to 24 parts (tx_offload may add a
        // patched header copy to lwIP's chain of up to 16 pbufs).
        constexpr std::size_t max_parts = 24;
        struct iovec iov[1 + max_parts];
        std::size_t k = 0;
        if (in.vnet) iov[k++] = {&h, vnet_len};
        for (std::size_t i = 0; i < count && i < max_parts; ++i)
            iov[k++] = {const_cast<void*>(parts[i].data), parts[i].size};
        if (count <= max_parts) {
            const ssize_t n = ::writev(in.fd, iov, static_cast<int>(k));
            if (n == static_cast<ssize_t>(total + skip)) {
                ++in.stats.frames_out;
                in.stats.bytes_out += total;
                return true;
            }
            if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)) {
                ++in.stats.dropped;  // a TAP write is whole or fails: never torn
                return false;
            }
        }
    }
    if (in.tx_queue.size() >= in.opts.max_queued_frames) {
        ++in.stats.dropped;
        return false;
    }
    std::vector<std::uint8_t> frame;
    frame.reserve(skip + total);
    const auto* hb = reinterpret_cast<const std::uint8_t*>(&h);
    frame.insert(frame.end(), hb, hb + skip);
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
        frame.insert(frame.end(), p, p + parts[i].size);
    }
    in.tx_queue.push_back(std::move(frame));
    in.tx_pending.store(true, std::memory_order_release);
    ++in.stats.queued;
    in.arm_flush();
    return true;
}

void tap_link::impl::arm_flush() {  // tx_mu held
    std::lock_guard<std::mutex> g(interest_mu);
    want_write = true;
    set_interest();
}

void tap_link::impl::flush() {
    std::lock_guard<std::mutex> g(tx_mu);
    while (!tx_queue.empty()) {
        const std::vector<std::uint8_t>& f = tx_queue.front();
        const ssize_t n = ::write(fd, f.data(), f.size());
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            arm_flush();
            return;
        }
        if (n == static_cast<ssize_t>(f.size())) {
            ++stats.frames_out;
            stats.bytes_out += f.size() - (vnet ? vnet_len : 0);
        } else {
            ++stats.dropped;
        }
        tx_queue.pop_front();
    }
    tx_pending.store(false, std::memory_order_release);
}

}  // namespace lwsp
