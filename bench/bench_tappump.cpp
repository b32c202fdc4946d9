// bench_tappump — baseline (a): the physical limit of a TAP device.  Raw
// Ethernet frames pumped through the device with no TCP/IP stack on our side:
//   in:  written to the TAP file descriptor (what a user-space stack
//        transmits), counted as they arrive at an AF_PACKET socket on the
//        kernel side of the device;
//   out: sent by an AF_PACKET socket on the kernel side, counted as they are
//        read from the TAP file descriptor (what a user-space stack receives).
// Frames use the local experimental EtherType 0x88b5, so no protocol of the
// kernel's handles them.
//
//   bench_tappump [--tap lwsp0] [--size 1514] [--ms 1000]
// Prints RESULT pump<size>.in_fps/in_bps/out_fps/out_bps (bit/s counts whole
// frames: 14-byte header included).
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tap_fd.hpp"

namespace {

constexpr std::uint16_t k_ethertype = 0x88b5;

int packet_socket(const std::string& dev) {
    const int fd = ::socket(AF_PACKET, SOCK_RAW, htons(k_ethertype));
    if (fd < 0) bench::fail("AF_PACKET socket: " + std::string(std::strerror(errno)));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(k_ethertype);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (sll.sll_ifindex == 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
        bench::fail("bind AF_PACKET to " + dev);
    int big = 64 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    return fd;
}

std::vector<std::uint8_t> make_frame(std::size_t size) {
    std::vector<std::uint8_t> f(size, 0x5a);
    const std::uint8_t dst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02}, src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::memcpy(f.data(), dst, 6);
    std::memcpy(f.data() + 6, src, 6);
    f[12] = k_ethertype >> 8;
    f[13] = k_ethertype & 0xff;
    return f;
}

// Frames per second that reached the receiving end.
template <class Send, class Recv>
double pump(int recv_fd, Send send_one, Recv recv_one, int ms) {
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        while (!stop.load(std::memory_order_relaxed)) send_one();
    });
    std::vector<std::uint8_t> buf(65536 + 64);
    std::uint64_t frames = 0;
    const auto t0 = bench::clock::now();
    const auto end = t0 + std::chrono::milliseconds(ms);
    while (bench::clock::now() < end) {
        pollfd p{recv_fd, POLLIN, 0};
        if (::poll(&p, 1, 10) <= 0) continue;
        // A batch at most: a reader that keeps up with the writer would
        // otherwise never look at the clock again.
        for (int k = 0; k < 64 && recv_one(buf) > 0; ++k) ++frames;
    }
    const double t = bench::seconds_since(t0);
    stop = true;
    writer.join();
    return static_cast<double>(frames) / t;
}

}  // namespace

int main(int argc, char** argv) {
    bench::args a(argc, argv);
    const std::string dev = a.str("tap", "lwsp0");
    const std::size_t size = a.num("size", 1514);
    const int ms = static_cast<int>(a.num("ms", 1000));
    const int tap = bench::tap_open(dev);  // nonblocking
    const int pkt = packet_socket(dev);
    const std::vector<std::uint8_t> frame = make_frame(size);
    const std::string k = "pump" + std::to_string(size);

    // in: TAP fd -> kernel (AF_PACKET sees the frame arriving on the device)
    const double in_fps = pump(
        pkt,
        [&] {
            if (::write(tap, frame.data(), frame.size()) < 0 && errno == EAGAIN) bench::fd_wait(tap, true, 10);
        },
        [&](std::vector<std::uint8_t>& b) { return ::recv(pkt, b.data(), b.size(), MSG_DONTWAIT); }, ms);
    // drain what is left
    std::vector<std::uint8_t> junk(65536 + 64);
    while (::recv(pkt, junk.data(), junk.size(), MSG_DONTWAIT) > 0) {
    }
    while (::read(tap, junk.data(), junk.size()) > 0) {
    }

    // out: kernel -> TAP fd
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, frame.data(), 6);
    const double out_fps = pump(
        tap,
        [&] {
            if (::sendto(pkt, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0 &&
                (errno == ENOBUFS || errno == EAGAIN))
                std::this_thread::yield();
        },
        [&](std::vector<std::uint8_t>& b) { return ::read(tap, b.data(), b.size()); }, ms);

    bench::result(k + ".in_fps", in_fps);
    bench::result(k + ".in_bps", in_fps * static_cast<double>(size) * 8);
    bench::result(k + ".out_fps", out_fps);
    bench::result(k + ".out_bps", out_fps * static_cast<double>(size) * 8);
    return 0;
}
