// Linux TAP port.  One Asio thread reads; transmit() writes directly with
// writev and falls back to a queue that the Asio thread drains.  With
// offloads, every frame in both directions is preceded by a virtio-net
// header (struct virtio_net_hdr, 10 bytes, host byte order) that this file
// translates to and from lwsp::frame_info.
#include "lwsp/tap_link.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace lwsp {

struct tap_link::impl {
    options opts;
    int fd = -1;
    bool vnet = false;  // frames carry a virtio-net header (offloads on)
    boost::asio::io_context io;
    std::unique_ptr<boost::asio::posix::stream_descriptor> sd;
    std::thread thread;
    link_sink* sink = nullptr;
    std::vector<std::vector<std::uint8_t>> rx;  // one buffer per frame of a read batch

    mutable std::mutex tx_mu;  // leaf lock: guards the queue and counters
    std::deque<std::vector<std::uint8_t>> tx_queue;
    std::atomic<bool> tx_pending{false};  // !tx_queue.empty(), readable without tx_mu
    bool flush_armed = false;
    counters stats;
    std::atomic<bool> running{false};

    void read_loop();
    void on_readable();
    std::size_t drain();
    void arm_flush();
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
    i->fd = fd;
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
            ::close(fd);
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

tap_link::~tap_link() {
    stop();
    // Offloads outlive the descriptor on a persistent device, and a later
    // reader without a virtio-net header would get frames with unfinished
    // checksums: leave the device as a plain TAP.
    if (impl_->opts.offload) ::ioctl(impl_->fd, TUNSETOFFLOAD, 0ul);
    if (impl_->sd) {
        boost::system::error_code ec;
        impl_->sd->close(ec);  // closes the fd
    } else if (impl_->fd >= 0) {
        ::close(impl_->fd);
    }
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
    in.sink = &sink;
    if (!in.sd) in.sd = std::make_unique<boost::asio::posix::stream_descriptor>(in.io, in.fd);
    in.io.restart();
    in.read_loop();
    in.thread = std::thread([&in] { in.io.run(); });
}

void tap_link::stop() {
    impl& in = *impl_;
    if (!in.running.exchange(false)) return;
    in.io.stop();
    if (in.thread.joinable()) in.thread.join();
    in.sink = nullptr;
    std::lock_guard<std::mutex> g(in.tx_mu);
    in.tx_queue.clear();
    in.tx_pending.store(false, std::memory_order_release);
    in.flush_armed = false;
}

void tap_link::impl::read_loop() {
    sd->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || !running) return;
        on_readable();
        read_loop();
    });
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
        // The queue's own flush is an Asio handler, which waits for this
        // one; a lock-free look first keeps the spin off the transmit lock.
        if (tx_pending.load(std::memory_order_acquire)) flush();
    }
}

std::size_t tap_link::impl::drain() {
    // Drain what is ready, a batch at a time (bounded, so transmit flushes
    // get their turn); each batch reaches the stack under one lock.
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
        }
        if (sink && n != 0) sink->deliver_many(frames, n, infos);
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
    if (flush_armed) return;
    flush_armed = true;
    sd->async_wait(boost::asio::posix::stream_descriptor::wait_write, [this](const boost::system::error_code& ec) {
        {
            std::lock_guard<std::mutex> g(tx_mu);
            flush_armed = false;
        }
        if (!ec && running) flush();
    });
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
