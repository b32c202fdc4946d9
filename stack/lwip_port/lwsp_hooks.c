/* lwsp's lwIP hooks: see lwsp_hooks.h. */
#include "lwsp_hooks.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

int lwsp_input_gso = 0;

err_t lwsp_tcp_inpacket(struct tcp_pcb *pcb)
{
  /* Listening and TIME-WAIT pcbs have nothing to acknowledge here (the
   * listen pcb is a smaller struct: only common fields may be read). */
  if (lwsp_input_gso && pcb->state >= SYN_RCVD && pcb->state <= LAST_ACK) {
    tcp_ack_now(pcb); /* sent by the tcp_output() that ends tcp_input() */
  }
  return ERR_OK;
}
