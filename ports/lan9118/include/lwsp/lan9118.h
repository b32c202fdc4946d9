/*
 * lwsp/lan9118.h — a port for the SMSC (Microchip) LAN9118 family of
 * Ethernet controllers: LAN9118, LAN9220 and their 32-bit bus relatives, as
 * found on Arm's MPS2/MPS2+ boards and emulated by QEMU's mps2-an385 and
 * mps2-an386 machines (controller at 0x40200000, interrupt 13).
 *
 * The driver is written in C11 against the C port ABI (lwsp/port.h) and
 * touches the device only through its memory-mapped registers (32-bit bus,
 * little endian).  It uses no heap and no clock: the caller provides the
 * storage of an lwsp_lan9118 (static in firmware) and the stack polls the
 * receive FIFO through the link's poll() hook, from lwsp_poll() and from
 * every blocking call.  Interrupts are optional: they only wake a sleeping
 * main loop, the frames are still read by poll().
 *
 * Plugging it in (firmware; lwsp/stack.h for the rest of the bring-up):
 *
 *     static lwsp_lan9118 eth;                  // one per controller
 *     static const unsigned char mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};
 *     if (lwsp_lan9118_init(&eth, 0x40200000u, mac) != 0) panic("no LAN9118");
 *     lwsp_link *link = lwsp_lan9118_link(&eth);
 *     int id = lwsp_attach(link, &cfg, err, sizeof err);
 *     lwsp_link_release(link);                  // the stack holds its own reference
 *
 *   and, for a main loop that sleeps (WFI) between polls:
 *
 *     lwsp_lan9118_enable_irq(&eth);            // then enable the NVIC line
 *     void ETHERNET_IRQHandler(void) { lwsp_lan9118_isr(&eth); wake_main_loop(); }
 *
 * What the link does:
 *  - start(): enables the MAC's receiver and transmitter; stop() disables
 *    them and masks the controller's interrupts.
 *  - transmit(): copies the frame into the TX data FIFO as one buffer (TX
 *    command words A and B, then the bytes packed little endian into 32-bit
 *    words); the MAC adds padding and the FCS.  If the FIFO has no room it
 *    waits a bounded time for the wire to drain it, then drops the frame.
 *  - poll(): reads up to LWSP_LAN9118_POLL_BUDGET frames from the RX FIFOs
 *    (status word, then the frame's words) and delivers each with
 *    lwsp_sink_deliver; frames with an error, or larger than the buffer, are
 *    read out and counted, not delivered.  It also collects transmit
 *    statuses and reports carrier changes seen by the internal PHY
 *    (lwsp_sink_set_link_up).
 *  - Address filter: frames to the interface's MAC address, broadcast, and
 *    every multicast frame (IPv6 neighbour discovery needs the
 *    solicited-node groups; the port ABI has no multicast list to program
 *    the hash filter from).
 *
 * The raw functions (lwsp_lan9118_send, lwsp_lan9118_receive,
 * lwsp_lan9118_enable) work without the stack, for board bring-up and
 * self-tests; do not mix them with an attached link.
 */
#ifndef LWSP_LAN9118_H
#define LWSP_LAN9118_H

#include <stddef.h>
#include <stdint.h>

#include "lwsp/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest frame the driver receives: 1514 bytes of Ethernet frame, a
 * VLAN tag, the 4-byte FCS the controller stores behind it, rounded up to
 * whole 32-bit FIFO words. */
#define LWSP_LAN9118_MAX_FRAME 1536
/* Frames one poll() delivers at most, so that timers and the application
 * get a turn while a burst arrives. */
#define LWSP_LAN9118_POLL_BUDGET 16

