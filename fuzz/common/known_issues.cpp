// Known, unfixed findings: see known_issues.hpp.  The checks walk a frame
// the way lwIP does, far enough to see whether it reaches the faulty code;
// they err on the side of avoiding.
#include "known_issues.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace lwsp::fuzz {

namespace {

unsigned be16(const std::uint8_t* p) { return static_cast<unsigned>(p[0] << 8 | p[1]); }

// IPv6 extension headers from p[0..n) (after the fixed header).
known_issue ip6_walk(std::uint8_t nh, const std::uint8_t* p, std::size_t n) {
    std::size_t o = 0;
    for (int hops = 0; hops < 64; ++hops) {
        if (nh == 0 && o != 0) return known_issue::none;  // Hop-by-Hop only first: dropped
        if (nh == 0 || nh == 60 || nh == 43) {
            if (o + 2 > n) return known_issue::ip6_ext_header_overread;
            const std::size_t hlen = 8 * (1u + p[o + 1]);
            if (n - o < 8 || hlen > n - o) return known_issue::none;  // dropped
            if (nh != 43) {
                for (std::size_t off = 2; off < hlen;) {
                    const std::uint8_t type = p[o + off];
                    if (type == 0) {
                        ++off;
                        continue;
                    }
                    if (o + off + 1 >= n) return known_issue::ip6_ext_header_overread;
                    const bool known_type = type == 1 || type == 5 || type == 0xc2 || (nh == 60 && type == 0xc9);
                    if (!known_type && (type >> 6) != 0) return known_issue::none;  // dropped
                    off += 2u + p[o + off + 1];
                }
            }
            nh = p[o];
            o += hlen;
        } else if (nh == 44) {
            if (n - o < 8) return known_issue::none;
            const unsigned frag = be16(p + o + 2);
            if ((frag & 0xfff9) != 0) return known_issue::none;  // reassembly not modelled
            nh = p[o];
            o += 8;
        } else {
            return known_issue::none;
        }
    }
    return known_issue::none;
}

// The ICMPv6 message at m[0..n) (icmp6_known_issue).
known_issue icmp6_walk(const std::uint8_t* m, std::size_t n, bool behind_ext, bool zero_copy) {
    // lwsp's IPv6 input hook discards both, behind extension headers too,
    // and neighbour discovery in fragments; it looks at the first pbuf only,
    // which a copied frame always is.  A zero-copy frame split in two may
    // carry the message past the hook's view.
    if (n == 0 || !behind_ext || !zero_copy) return known_issue::none;
    std::size_t hdr;
    switch (m[0]) {
        case 135:  // Neighbor Solicitation
        case 136:  // Neighbor Advertisement
            hdr = 24;
            break;
        case 137:  // Redirect: its target address at 8
            hdr = 40;
            if (n >= hdr && std::all_of(m + 8, m + 24, [](std::uint8_t b) { return b == 0; }))
                return known_issue::nd6_redirect_unspecified_target;
            break;
        default: return known_issue::none;
    }
    // The first option, taken as the link-layer address, with length 0:
    // copied frames have zeros behind them.
    return zero_copy && n >= hdr + 2 && m[hdr + 1] == 0 ? known_issue::nd6_lladdr_option_overread : known_issue::none;
}

}  // namespace

known_issue icmp6_known_issue(const test::bytes& icmp6, bool behind_ext, bool zero_copy) {
    return icmp6_walk(icmp6.data(), icmp6.size(), behind_ext, zero_copy);
}

known_issue icmp6_known_issue_in_frame(const test::bytes& f, bool zero_copy) {
    if (f.size() < 14 + 40 || be16(f.data() + 12) != 0x86dd) return known_issue::none;
    const std::uint8_t* p = f.data() + 14 + 40;
    const std::size_t n = f.size() - 14 - 40;
    std::uint8_t nh = f[14 + 6];
    for (std::size_t o = 0; o + 8 <= n;) {
        if (nh == 58) return icmp6_walk(p + o, n - o, o != 0, zero_copy);
        if (nh == 0 || nh == 60 || nh == 43) {
            nh = p[o];
            o += 8 * (1u + p[o + 1]);
        } else if (nh == 44 && (be16(p + o + 2) & 0xfff9) == 0) {  // an atomic fragment
            nh = p[o];
            o += 8;
        } else {
            return known_issue::none;
        }
    }
    return known_issue::none;
}

known_issue zero_copy_known_issue(const test::bytes& f) {
    if (f.size() < 14 + 40 || be16(f.data() + 12) != 0x86dd) return known_issue::none;
    const std::uint8_t* ip = f.data() + 14;
    const std::size_t plen = be16(ip + 4);
    if (plen > f.size() - 14 - 40) return known_issue::none;
    return ip6_walk(ip[6], ip + 40, plen);
}

bool avoid_known_issues() {
    static const bool avoid = [] {
        const char* v = std::getenv("LWSP_FUZZ_KNOWN_ISSUES");
        return v == nullptr || std::strcmp(v, "reproduce") != 0;
    }();
    return avoid;
}

const char* to_string(known_issue k) {
    switch (k) {
        case known_issue::none: return "none";
        case known_issue::ip6_ext_header_overread: return "ip6_ext_header_overread";
        case known_issue::nd6_lladdr_option_overread: return "nd6_lladdr_option_overread";
        case known_issue::nd6_redirect_unspecified_target: return "nd6_redirect_unspecified_target";
    }
    return "?";
}

}  // namespace lwsp::fuzz
