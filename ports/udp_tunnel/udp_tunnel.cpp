// UDP tunnel port: one Ethernet frame per UDP datagram, on a Boost.Asio
// socket — the same code on Linux (epoll) and Windows (I/O completion
// ports); nothing here calls the operating system except through Asio.
//
// Receiving: the Asio thread keeps one asynchronous receive armed; when it
// completes, the thread also takes what else is ready with non-blocking
// receives (up to a batch), checks each datagram (size, source) and hands
// the good ones to the stack in one deliver_many.  Sending: transmit() makes
// a non-blocking send of the frame's parts (gathered, no copy); when the
// socket would block, the frame is copied into a bounded queue that an
// asynchronous send drains in order.  Asio's socket object is not safe for
// concurrent use, so every call on it (and the queue and counters) is made
// under `mu`, a leaf lock: taken under the core lock by transmit(), never
// held while delivering to the stack.
#include "lwsp/udp_tunnel.hpp"

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace lwsp {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;

namespace {

constexpr std::size_t ethernet_header = 14;
constexpr std::size_t max_udp_payload = 65507;  // IPv4's bound; IPv6 without jumbograms has 65527
constexpr std::size_t max_gather = 24;          // parts sent without copying (lwIP chains up to 16 pbufs)

[[noreturn]] void fail(const std::string& what) { throw udp_tunnel_error("lwsp udp_tunnel: " + what); }

std::string endpoint_text(const udp::endpoint& ep) {
    const std::string host = ep.address().to_string();
    return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

// "host:port" or "[v6]:port", numeric addresses only.  `what` names the
// option in error messages ("local", "remote").
udp::endpoint parse_endpoint(const std::string& text, const char* what) {
    const std::string where = std::string(what) + " '" + text + "'";
    if (text.empty()) fail(std::string(what) + " is empty: give \"host:port\" or \"[v6 address]:port\"");
    std::string host, port;
    if (text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            fail(where + ": an IPv6 address is written \"[address]:port\"");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string::npos) fail(where + " has no port: write \"host:port\"");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string::npos) fail(where + ": put an IPv6 address in brackets, \"[address]:port\"");
    }
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
        fail(where + ": the port must be a number 0..65535");
    error_code ec;
    const asio::ip::address addr = asio::ip::make_address(host, ec);
    if (ec)
        fail(where + ": '" + host + "' is not a numeric IP address (host names are not resolved; use e.g. " +
             "127.0.0.1 or [::1])");
    return {addr, static_cast<unsigned short>(std::stoul(port))};
}

// A buffer sequence over an array of const_buffer (Asio's
// ConstBufferSequence: begin/end over values convertible to const_buffer).
struct buffer_range {
    const asio::const_buffer* first;
    const asio::const_buffer* last;
    const asio::const_buffer* begin() const { return first; }
    const asio::const_buffer* end() const { return last; }
};

}  // namespace

struct udp_tunnel::impl {
    options opts;
    udp::endpoint remote_ep;
    std::string local_text, remote_text;
    std::uint16_t port = 0;

    // Declared before the socket: the socket is closed (destroyed) first,
    // so its operations are finished before the io_context goes away.
    asio::io_context io;
    udp::socket sock{io};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    link_sink* sink = nullptr;
    std::atomic<bool> running{false};

    // One buffer per datagram of a receive batch: mtu + 14 bytes and one
    // more, so that a datagram too long for a frame shows as one (Linux
    // truncates it to the buffer silently; Windows reports message_size).
    std::vector<std::vector<std::uint8_t>> rx;
    std::vector<udp::endpoint> rx_from;

    mutable std::mutex mu;  // leaf lock: the socket object, the queue, the counters, epoch
    std::deque<std::vector<std::uint8_t>> tx_queue;
    bool sending = false;  // an asynchronous send of tx_queue.front() is in flight
    unsigned epoch = 0;    // which start() pending handlers belong to (stop() cancels the older ones)
    counters stats;

    void arm_receive();  // mu held
    void on_received(unsigned ep, const error_code& ec, std::size_t n);
    bool accept(std::size_t slot, const error_code& ec, std::size_t n);  // mu held
    void send_queued();                                                  // mu held
    void on_sent(unsigned ep, const error_code& ec, std::size_t n);
};

