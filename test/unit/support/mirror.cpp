// The mirror network.  What and why: mirror.hpp.
#include "mirror.hpp"

#include <algorithm>

namespace lwsp::test {

namespace {

void swap_ranges_at(bytes& f, std::size_t a, std::size_t b, std::size_t n) {
    std::swap_ranges(f.begin() + static_cast<std::ptrdiff_t>(a), f.begin() + static_cast<std::ptrdiff_t>(a + n),
                     f.begin() + static_cast<std::ptrdiff_t>(b));
}

bool equals_at(const bytes& f, std::size_t at, const ip_addr& a) {
    return f.size() >= at + a.size() &&
           std::equal(a.data(), a.data() + a.size(), f.begin() + static_cast<std::ptrdiff_t>(at));
}

}  // namespace

bool mirror_frame(bytes& frame, const ip_addr& stack, const ip_addr& peer) {
    if (frame.size() < 14 + 20) return false;
    const std::uint16_t type = static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
    std::size_t src, dst, len;
    if (type == ethertype_ipv4 && stack.is_v4()) {
        src = 14 + 12, dst = 14 + 16, len = 4;
    } else if (type == ethertype_ipv6 && stack.is_v6() && frame.size() >= 14 + 40) {
        src = 14 + 8, dst = 14 + 24, len = 16;
    } else {
        return false;
    }
    if (!equals_at(frame, src, stack) || !equals_at(frame, dst, peer)) return false;
    swap_ranges_at(frame, 0, 6, 6);  // MAC addresses
    swap_ranges_at(frame, src, dst, len);
    return true;
}

std::size_t reflect(lan& net) {
    std::size_t taken = 0;
    for (;;) {
        std::vector<bytes> frames = net.link.take();
        if (frames.empty()) return taken;
        taken += frames.size();
        for (bytes& f : frames) {
            const parsed_frame p = parse_frame(f);
            if (net.peer4.answer_resolution(p) || net.peer6.answer_resolution(p)) continue;
            if (mirror_frame(f, net.peer4.stack().ip, net.peer4.self().ip) ||
                mirror_frame(f, net.peer6.stack().ip, net.peer6.self().ip))
                net.link.inject(f);
        }
    }
}

}  // namespace lwsp::test