/* Counters, for diagnostics.  Updated by the driver only. */
typedef struct lwsp_lan9118_stats {
    unsigned long rx_frames;   /* delivered (or returned by lwsp_lan9118_receive) */
    unsigned long rx_bytes;    /* their bytes, without the FCS */
    unsigned long rx_errors;   /* frames the MAC flagged (error summary) */
    unsigned long rx_oversize; /* longer than LWSP_LAN9118_MAX_FRAME, or runts */
    unsigned long tx_frames;   /* written to the TX FIFO */
    unsigned long tx_bytes;
    unsigned long tx_dropped;   /* no room in the TX FIFO in time, or bad size */
    unsigned long tx_errors;    /* transmit statuses with the error summary bit */
    unsigned long link_changes; /* carrier changes reported to the stack */
} lwsp_lan9118_stats;

/* One controller.  The fields are the driver's: the struct is declared here
 * only so that firmware can give it static storage. */
typedef struct lwsp_lan9118 {
    uintptr_t base;
    unsigned char mac[6];
    uint16_t tx_tag;
    uint32_t id_rev;
    lwsp_sink* sink;
    int link_reported;       /* carrier state last given to the stack (-1: none yet) */
    int link_check;          /* read the PHY on the next poll, interrupt or not */
    int irq_enabled;         /* lwsp_lan9118_enable_irq was called */
    volatile int irq_masked; /* the ISR masked the controller's interrupts */
    lwsp_lan9118_stats stats;
    uint32_t rx_buf[LWSP_LAN9118_MAX_FRAME / 4];
} lwsp_lan9118;

/* Finds the controller at `base` (BYTE_TEST must read 0x87654321), resets
 * it, restarts the PHY's auto-negotiation and sets the MAC address;
 * receiver and transmitter stay off until the link starts (or
 * lwsp_lan9118_enable).  0, or -1 if no controller answers or its reset
 * does not finish. */
int lwsp_lan9118_init(lwsp_lan9118* dev, uintptr_t base, const unsigned char mac[6]);

/* The link of an initialised controller, for lwsp_attach (lwsp/port.h);
 * NULL without memory.  The caller owns one reference.  `dev` must outlive
 * the link: with static storage it does. */
lwsp_link* lwsp_lan9118_link(lwsp_lan9118* dev);

/* ID_REV as read at init: chip ID in the upper 16 bits (0x0118: LAN9118,
 * 0x9220: LAN9220), revision in the lower. */
uint32_t lwsp_lan9118_id_rev(const lwsp_lan9118* dev);
/* Carrier as the PHY reports it now (basic status register): 1 up, 0 down. */
int lwsp_lan9118_phy_link(lwsp_lan9118* dev);
/* The counters so far. */
lwsp_lan9118_stats lwsp_lan9118_get_stats(const lwsp_lan9118* dev);

/* Interrupts (optional).  enable_irq makes the controller raise its IRQ
 * line (active high, push-pull) when a frame is received or the PHY
 * reports a change; the board must route that line to the CPU.  The
 * handler calls lwsp_lan9118_isr, which only masks the controller's
 * interrupts until the next poll(), so a level-triggered line does not
 * fire again before the frames are read. */
void lwsp_lan9118_enable_irq(lwsp_lan9118* dev);
void lwsp_lan9118_isr(lwsp_lan9118* dev);

/* ---- Raw frame I/O, without the stack --------------------------------- */

/* Receiver and transmitter on (nonzero) or off. */
void lwsp_lan9118_enable(lwsp_lan9118* dev, int on);
/* Sends one frame (destination MAC first, no FCS; 14 to 1514 bytes, or
 * 1518 with a VLAN tag).  0, or -1 if it was dropped. */
int lwsp_lan9118_send(lwsp_lan9118* dev, const void* frame, size_t size);
/* Reads the next received frame into `buf` (`size` bytes, at least
 * LWSP_LAN9118_MAX_FRAME is always enough).  Returns its length without
 * the FCS; 0 if nothing is waiting; -1 if a frame was discarded (an error,
 * or larger than `size`). */
long lwsp_lan9118_receive(lwsp_lan9118* dev, void* buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_LAN9118_H */
