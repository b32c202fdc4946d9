/*
 * lan9118_link.c — the LAN9118 as a link of the stack: the lwsp_port_ops
 * table of lwsp/port.h over the hardware functions of lan9118.c.
 *
 * Everything runs on the thread (or bare-metal main loop) that drives the
 * stack: transmit() under the core lock, poll() without it.  The only
 * interrupt-context code is lwsp_lan9118_isr (lan9118.c), which touches the
 * controller's interrupt mask and one flag.
 */
#include "lan9118_regs.h"

static size_t link_mtu(void* ctx) {
    (void)ctx;
    return 1500;
}

static void link_mac(void* ctx, unsigned char mac[6]) {
    const lwsp_lan9118* dev = (const lwsp_lan9118*)ctx;
    for (int i = 0; i < 6; ++i) mac[i] = dev->mac[i];
}

static int link_start(void* ctx, lwsp_sink* sink) {
    lwsp_lan9118* dev = (lwsp_lan9118*)ctx;
    dev->sink = sink;
    /* The stack takes a new link as up; the first poll() reads the PHY and
     * reports a difference. */
    dev->link_reported = 1;
    dev->link_check = 1;
    lwsp_lan9118_enable(dev, 1);
    return 0;
}

static int link_transmit(void* ctx, const lwsp_frame_part* parts, size_t count) {
    return lan9118_tx_parts((lwsp_lan9118*)ctx, parts, count);
}

static void link_stop(void* ctx) {
    lwsp_lan9118* dev = (lwsp_lan9118*)ctx;
    lan_write(dev, LAN_INT_EN, 0);
    lwsp_lan9118_enable(dev, 0);
    dev->irq_masked = 0;
    dev->sink = NULL;
}

static int link_poll(void* ctx, lwsp_sink* sink) {
    lwsp_lan9118* dev = (lwsp_lan9118*)ctx;
    int changed = 0;
    const int up = lan9118_link_state(dev, dev->link_check, &changed);
    dev->link_check = 0;
    if (changed) {
        dev->link_reported = up;
        lwsp_sink_set_link_up(sink, up);
    }
    /* Acknowledge "frames waiting" before reading them: a frame that
     * arrives after the last read raises it again, and with it the IRQ
     * once lan9118_service unmasks. */
    if (dev->irq_enabled) lan_write(dev, LAN_INT_STS, LAN_INT_RSFL);
    int delivered = 0;
    for (int read = 0; read < LWSP_LAN9118_POLL_BUDGET; ++read) {
        const long n = lan9118_rx_next(dev);
        if (n == 0) break;
        if (n < 0) continue; /* discarded (counted in the stats) */
        lwsp_sink_deliver(sink, dev->rx_buf, (size_t)n);
        ++delivered;
    }
    lan9118_service(dev);
    return delivered;
}

static const lwsp_port_ops lan9118_ops = {
    link_mtu, link_mac, link_start, link_transmit, link_stop, link_poll, NULL,
};

lwsp_link* lwsp_lan9118_link(lwsp_lan9118* dev) { return lwsp_link_create(&lan9118_ops, dev); }
