/* lwsp's lwIP hooks: see lwsp_hooks.h. */
#include "lwsp_hooks.h"

#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"

int lwsp_input_gso = 0;

/* The option byte at index i (the options may be split across two pbufs). */
static u8_t *option_byte(struct tcp_hdr *hdr, u16_t opt1len, u8_t *opt2, u16_t i)
{
  return i < opt1len ? (u8_t *)hdr + TCP_HLEN + i : opt2 + (i - opt1len);
}

static void sanitize_options(struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2, int syn)
{
  u16_t i = 0;
  while (i < optlen) {
    u8_t *kind = option_byte(hdr, opt1len, opt2, i);
    u8_t len;
    u16_t j;
    if (*kind == LWIP_TCP_OPT_EOL) {
      return;
    }
    if (*kind == LWIP_TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= optlen) {
      *kind = LWIP_TCP_OPT_EOL; /* no room for its length byte */
      return;
    }
    len = *option_byte(hdr, opt1len, opt2, (u16_t)(i + 1));
    if (len < 2 || (u32_t)i + len > optlen) {
      *kind = LWIP_TCP_OPT_EOL;
      return;
    }
    if (*kind == LWIP_TCP_OPT_MSS && !syn) {
      for (j = 0; j < len; j++) {
        *option_byte(hdr, opt1len, opt2, (u16_t)(i + j)) = LWIP_TCP_OPT_NOP;
      }
    }
    i = (u16_t)(i + len);
  }
}

/* Whether lwIP 2.1.3's tcp_receive() would mishandle a segment that ends
 * past the receive window's right edge (lwsp_hooks.h). */
