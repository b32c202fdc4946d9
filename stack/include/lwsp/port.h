/*
 * lwsp/port.h — the C port ABI: a network driver written in C (a firmware
 * MAC driver, say) becomes a link of the stack through a table of function
 * pointers, and hands received frames to the stack through C calls.
 *
 * It is the C face of lwsp/link.hpp, with the same rules:
 *  - transmit() is called with the stack's core lock held.  It must not
 *    block and must not call back into the stack (no lwsp_sink_* calls):
 *    copy the frame to the device or drop it.
 *  - lwsp_sink_deliver()/lwsp_sink_set_link_up() take the core lock
 *    themselves: call them from the driver's own thread, from its poll()
 *    hook, or from a bare-metal main loop — never from transmit(), and never
 *    from an interrupt handler (queue in the handler, deliver in poll()).
 *  - start() and stop() run without the core lock.  After stop() returns
 *    the driver must not use the sink again.
 *  - poll(), if not NULL, is called by lwsp_poll() (lwsp/stack.h) and by
 *    every blocking call on a bare-metal build, without the core lock: the
 *    place for a polled driver to read its receive FIFO and deliver.  Hosted
 *    ports that run their own I/O thread leave it NULL.
 *
 * Plugging in:
 *     static const lwsp_port_ops my_ops = { my_mtu, my_mac, my_start,
 *                                           my_transmit, my_stop, my_poll,
 *                                           NULL };
 *     lwsp_link *l = lwsp_link_create(&my_ops, &my_device);
 *     int id = lwsp_attach(l, &cfg, err, sizeof err);   // lwsp/stack.h
 *     lwsp_link_release(l);          // the stack keeps its own reference
 */
#ifndef LWSP_PORT_H
#define LWSP_PORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A link of the stack (a port's link, however it was made). */
typedef struct lwsp_link lwsp_link;
/* Where a link delivers: valid from start() until stop() returns. */
typedef struct lwsp_sink lwsp_sink;

/* One contiguous piece of an outgoing Ethernet frame (destination MAC
 * first, no preamble, no FCS); a frame is a short list of them. */
typedef struct lwsp_frame_part {
    const void* data;
    size_t size;
} lwsp_frame_part;

typedef struct lwsp_port_ops {
    /* IP MTU in bytes (1500 for standard Ethernet), read once at attach. */
    size_t (*mtu)(void* ctx);
    /* The interface's MAC address, read once at attach. */
    void (*mac)(void* ctx, unsigned char mac[6]);
    /* Begin delivering to `sink`.  0, or -1 if the device cannot start
     * (lwsp_attach then fails). */
    int (*start)(void* ctx, lwsp_sink* sink);
    /* Send one frame of `count` parts.  0 if it was queued or sent, -1 if
     * it was dropped (TCP retransmits; UDP loses the datagram). */
    int (*transmit)(void* ctx, const lwsp_frame_part* parts, size_t count);
    /* Stop delivering and release the device. */
    void (*stop)(void* ctx);
    /* May be NULL.  Read the device and deliver what arrived; return how
     * many frames were delivered (0: nothing to do). */
    int (*poll)(void* ctx, lwsp_sink* sink);
    /* May be NULL.  Called once when the last reference to the link goes
     * (after stop()): free `ctx`. */
    void (*destroy)(void* ctx);
} lwsp_port_ops;

/* A link for a C driver.  `ops` must outlive the link (a static table);
 * `mtu`, `mac`, `start`, `transmit` and `stop` are required.  Returns NULL
 * for a NULL or incomplete table, or without memory.  The caller owns one
 * reference: give it back with lwsp_link_release, attached or not. */
lwsp_link* lwsp_link_create(const lwsp_port_ops* ops, void* ctx);
/* Drops the caller's reference; the stack keeps its own while attached. */
void lwsp_link_release(lwsp_link* link);

/* An inbound Ethernet frame; the bytes are copied before it returns. */
void lwsp_sink_deliver(lwsp_sink* sink, const void* frame, size_t size);
/* Carrier state: nonzero up.  A link starts up. */
void lwsp_sink_set_link_up(lwsp_sink* sink, int up);

#ifdef __cplusplus
}
#endif

#endif /* LWSP_PORT_H */
