/*
 * The C port ABI (lwsp/port.h) and the stack's C bring-up (lwsp/stack.h),
 * from a C11 program that links the stack alone (no Winsock shim).
 *
 * A link written in C — a table of function pointers over a pair of frame
 * queues — is attached to the stack; the test plays the peer on the other
 * end: it answers nothing, it asks.  An ARP request and an ICMP echo request
 * go in through the link's poll(), and what the stack transmits is checked
 * byte by byte: the ARP reply, the echo reply with its checksum.  A driver
 * whose transmit queue is full drops a reply and answers the next request;
 * detaching the interface stops the driver and lets the stack's reference
 * go (destroy).
 *
 * Runs on the hosted build (a driver thread exists, but only lwsp_poll()
 * polls this link) and on the bare-metal build (lwsp_poll() is the loop).
 * Exits 0 when every check holds; prints each failed check.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lwsp/stack.h"

static int failures = 0;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

/* ---- the C driver ------------------------------------------------------- */

enum { max_frame = 1514, queue_len = 8 };

typedef struct frame {
    size_t size;
    unsigned char bytes[max_frame];
} frame;

typedef struct test_device {
    unsigned char mac[6];
    frame rx[queue_len]; /* peer -> stack, delivered by poll() */
    int rx_count;
    frame tx[queue_len]; /* stack -> peer */
    int tx_count;
    lwsp_sink* sink;
    int starts, stops, destroys, polls;
} test_device;

static size_t dev_mtu(void* ctx) {
    (void)ctx;
    return 1500;
}

static void dev_mac(void* ctx, unsigned char mac[6]) { memcpy(mac, ((test_device*)ctx)->mac, 6); }

static int dev_start(void* ctx, lwsp_sink* sink) {
    test_device* d = ctx;
    d->sink = sink;
    ++d->starts;
    return 0;
}

static int dev_transmit(void* ctx, const lwsp_frame_part* parts, size_t count) {
    test_device* d = ctx;
    if (d->tx_count == queue_len) return -1; /* full: dropped, as a NIC would */
    frame* f = &d->tx[d->tx_count];
    f->size = 0;
    for (size_t i = 0; i < count; ++i) {
        if (f->size + parts[i].size > max_frame) return -1;
        memcpy(f->bytes + f->size, parts[i].data, parts[i].size);
        f->size += parts[i].size;
    }
    ++d->tx_count;
    return 0;
}

static void dev_stop(void* ctx) {
    test_device* d = ctx;
    d->sink = NULL;
    ++d->stops;
}

static int dev_poll(void* ctx, lwsp_sink* sink) {
    test_device* d = ctx;
    ++d->polls;
    int n = d->rx_count;
    for (int i = 0; i < n; ++i) lwsp_sink_deliver(sink, d->rx[i].bytes, d->rx[i].size);
    d->rx_count = 0;
    return n;
}

static void dev_destroy(void* ctx) { ++((test_device*)ctx)->destroys; }

static const lwsp_port_ops test_ops = {dev_mtu, dev_mac, dev_start, dev_transmit, dev_stop, dev_poll, dev_destroy};

/* ---- frames --------------------------------------------------------------- */

static const unsigned char peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const unsigned char peer_ip[4] = {192, 0, 2, 2};
static const unsigned char stack_ip[4] = {192, 0, 2, 1};

static uint16_t checksum(const unsigned char* p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(unsigned char* p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void queue_rx(test_device* d, const unsigned char* bytes, size_t size) {
    frame* f = &d->rx[d->rx_count++];
    memcpy(f->bytes, bytes, size);
    f->size = size;
}

static void queue_arp_request(test_device* d) {
    unsigned char f[42];
    memset(f, 0xff, 6); /* broadcast */
    memcpy(f + 6, peer_mac, 6);
    put16(f + 12, 0x0806);
    put16(f + 14, 1);      /* Ethernet */
    put16(f + 16, 0x0800); /* IPv4 */
    f[18] = 6;
    f[19] = 4;
    put16(f + 20, 1); /* request */
    memcpy(f + 22, peer_mac, 6);
    memcpy(f + 28, peer_ip, 4);
    memset(f + 32, 0, 6);
    memcpy(f + 38, stack_ip, 4);
    queue_rx(d, f, sizeof f);
}

static const unsigned char ping_payload[] = "lwsp C port";

static void queue_echo_request(test_device* d, uint16_t seq) {
    unsigned char f[14 + 20 + 8 + sizeof ping_payload];
    memcpy(f, d->mac, 6);
    memcpy(f + 6, peer_mac, 6);
    put16(f + 12, 0x0800);
    unsigned char* ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(sizeof f - 14));
    ip[8] = 64;
    ip[9] = 1; /* ICMP */
    memcpy(ip + 12, peer_ip, 4);
    memcpy(ip + 16, stack_ip, 4);
    put16(ip + 10, checksum(ip, 20));
    unsigned char* icmp = ip + 20;
    icmp[0] = 8; /* echo request */
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, 0x1234);
    put16(icmp + 6, seq);
    memcpy(icmp + 8, ping_payload, sizeof ping_payload);
    put16(icmp + 2, checksum(icmp, 8 + sizeof ping_payload));
    queue_rx(d, f, sizeof f);
}

/* Polls until the device has transmitted `want` frames or `turns` loop
 * turns pass.  With a manual clock nothing here depends on time: each turn
 * delivers and the stack answers within the same turn. */
