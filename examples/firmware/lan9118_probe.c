/*
 * lan9118_probe.c — board bring-up without the stack: proves the console,
 * the clock, the LAN9118 driver's raw frame I/O and its interrupt on the
 * MPS2 AN386 board (QEMU mps2-an386), before lwIP is involved.
 *
 * It prints the controller's ID_REV and the PHY's link state, then answers,
 * by hand, ARP requests for 192.0.2.1 and ICMP echo requests (ping) sent to
 * it, and prints one line for each.  Every 5 s it prints the driver's
 * counters.  Built with the firmware as lwsp_lan9118_probe.elf; run it as
 * the firmware (README.md) and ping 192.0.2.1 from the TAP device's side.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "lwsp/lan9118.h"

static lwsp_lan9118 eth;
static const unsigned char k_mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};
static const unsigned char k_ip[4] = {192, 0, 2, 1};

void ETHERNET_IRQHandler(void) {
    lwsp_lan9118_isr(&eth);
    board_wake();
}

static uint16_t get16(const unsigned char* p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(unsigned char* p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* The Internet checksum (RFC 1071) of n bytes. */
static uint16_t checksum(const unsigned char* p, size_t n) {
    uint32_t sum = 0;
    for (; n > 1; p += 2, n -= 2) sum += get16(p);
    if (n) sum += (uint32_t)p[0] << 8;
    while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

static void answer_arp(unsigned char* f, long n) {
    unsigned char* arp = f + 14;
    if (n < 42 || get16(arp) != 1 || get16(arp + 2) != 0x0800 || get16(arp + 6) != 1) return;
    if (memcmp(arp + 24, k_ip, 4) != 0) return;
    printf("probe: ARP who-has 192.0.2.1 tell %u.%u.%u.%u: replying\n", arp[14], arp[15], arp[16], arp[17]);
    memcpy(f, f + 6, 6);
    memcpy(f + 6, k_mac, 6);
    put16(arp + 6, 2);
    memcpy(arp + 18, arp + 8, 10); /* target = the asker */
    memcpy(arp + 8, k_mac, 6);
    memcpy(arp + 14, k_ip, 4);
    if (lwsp_lan9118_send(&eth, f, 42) != 0) printf("probe: send failed\n");
}

static void answer_icmp(unsigned char* f, long n) {
    unsigned char* ip = f + 14;
    if (n < 14 + 20 + 8 || (ip[0] >> 4) != 4 || ip[9] != 1 || memcmp(ip + 16, k_ip, 4) != 0) return;
    const size_t ihl = (size_t)(ip[0] & 15u) * 4u;
    const size_t total = get16(ip + 2);
    if (ihl < 20 || total < ihl + 8 || 14 + total > (size_t)n) return;
    unsigned char* icmp = ip + ihl;
    if (icmp[0] != 8) return;
    printf("probe: ICMP echo request from %u.%u.%u.%u, id %u seq %u, %u bytes: replying\n", ip[12], ip[13], ip[14],
           ip[15], get16(icmp + 4), get16(icmp + 6), (unsigned)total);
    unsigned char tmp[6];
    memcpy(tmp, f, 6);
    memcpy(f, f + 6, 6);
    memcpy(f + 6, tmp, 6);
    unsigned char addr[4];
    memcpy(addr, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, addr, 4);
    icmp[0] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 2, checksum(icmp, total - ihl));
    if (lwsp_lan9118_send(&eth, f, 14 + total) != 0) printf("probe: send failed\n");
}

int main(void) {
    board_init();
    printf("probe: MPS2 AN386, LAN9118 at 0x%08lx\n", (unsigned long)BOARD_LAN9118_BASE);
    if (lwsp_lan9118_init(&eth, BOARD_LAN9118_BASE, k_mac) != 0) board_halt("probe: no LAN9118");
    printf("probe: ID_REV 0x%08lx, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s\n",
           (unsigned long)lwsp_lan9118_id_rev(&eth), k_mac[0], k_mac[1], k_mac[2], k_mac[3], k_mac[4], k_mac[5],
           lwsp_lan9118_phy_link(&eth) ? "up" : "down");
    lwsp_lan9118_enable(&eth, 1);
    lwsp_lan9118_enable_irq(&eth);
    board_enable_irq(BOARD_LAN9118_IRQ);
    printf("probe: ready\n");

    static uint32_t frame[LWSP_LAN9118_MAX_FRAME / 4];
    unsigned char* f = (unsigned char*)frame;
    unsigned long long next_report = board_millis() + 5000;
    for (;;) {
        const long n = lwsp_lan9118_receive(&eth, f, sizeof frame);
        if (n > 0) {
            const uint16_t type = get16(f + 12);
            if (type == 0x0806) {
                answer_arp(f, n);
            } else if (type == 0x0800) {
                answer_icmp(f, n);
            }
            continue;
        }
        const unsigned long long now = board_millis();
        if (now >= next_report) {
            const lwsp_lan9118_stats st = lwsp_lan9118_get_stats(&eth);
            printf(
                "probe: %lu ms: rx %lu frames %lu bytes (%lu errors, %lu oversize), tx %lu frames %lu bytes (%lu "
                "dropped, %lu errors)\n",
                (unsigned long)now, st.rx_frames, st.rx_bytes, st.rx_errors, st.rx_oversize, st.tx_frames, st.tx_bytes,
                st.tx_dropped, st.tx_errors);
            next_report = now + 5000;
        }
        if (n == 0) board_idle(next_report);
    }
}