std::unique_ptr<udp_tunnel> udp_tunnel::open(const options& o) {
    constexpr std::size_t mtu_max = max_udp_payload - ethernet_header;
    if (o.mtu < 576 || o.mtu > mtu_max)
        fail("MTU " + std::to_string(o.mtu) + " is out of range: 576.." + std::to_string(mtu_max) +
             " (a frame, MTU + 14 bytes, must fit one UDP datagram)");
    if (o.remote.empty())
        fail(
            "options.remote is required: where frames are sent, \"host:port\" (e.g. the UDP port of QEMU's "
            "-netdev dgram or of a socat bridge)");
    const udp::endpoint local_ep = parse_endpoint(o.local, "local");
    const udp::endpoint remote_ep = parse_endpoint(o.remote, "remote");
    if (remote_ep.port() == 0) fail("remote '" + o.remote + "' has port 0: give the peer's port");
    if (remote_ep.address().is_unspecified())
        fail("remote '" + o.remote + "' is the unspecified address: give the peer's address");
    if (local_ep.protocol() != remote_ep.protocol())
        fail("local '" + o.local + "' and remote '" + o.remote + "' are of different families (IPv4 and IPv6)");

    auto i = std::make_unique<impl>();
    i->opts = o;
    i->remote_ep = remote_ep;
    error_code ec;
    i->sock.open(local_ep.protocol(), ec);
    if (ec) fail("cannot open a UDP socket: " + ec.message());
    if (local_ep.address().is_v6()) i->sock.set_option(asio::ip::v6_only(true), ec);  // the same on every OS
    i->sock.bind(local_ep, ec);
    if (ec == asio::error::address_in_use)
        fail("local '" + o.local + "' is in use by another socket: choose another port (or :0 for any)");
    if (ec == boost::system::errc::address_not_available)
        fail("local '" + o.local + "' is not an address of this host");
    if (ec) fail("cannot bind local '" + o.local + "': " + ec.message());
    i->sock.non_blocking(true, ec);
    if (ec) fail("cannot make the socket non-blocking: " + ec.message());
    // Room for bursts (a TCP window's worth of frames arrives at once); the
    // OS may cap it (Linux: net.core.rmem_max), which is fine.
    i->sock.set_option(udp::socket::receive_buffer_size(1 << 20), ec);
    i->sock.set_option(udp::socket::send_buffer_size(1 << 20), ec);
    const udp::endpoint bound = i->sock.local_endpoint(ec);
    if (ec) fail("cannot read the bound address: " + ec.message());
    i->port = bound.port();
    i->local_text = endpoint_text(bound);
    i->remote_text = endpoint_text(remote_ep);
    const std::size_t batch = o.mtu <= 9000 ? 32 : 8;
    i->rx.assign(batch, std::vector<std::uint8_t>(o.mtu + ethernet_header + 1));
    i->rx_from.resize(batch);
    return std::unique_ptr<udp_tunnel>(new udp_tunnel(std::move(i)));
}

udp_tunnel::udp_tunnel(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

udp_tunnel::~udp_tunnel() { stop(); }

std::size_t udp_tunnel::mtu() const { return impl_->opts.mtu; }
mac_address udp_tunnel::mac() const { return impl_->opts.mac; }
link_offloads udp_tunnel::offloads() const { return {}; }
std::uint16_t udp_tunnel::local_port() const { return impl_->port; }
const std::string& udp_tunnel::local() const { return impl_->local_text; }
const std::string& udp_tunnel::remote() const { return impl_->remote_text; }

udp_tunnel::counters udp_tunnel::stats() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->stats;
}

void udp_tunnel::start(link_sink& sink) {
    impl& in = *impl_;
    if (in.running.exchange(true)) return;
    in.sink = &sink;
    in.io.restart();
    in.work.emplace(in.io.get_executor());
    {
        std::lock_guard<std::mutex> g(in.mu);
        ++in.epoch;
        in.tx_queue.clear();
        in.sending = false;
        in.arm_receive();
    }
    in.thread = std::thread([&in] { in.io.run(); });
}

void udp_tunnel::stop() {
    impl& in = *impl_;
    if (!in.running.exchange(false)) return;
    {
        // Pending operations complete as aborted; their handlers, run by a
        // later start(), see an old epoch and do nothing.
        std::lock_guard<std::mutex> g(in.mu);
        ++in.epoch;
        error_code ec;
        in.sock.cancel(ec);
    }
    in.work.reset();
    in.io.stop();
    if (in.thread.joinable()) in.thread.join();
    in.sink = nullptr;
    std::lock_guard<std::mutex> g(in.mu);
    in.tx_queue.clear();
    in.sending = false;
}

void udp_tunnel::impl::arm_receive() {
    const unsigned ep = epoch;
    sock.async_receive_from(asio::buffer(rx[0]), rx_from[0],
                            [this, ep](const error_code& ec, std::size_t n) { on_received(ep, ec, n); });
}