static void poll_until_tx(test_device* d, int want, int turns) {
    for (int i = 0; i < turns && d->tx_count < want; ++i) CHECK(lwsp_poll() >= 0);
}

static const frame* find_tx(const test_device* d, uint16_t ethertype) {
    for (int i = 0; i < d->tx_count; ++i)
        if ((d->tx[i].bytes[12] << 8 | d->tx[i].bytes[13]) == ethertype) return &d->tx[i];
    return NULL;
}

static void check_echo_reply(const frame* f, uint16_t seq) {
    CHECK(f != NULL);
    if (f == NULL) return;
    const unsigned char* ip = f->bytes + 14;
    CHECK(memcmp(f->bytes, peer_mac, 6) == 0);
    CHECK(ip[9] == 1);
    CHECK(memcmp(ip + 12, stack_ip, 4) == 0);
    CHECK(memcmp(ip + 16, peer_ip, 4) == 0);
    CHECK(checksum(ip, 20) == 0);
    const unsigned char* icmp = ip + 20;
    const size_t icmp_len = (size_t)(ip[2] << 8 | ip[3]) - 20;
    CHECK(icmp[0] == 0); /* echo reply */
    CHECK((icmp[4] << 8 | icmp[5]) == 0x1234);
    CHECK((icmp[6] << 8 | icmp[7]) == seq);
    CHECK(icmp_len == 8 + sizeof ping_payload);
    CHECK(memcmp(icmp + 8, ping_payload, sizeof ping_payload) == 0);
    CHECK(checksum(icmp, icmp_len) == 0);
}

int main(void) {
    static test_device dev; /* zeroed: it is large, and static */
    static const unsigned char mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};
    memcpy(dev.mac, mac, sizeof mac);

    /* Bad tables are refused, not crashed on. */
    CHECK(lwsp_link_create(NULL, &dev) == NULL);
    lwsp_port_ops incomplete = test_ops;
    incomplete.transmit = NULL;
    CHECK(lwsp_link_create(&incomplete, &dev) == NULL);
    CHECK(lwsp_poll() == -1); /* no stack yet */

    lwsp_options opts;
    memset(&opts, 0, sizeof opts);
    opts.manual_clock = 1;
    opts.random_seed = 42;
    if (lwsp_start(&opts) != 0) {
        fprintf(stderr, "lwsp_start failed\n");
        return 1;
    }
    lwsp_link* link = lwsp_link_create(&test_ops, &dev);
    CHECK(link != NULL);
    lwsp_interface_config cfg = {"192.0.2.1", "255.255.255.0", NULL, NULL, 1};
    char error[128] = "";
    const int id = lwsp_attach(link, &cfg, error, sizeof error);
    if (id <= 0) fprintf(stderr, "lwsp_attach: %s\n", error);
    CHECK(id > 0);
    lwsp_link_release(link); /* the stack holds its own reference */
    CHECK(dev.starts == 1 && dev.sink != NULL);
    CHECK(dev.destroys == 0);

    /* ARP: who has 192.0.2.1?  The reply comes back through transmit(). */
    dev.tx_count = 0;
    queue_arp_request(&dev);
    poll_until_tx(&dev, 1, 100);
    const frame* arp = find_tx(&dev, 0x0806);
    CHECK(arp != NULL);
    if (arp != NULL) {
        CHECK(arp->size >= 42);
        CHECK(memcmp(arp->bytes, peer_mac, 6) == 0);
        CHECK(memcmp(arp->bytes + 6, dev.mac, 6) == 0);
        CHECK((arp->bytes[20] << 8 | arp->bytes[21]) == 2); /* reply */
        CHECK(memcmp(arp->bytes + 22, dev.mac, 6) == 0);
        CHECK(memcmp(arp->bytes + 28, stack_ip, 4) == 0);
        CHECK(memcmp(arp->bytes + 32, peer_mac, 6) == 0);
        CHECK(memcmp(arp->bytes + 38, peer_ip, 4) == 0);
    }

    /* ICMP echo: the stack knows the peer's MAC from its request. */
    dev.tx_count = 0;
    queue_echo_request(&dev, 1);
    poll_until_tx(&dev, 1, 100);
    check_echo_reply(find_tx(&dev, 0x0800), 1);

    /* A full transmit queue: transmit() says -1, the reply is dropped, and
     * the stack answers the next request as usual. */
    dev.tx_count = queue_len;
    queue_echo_request(&dev, 2);
    for (int i = 0; i < 20; ++i) lwsp_poll();
    CHECK(dev.rx_count == 0); /* polled: it went in */
    CHECK(dev.tx_count == queue_len);
    dev.tx_count = 0;
    queue_echo_request(&dev, 3);
    poll_until_tx(&dev, 1, 100);
    check_echo_reply(find_tx(&dev, 0x0800), 3);
    lwsp_sink_set_link_up(dev.sink, 0); /* carrier changes are taken (no crash, no output) */
    lwsp_sink_set_link_up(dev.sink, 1);

    CHECK(lwsp_next_deadline() >= -1);
    CHECK(dev.polls > 0);

    /* Detach: stop() once, and the last reference goes (destroy()). */
    lwsp_detach(id);
    CHECK(dev.stops == 1);
    CHECK(dev.destroys == 1);
    CHECK(dev.sink == NULL);
    lwsp_stop();
    CHECK(lwsp_poll() == -1);

    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C port ABI: ARP and ICMP through a C link, carrier down and up, detach: all checks passed\n");
    return 0;
}
