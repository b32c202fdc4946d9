// Known, unfixed findings: see known_issues.hpp.  The checks walk a frame
// the way lwIP does, far enough to see whether it reaches the faulty read;
// they err on the side of avoiding.
#include "known_issues.hpp"

#include <cstdlib>
#include <cstring>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

namespace lwsp::fuzz {

namespace {

unsigned be16(const std::uint8_t* p) { return static_cast<unsigned>(p[0] << 8 | p[1]); }

// Options of a TCP header at l4[0..n): does lwIP's tcp_parseopt read past
// them?
bool tcp_options_overread(const std::uint8_t* l4, std::size_t n) {
    if (n < 20) return false;
    const std::size_t hdr = (l4[12] >> 4) * 4u;
    if (hdr < 20 || hdr > n) return false;  // tcp_input drops it first
    const std::uint8_t* opt = l4 + 20;
    const std::size_t len = hdr - 20;
    for (std::size_t i = 0; i < len;) {
        const std::uint8_t kind = opt[i];
        if (kind == 0) return false;
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= len) return true;  // the length byte is outside
        const std::uint8_t l = opt[i + 1];
        if (kind == 2) {
            if (l != 4 || i + 4 > len) return false;
            i += 4;
        } else if (kind == 3) {
            if (l != 3 || i + 3 > len) return false;
            i += 3;
        } else {
            if (l < 2) return false;
            i += l;
        }
    }
    return false;
}

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
            if ((frag & 0xfff9) != 0) return p[o] == 6 ? known_issue::tcp_fragment : known_issue::none;
            nh = p[o];
            o += 8;
        } else if (nh == 6) {
            return tcp_options_overread(p + o, n - o) ? known_issue::tcp_option_overread : known_issue::none;
        } else {
            return known_issue::none;
        }
    }
    return known_issue::none;
}

}  // namespace

known_issue zero_copy_known_issue(const test::bytes& f) {
    if (f.size() < 14) return known_issue::none;
    const unsigned type = be16(f.data() + 12);
    const std::uint8_t* ip = f.data() + 14;
    const std::size_t n = f.size() - 14;
    if (type == 0x0800 && n >= 20) {
        const std::size_t ihl = (ip[0] & 0x0f) * 4u;
        const std::size_t total = be16(ip + 2);
        if (ihl < 20 || total < ihl || total > n) return known_issue::none;
        if (ip[9] != 6) return known_issue::none;
        if ((be16(ip + 6) & 0x3fff) != 0) return known_issue::tcp_fragment;
        return tcp_options_overread(ip + ihl, total - ihl) ? known_issue::tcp_option_overread : known_issue::none;
    }
    if (type == 0x86dd && n >= 40) {
        const std::size_t plen = be16(ip + 4);
        if (plen > n - 40) return known_issue::none;
        return ip6_walk(ip[6], ip + 40, plen);
    }
    return known_issue::none;
}

bool tcp_ooseq_fin_past_window_predicted(lwsp::stack& st, const test::bytes& l4) {
    if (l4.size() < 20) return false;
    const unsigned sport = be16(l4.data()), dport = be16(l4.data() + 2);
    const std::uint32_t seq = static_cast<std::uint32_t>(be16(l4.data() + 4)) << 16 | be16(l4.data() + 6);
    const std::size_t hdr = (l4[12] >> 4) * 4u;
    const std::uint8_t flags = l4[13];
    if (hdr < 20 || hdr > l4.size() || (flags & (TCP_SYN | TCP_RST)) != 0) return false;
    const std::uint32_t len = static_cast<std::uint32_t>(l4.size() - hdr) + ((flags & TCP_FIN) ? 1 : 0);
    auto lk = st.lock();
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
        if (pcb->local_port != dport || pcb->remote_port != sport || pcb->ooseq == nullptr) continue;
        // Overlaps rcv_nxt and reaches the window's right edge: trimmed (or
        // exactly filling it), so a covered out-of-order FIN is one too many.
        const std::uint32_t edge = pcb->rcv_nxt + pcb->rcv_wnd;
        if (!TCP_SEQ_LEQ(seq, pcb->rcv_nxt) || !TCP_SEQ_GT(seq + len, pcb->rcv_nxt)) continue;
        if (TCP_SEQ_LT(seq + len, edge)) continue;
        for (struct tcp_seg* s = pcb->ooseq; s != nullptr; s = s->next) {
            if (TCP_SEQ_GT(s->tcphdr->seqno + s->len, edge)) break;
            if (TCPH_FLAGS(s->tcphdr) & TCP_FIN) return true;
        }
    }
    return false;
}

bool tcp_ooseq_past_window_predicted(lwsp::stack& st, const test::bytes& l4) {
    if (l4.size() < 20) return false;
    const unsigned sport = be16(l4.data()), dport = be16(l4.data() + 2);
    const std::uint32_t seq = static_cast<std::uint32_t>(be16(l4.data() + 4)) << 16 | be16(l4.data() + 6);
    const std::size_t hdr = (l4[12] >> 4) * 4u;
    const std::uint8_t flags = l4[13];
    if (hdr < 20 || hdr > l4.size() || (flags & TCP_RST) != 0) return false;
    const std::uint32_t len = static_cast<std::uint32_t>(l4.size() - hdr) + ((flags & TCP_FIN) ? 1 : 0) +
                              ((flags & TCP_SYN) ? 1 : 0);
    auto lk = st.lock();
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
        if (pcb->local_port != dport || pcb->remote_port != sport) continue;
        const std::uint32_t edge = pcb->rcv_nxt + pcb->rcv_wnd;
        if (!TCP_SEQ_GT(seq, pcb->rcv_nxt) || !TCP_SEQ_LT(seq, edge) || !TCP_SEQ_GT(seq + len, edge)) continue;
        if (pcb->ooseq == nullptr) return true;
        for (struct tcp_seg* s = pcb->ooseq; s != nullptr; s = s->next)
            if (s->tcphdr->seqno == seq) return true;
    }
    return false;
}

bool sd_receive_fin_predicted(lwsp::stack& st, const test::bytes& l4) {
    if (l4.size() < 20) return false;
    const unsigned sport = be16(l4.data()), dport = be16(l4.data() + 2);
    const std::size_t hdr = (l4[12] >> 4) * 4u;
    if (hdr < 20 || hdr > l4.size() || (l4[13] & TCP_RST) != 0 || l4.size() == hdr) return false;
    auto lk = st.lock();
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
        if (pcb->local_port != dport || pcb->remote_port != sport) continue;
        if (pcb->state != FIN_WAIT_1 && pcb->state != FIN_WAIT_2) continue;
        if ((l4[13] & TCP_FIN) != 0 || pcb->ooseq != nullptr) return true;
    }
    return false;
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
        case known_issue::tcp_option_overread: return "tcp_option_overread";
        case known_issue::tcp_fragment: return "tcp_fragment";
        case known_issue::recv_null_zero_length_wsabuf: return "recv_null_zero_length_wsabuf";
        case known_issue::tcp_ooseq_fin_past_window: return "tcp_ooseq_fin_past_window";
        case known_issue::tcp_ooseq_past_window: return "tcp_ooseq_past_window";
        case known_issue::select_fd_array_bounds: return "select_fd_array_bounds";
        case known_issue::sd_receive_fin_use_after_free: return "sd_receive_fin_use_after_free";
    }
    return "?";
}

}  // namespace lwsp::fuzz