static int unsafe_past_window(const struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
  const u8_t flags = (u8_t)TCPH_FLAGS(hdr);
  const u32_t seq = hdr->seqno;
  const u32_t len = (u32_t)p->tot_len + ((flags & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
  const u32_t right = pcb->rcv_nxt + pcb->rcv_wnd;
  if (len == 0 || !TCP_SEQ_GT(seq + len, right) || !TCP_SEQ_LT(seq, right)) {
    return 0; /* inside the window, or wholly past it (lwIP only ACKs it) */
  }
  if (TCP_SEQ_GT(seq, pcb->rcv_nxt)) {
    return 1; /* out of order: it would be queued untrimmed */
  }
#if TCP_QUEUE_OOSEQ
  return pcb->ooseq != NULL; /* trimmed: it could take over a queued FIN */
#else
  return 0;
#endif
}

err_t lwsp_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                        const struct pbuf *p)
{
  const unsigned char flags = (unsigned char)TCPH_FLAGS(hdr);
  sanitize_options(hdr, optlen, opt1len, opt2, (flags & TCP_SYN) != 0);
  /* The listen pcb is a smaller struct: only common fields may be read. */
  if (pcb->state == LISTEN) {
    return lwsp_tcp_listener_input((struct tcp_pcb_listen *)pcb, flags);
  }
  /* A SYN for a 4-tuple held in TIME-WAIT whose sequence number lies
   * beyond the old connection is a new connection (RFC 1122 4.2.2.13; RFC
   * 6528's initial sequence numbers grow with time for a 4-tuple, RFC 6191).
   * lwIP answers it with an ACK, the peer answers that with RST, which
   * TIME-WAIT ignores (RFC 1337): a client reusing its port could not
   * connect for 2 MSL.  The TIME-WAIT pcb goes (freed without a RST) and
   * this SYN with it; the peer's retransmission finds the listener. */
  if (pcb->state == TIME_WAIT && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
      TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt)) {
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  if (pcb->state == SYN_RCVD && lwsp_tcp_handshake_input(pcb, flags) != ERR_OK) {
    return ERR_INPROGRESS; /* dropped: the peer retransmits */
  }
  if (pcb->state >= SYN_RCVD && pcb->state <= LAST_ACK && unsafe_past_window(pcb, hdr, p)) {
    TCP_STATS_INC(tcp.drop);
    return ERR_VAL; /* dropped: what lies inside the window comes again */
  }
  /* TIME-WAIT pcbs have nothing to acknowledge here. */
  if (lwsp_input_gso && pcb->state >= SYN_RCVD && pcb->state <= LAST_ACK) {
    tcp_ack_now(pcb); /* sent by the tcp_output() that ends tcp_input() */
  }
  return ERR_OK;
}

/* Where the options of a neighbour discovery message start (RFC 4861 4.1-4.5:
 * the ICMPv6 header and the message's fixed part), or 0 for other messages. */
static u16_t nd_options_offset(u8_t icmp_type)
{
  switch (icmp_type) {
    case 133: return 8;  /* router solicitation */
    case 134: return 16; /* router advertisement */
    case 135: return 24; /* neighbour solicitation */
    case 136: return 24; /* neighbour advertisement */
    case 137: return 40; /* redirect */
    default: return 0;
  }
}

/* Whether a neighbour discovery message (ICMPv6 at icmp[0..len)) breaks a
 * rule of RFC 4861 that lwIP 2.1.3 does not check and suffers from. */
static int nd_message_invalid(const u8_t *icmp, u32_t len)
{
  u32_t at = nd_options_offset(icmp[0]);
  if (icmp[0] == 137 && len >= 40) {
    /* A redirect's target is a router's link-local address or the
     * destination itself (8.1).  lwIP takes any target as the destination's
     * next hop; the unspecified address matches every unused neighbour
     * entry, and packets to that destination queue there for good. */
    const u8_t *target = icmp + 8;
    const u8_t *destination = icmp + 24;
    const int link_local = target[0] == 0xfe && (target[1] & 0xc0) == 0x80;
    if (!link_local && memcmp(target, destination, 16) != 0) {
      return 1;
    }
  }
  while (at + 2 <= len) {
    if (icmp[at + 1] == 0) {
      return 1; /* an option of length 0 (4.6) */
    }
    at += 8u * icmp[at + 1];
  }
  return 0;
}

int lwsp_ip6_input(struct pbuf *p, struct netif *inp)
{
  const u8_t *ip6 = (const u8_t *)p->payload;
  const u8_t *h;
  u32_t len;
  u32_t off = 0;
  u8_t next;
  int first_of_several = 0;
  LWIP_UNUSED_ARG(inp);
  if (p->len < 40 || (ip6[0] >> 4) != 6) {
    return 0; /* lwIP drops it */
  }
  len = ((u32_t)ip6[4] << 8) | ip6[5];
  if (len > (u32_t)p->len - 40) {
    len = (u32_t)p->len - 40; /* what lies in a later pbuf is not looked at */
  }
  h = ip6 + 40;
  next = ip6[6];
  /* The extension headers lwIP follows, to the upper-layer header.  Each
   * step moves on by at least 8 bytes, so the walk ends. */
  for (;;) {
    if (next == 0 || next == 43 || next == 60) { /* hop-by-hop, routing, destination options */
      if (off + 8 > len) {
        break;
      }
      next = h[off];
      off += 8u * (1u + h[off + 1]);
    } else if (next == 44) { /* fragment */
      u16_t offset_flags;
      if (off + 8 > len) {
        break;
      }
      offset_flags = (u16_t)(((u16_t)h[off + 2] << 8) | h[off + 3]);
      if ((offset_flags >> 3) != 0) {
        return 0; /* a later fragment: its datagram was judged by its first */
      }
      first_of_several = first_of_several || (offset_flags & 1u) != 0;
      next = h[off];
      off += 8;
    } else {
      break;
    }
  }
  if (next == 58 && off + 4 <= len && nd_options_offset(h[off]) != 0) {
    /* Neighbour discovery in fragments is discarded (RFC 6980), and a
     * message that breaks RFC 4861 (nd_message_invalid). */
    if (first_of_several || nd_message_invalid(h + off, len - off)) {
      pbuf_free(p);
      return 1;
    }
    return 0;
  }
  if (first_of_several && (off + 8 > len || next == 0 || next == 43 || next == 60 || next == 44)) {
    /* A first fragment without the whole header chain (RFC 7112): what it
     * carries cannot be judged, so it is discarded. */
    pbuf_free(p);
    return 1;
  }
  return 0;
}