// Whether datagram `slot` (its receive ended with `ec`, `n` bytes) is a
// frame for the stack; counts it either way.
bool udp_tunnel::impl::accept(std::size_t slot, const error_code& ec, std::size_t n) {
    if (ec == asio::error::message_size) {
        ++stats.rx_oversize;
        return false;
    }
    if (ec) {
        ++stats.rx_errors;
        return false;
    }
    if (rx_from[slot] != remote_ep) {
        ++stats.rx_foreign;
        return false;
    }
    if (n < ethernet_header) {
        ++stats.rx_runt;
        return false;
    }
    if (n > opts.mtu + ethernet_header) {
        ++stats.rx_oversize;
        return false;
    }
    ++stats.frames_in;
    stats.bytes_in += n;
    return true;
}

void udp_tunnel::impl::on_received(unsigned ep, const error_code& ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    std::unique_lock<std::mutex> g(mu);
    if (ep != epoch || !running) return;
    std::array<frame_part, 32> frames{};
    std::size_t count = 0;
    if (accept(0, ec, n)) frames[count++] = {rx[0].data(), n};
    // What else is ready, without waiting: delivered in the same batch.
    for (std::size_t slot = 1; slot < rx.size(); ++slot) {
        error_code e;
        const std::size_t got = sock.receive_from(asio::buffer(rx[slot]), rx_from[slot], 0, e);
        if (e == asio::error::would_block || e == asio::error::try_again || e == asio::error::bad_descriptor) break;
        if (accept(slot, e, got)) frames[count++] = {rx[slot].data(), got};
    }
    g.unlock();
    if (count != 0) sink->deliver_many(frames.data(), count, nullptr);  // copies before it returns
    g.lock();
    // Any other error (an ICMP port unreachable that Windows reports on the
    // next receive, a datagram too long) concerns one datagram: go on.
    if (ep == epoch && running) arm_receive();
}

bool udp_tunnel::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    (void)info;  // no offloads announced: every frame is plain
    impl& in = *impl_;
    if (!in.running) return false;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
    std::lock_guard<std::mutex> g(in.mu);
    // Again under the lock: a stop() that began meanwhile has cancelled
    // what was pending, and a send started now would outlive it.
    if (!in.running) return false;
    if (total < ethernet_header || total > in.opts.mtu + ethernet_header) {
        ++in.stats.dropped;
        return false;
    }
    if (in.tx_queue.empty() && !in.sending && count <= max_gather) {  // nothing may overtake queued frames
        std::array<asio::const_buffer, max_gather> bufs;
        for (std::size_t i = 0; i < count; ++i) bufs[i] = asio::const_buffer(parts[i].data, parts[i].size);
        error_code ec;
        const std::size_t n = in.sock.send_to(buffer_range{bufs.data(), bufs.data() + count}, in.remote_ep, 0, ec);
        if (!ec && n == total) {
            ++in.stats.frames_out;
            in.stats.bytes_out += total;
            return true;
        }
        if (ec != asio::error::would_block && ec != asio::error::try_again && ec != asio::error::no_buffer_space) {
            ++in.stats.dropped;  // a datagram is sent whole or not at all
            return false;
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
    if (!in.sending) in.send_queued();
    return true;
}

// Sends the queue's head asynchronously: completes when the socket took it.
void udp_tunnel::impl::send_queued() {
    sending = true;
    const unsigned ep = epoch;
    sock.async_send_to(asio::buffer(tx_queue.front()), remote_ep,
                       [this, ep](const error_code& ec, std::size_t n) { on_sent(ep, ec, n); });
}

void udp_tunnel::impl::on_sent(unsigned ep, const error_code& ec, std::size_t n) {
    std::lock_guard<std::mutex> g(mu);
    if (ep != epoch || !running) return;
    sending = false;
    if (!ec && n == tx_queue.front().size()) {
        ++stats.frames_out;
        stats.bytes_out += n;
    } else {
        ++stats.dropped;
    }
    tx_queue.pop_front();
    // The rest without waiting while the socket takes it.
    while (!tx_queue.empty()) {
        error_code e;
        const std::size_t sent = sock.send_to(asio::buffer(tx_queue.front()), remote_ep, 0, e);
        if (e == asio::error::would_block || e == asio::error::try_again || e == asio::error::no_buffer_space) {
            send_queued();
            return;
        }
        if (!e && sent == tx_queue.front().size()) {
            ++stats.frames_out;
            stats.bytes_out += sent;
        } else {
            ++stats.dropped;
        }
        tx_queue.pop_front();
    }
}

}  // namespace lwsp
