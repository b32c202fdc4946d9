/* lwsp's lwIP hooks: see lwsp_hooks.h. */
#include "lwsp_hooks.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"

int lwsp_input_gso = 0;

err_t lwsp_tcp_inpacket(struct tcp_pcb *pcb, const struct tcp_hdr *hdr)
{
  const unsigned char flags = (unsigned char)TCPH_FLAGS(hdr);
  /* The listen pcb is a smaller struct: only common fields may be read. */
  if (pcb->state == LISTEN) {
    return lwsp_tcp_listener_input((struct tcp_pcb_listen *)pcb, flags);
  }
  if (pcb->state == SYN_RCVD && lwsp_tcp_handshake_input(pcb, flags) != ERR_OK) {
    return ERR_INPROGRESS; /* dropped: the peer retransmits */
  }
  /* TIME-WAIT pcbs have nothing to acknowledge here. */
  if (lwsp_input_gso && pcb->state >= SYN_RCVD && pcb->state <= LAST_ACK) {
    tcp_ack_now(pcb); /* sent by the tcp_output() that ends tcp_input() */
  }
  return ERR_OK;
}
