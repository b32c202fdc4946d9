// Linux TAP port.  One Asio thread reads; transmit() writes directly with
// writev and falls back to a queue that the Asio thread drains.
#include "lwsp/tap_link.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
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
    boost::asio::io_context io;
    std::unique_ptr<boost::asio::posix::stream_descriptor> sd;
    std::thread thread;
    link_sink* sink = nullptr;
    std::vector<std::vector<std::uint8_t>> rx;  // one buffer per frame of a read batch

    mutable std::mutex tx_mu;  // leaf lock: guards the queue and counters
    std::deque<std::vector<std::uint8_t>> tx_queue;
    bool flush_armed = false;
    counters stats;
    std::atomic<bool> running{false};

    void read_loop();
    void on_readable();
    void arm_flush();
    void flush();
};

namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

}  // namespace

std::unique_ptr<tap_link> tap_link::open(const options& opts) {
    if (opts.mtu < 576 || opts.mtu > 65535) throw tap_error("lwsp tap: MTU must be 576..65535");
    if (opts.name.empty() || opts.name.size() >= IFNAMSIZ) throw tap_error("lwsp tap: bad device name '" + opts.name + "'");
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
                            "`ip tuntap add dev " + opts.name + " mode tap user $USER`");
        throw tap_error("lwsp tap: cannot open /dev/net/tun: " + errno_text(e));
    }
    struct ifreq ifr {};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, opts.name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        const int e = errno;
        ::close(fd);
        if (e == EPERM || e == EACCES)
            throw tap_error("lwsp tap: not allowed to attach to '" + opts.name + "' (" + errno_text(e) +
                            "): run as root (CAP_NET_ADMIN) or create it for your user with "
                            "`ip tuntap add dev " + opts.name + " mode tap user $USER`");
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
    // Frames ready at once are read and handed to the stack as one batch;
    // the batch is smaller for large MTUs to bound the buffers.
    const std::size_t batch = opts.mtu <= 9000 ? 32 : 8;
    i->rx.assign(batch, std::vector<std::uint8_t>(opts.mtu + 14 + 4));  // Ethernet header and a VLAN tag
    return std::unique_ptr<tap_link>(new tap_link(std::move(i)));
}

tap_link::tap_link(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

tap_link::~tap_link() {
    stop();
    if (impl_->sd) {
        boost::system::error_code ec;
        impl_->sd->close(ec);  // closes the fd
    } else if (impl_->fd >= 0) {
        ::close(impl_->fd);
    }
}

std::size_t tap_link::mtu() const { return impl_->opts.mtu; }
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
    // Drain what is ready, a batch at a time (bounded, so transmit flushes
    // get their turn); each batch reaches the stack under one lock.
    frame_part frames[32];
    for (int round = 0; round < 4; ++round) {
        std::size_t n = 0, bytes = 0;
        while (n < rx.size()) {
            const ssize_t got = ::read(fd, rx[n].data(), rx[n].size());
            if (got <= 0) break;  // EAGAIN, or the device went away
            frames[n] = {rx[n].data(), static_cast<std::size_t>(got)};
            bytes += static_cast<std::size_t>(got);
            ++n;
        }
        if (n == 0) return;
        {
            std::lock_guard<std::mutex> g(tx_mu);
            stats.frames_in += n;
            stats.bytes_in += bytes;
        }
        if (sink) sink->deliver_many(frames, n);
        if (n < rx.size()) return;  // the device is empty
    }
}

bool tap_link::transmit(const frame_part* parts, std::size_t count) {
    impl& in = *impl_;
    if (!in.running) return false;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
    std::lock_guard<std::mutex> g(in.tx_mu);
    if (in.tx_queue.empty()) {  // keep order: nothing may overtake queued frames
        struct iovec iov[16];
        const std::size_t k = count < 16 ? count : 16;
        for (std::size_t i = 0; i < k; ++i) iov[i] = {const_cast<void*>(parts[i].data), parts[i].size};
        if (count <= 16) {
            const ssize_t n = ::writev(in.fd, iov, static_cast<int>(k));
            if (n == static_cast<ssize_t>(total)) {
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
    frame.reserve(total);
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
        frame.insert(frame.end(), p, p + parts[i].size);
    }
    in.tx_queue.push_back(std::move(frame));
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
            stats.bytes_out += f.size();
        } else {
            ++stats.dropped;
        }
        tx_queue.pop_front();
    }
}

}  // namespace lwsp
