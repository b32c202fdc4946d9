/*
 * lan9118.c — the LAN9118 family's hardware: probe and reset, the MAC's
 * indirect registers, the PHY behind them, and frames in and out of the
 * FIFOs.  No stack calls here (lan9118_link.c is the port), so a board
 * bring-up test can use the raw functions of lwsp/lan9118.h alone.
 *
 * Bounded waits count register reads instead of time: the driver has no
 * clock.  One read takes at least a bus cycle (tens of nanoseconds on
 * hardware), so the bounds below are comfortably longer than the
 * datasheet's worst cases (reset: milliseconds; a MAC or MII access:
 * microseconds; a full TX FIFO drains in under 4 ms at 10 Mbit/s).
 */
#include <string.h>

#include "lan9118_regs.h"

#define LAN_RESET_SPINS 1000000L
#define LAN_CSR_SPINS 100000L
#define LAN_TX_ROOM_SPINS 200000L

/* Some registers need a short pause after a write before the next access
 * sees its effect; a read of BYTE_TEST is the datasheet's way to wait. */
static void settle(const lwsp_lan9118* dev) { (void)lan_read(dev, LAN_BYTE_TEST); }

static int wait_clear(const lwsp_lan9118* dev, uint32_t offset, uint32_t bits, long spins) {
    while ((lan_read(dev, offset) & bits) != 0) {
        if (--spins <= 0) return -1;
    }
    return 0;
}

/* ---- MAC registers (MAC_CSR_CMD / MAC_CSR_DATA) ---- */

static uint32_t mac_read(const lwsp_lan9118* dev, uint32_t index) {
    (void)wait_clear(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY, LAN_CSR_SPINS);
    lan_write(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY | LAN_MAC_CSR_READ | index);
    settle(dev);
    (void)wait_clear(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY, LAN_CSR_SPINS);
    return lan_read(dev, LAN_MAC_CSR_DATA);
}

static void mac_write(const lwsp_lan9118* dev, uint32_t index, uint32_t value) {
    (void)wait_clear(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY, LAN_CSR_SPINS);
    lan_write(dev, LAN_MAC_CSR_DATA, value);
    lan_write(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY | index);
    settle(dev);
    (void)wait_clear(dev, LAN_MAC_CSR_CMD, LAN_MAC_CSR_BUSY, LAN_CSR_SPINS);
}

/* ---- The internal PHY (MII_ACC / MII_DATA, through the MAC) ---- */

static int mii_wait(const lwsp_lan9118* dev) {
    for (long spins = LAN_CSR_SPINS; spins > 0; --spins) {
        if ((mac_read(dev, LAN_MAC_MII_ACC) & LAN_MII_ACC_BUSY) == 0) return 0;
    }
    return -1;
}

static uint32_t phy_read(const lwsp_lan9118* dev, uint32_t reg) {
    (void)mii_wait(dev);
    mac_write(dev, LAN_MAC_MII_ACC, LAN_MII_ACC_PHY(LAN_PHY_ADDRESS) | LAN_MII_ACC_REG(reg) | LAN_MII_ACC_BUSY);
    (void)mii_wait(dev);
    return mac_read(dev, LAN_MAC_MII_DATA) & 0xffffu;
}

static void phy_write(const lwsp_lan9118* dev, uint32_t reg, uint32_t value) {
    (void)mii_wait(dev);
    mac_write(dev, LAN_MAC_MII_DATA, value & 0xffffu);
    mac_write(dev, LAN_MAC_MII_ACC,
              LAN_MII_ACC_PHY(LAN_PHY_ADDRESS) | LAN_MII_ACC_REG(reg) | LAN_MII_ACC_WRITE | LAN_MII_ACC_BUSY);
    (void)mii_wait(dev);
}

static int phy_reset(const lwsp_lan9118* dev) {
    phy_write(dev, LAN_PHY_BCR, LAN_PHY_BCR_RESET);
    for (long spins = LAN_CSR_SPINS; spins > 0; --spins) {
        if ((phy_read(dev, LAN_PHY_BCR) & LAN_PHY_BCR_RESET) == 0) return 0;
    }
    return -1;
}

/* ---- Probe, reset, configuration ---- */

int lwsp_lan9118_init(lwsp_lan9118* dev, uintptr_t base, const unsigned char mac[6]) {
    memset(dev, 0, sizeof *dev);
    dev->base = base;
    dev->link_reported = -1;
    memcpy(dev->mac, mac, 6);

    /* BYTE_TEST reads a fixed pattern whatever the state of the chip: no
     * pattern, no controller (or a 16-bit bus with swapped halves, which
     * this driver does not support). */
    if (lan_read(dev, LAN_BYTE_TEST) != LAN_BYTE_TEST_VALUE) return -1;
    if (wait_clear(dev, LAN_HW_CFG, LAN_HW_CFG_SRST, LAN_RESET_SPINS) != 0) return -1;

    /* Soft reset: every register to its default, FIFOs empty, MAC off. */
    lan_write(dev, LAN_HW_CFG, LAN_HW_CFG_SRST);
    settle(dev);
    if (wait_clear(dev, LAN_HW_CFG, LAN_HW_CFG_SRST, LAN_RESET_SPINS) != 0) return -1;
    for (long spins = LAN_RESET_SPINS; (lan_read(dev, LAN_PMT_CTRL) & LAN_PMT_CTRL_READY) == 0;) {
        if (--spins <= 0) return -1;
    }
    dev->id_rev = lan_read(dev, LAN_ID_REV);

    /* Interrupts off and acknowledged; the IRQ pin stays inactive until
     * lwsp_lan9118_enable_irq. */
    lan_write(dev, LAN_INT_EN, 0);
    lan_write(dev, LAN_INT_STS, 0xffffffffu);
    /* RX_CFG stays 0: frames start at the first word of the FIFO and end
     * on a word boundary.  The RX status FIFO level stays 0 (FIFO_INT), so
     * RSFL rises with the first frame. */
    lan_write(dev, LAN_TX_CFG, LAN_TX_CFG_TX_ON | LAN_TX_CFG_TXSAO);

    /* PHY: reset, advertise every 10/100 mode, negotiate; interrupts for
     * "negotiation done" and "link down" show up as PHY_INT in INT_STS,
     * which poll() checks (one register read) before reading the PHY. */
    if (phy_reset(dev) != 0) return -1;
    phy_write(dev, LAN_PHY_ANAR, LAN_PHY_ANAR_ALL);
    phy_write(dev, LAN_PHY_BCR, LAN_PHY_BCR_ANEG_ENABLE | LAN_PHY_BCR_ANEG_RESTART);
    phy_write(dev, LAN_PHY_IMR, LAN_PHY_INT_ANEG_DONE | LAN_PHY_INT_LINK_DOWN);
    (void)phy_read(dev, LAN_PHY_ISR);

    /* The station address: bytes 0-3 in ADDRL (first byte lowest), 4-5 in
     * ADDRH.  Receive filter: perfect match on it, broadcast, and all
     * multicast (see lwsp/lan9118.h); reset left promiscuous mode on. */
    mac_write(dev, LAN_MAC_ADDRL,
              (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24);
    mac_write(dev, LAN_MAC_ADDRH, (uint32_t)mac[4] | (uint32_t)mac[5] << 8);
    mac_write(dev, LAN_MAC_CR, LAN_MAC_CR_MCPAS | LAN_MAC_CR_FDPX);
    return 0;
}

uint32_t lwsp_lan9118_id_rev(const lwsp_lan9118* dev) { return dev->id_rev; }

lwsp_lan9118_stats lwsp_lan9118_get_stats(const lwsp_lan9118* dev) { return dev->stats; }

void lwsp_lan9118_enable(lwsp_lan9118* dev, int on) {
    uint32_t cr = mac_read(dev, LAN_MAC_CR);
    if (on) {
        cr |= LAN_MAC_CR_TXEN | LAN_MAC_CR_RXEN;
    } else {
        cr &= ~(LAN_MAC_CR_TXEN | LAN_MAC_CR_RXEN);
    }
    mac_write(dev, LAN_MAC_CR, cr);
}

/* ---- Link state ---- */

int lwsp_lan9118_phy_link(lwsp_lan9118* dev) {
    /* The link bit latches a loss until read: the second read is now. */
    (void)phy_read(dev, LAN_PHY_BSR);
    return (phy_read(dev, LAN_PHY_BSR) & LAN_PHY_BSR_LINK) != 0;
}

int lan9118_link_state(lwsp_lan9118* dev, int force, int* changed) {
    *changed = 0;
    if (!force && (lan_read(dev, LAN_INT_STS) & LAN_INT_PHY) == 0) return dev->link_reported;
    (void)phy_read(dev, LAN_PHY_ISR); /* acknowledges PHY_INT */
    const int up = lwsp_lan9118_phy_link(dev);
    if (up) {
        /* Full duplex if both ends offered a full-duplex mode (the
         * highest common mode is what the PHY negotiated). */
        const uint32_t common = phy_read(dev, LAN_PHY_ANAR) & phy_read(dev, LAN_PHY_ANLPAR);
        const uint32_t cr = mac_read(dev, LAN_MAC_CR);
        const uint32_t want = (common & LAN_PHY_AN_FULL_DUPLEX) ? (cr | LAN_MAC_CR_FDPX) : (cr & ~LAN_MAC_CR_FDPX);
        if (want != cr) {
            /* The MAC takes a new duplex mode while stopped. */
            mac_write(dev, LAN_MAC_CR, cr & ~(LAN_MAC_CR_TXEN | LAN_MAC_CR_RXEN));
            mac_write(dev, LAN_MAC_CR, want);
        }
    }
    if (up != dev->link_reported) {
        *changed = 1;
        dev->stats.link_changes++;
    }
    return up;
}

/* ---- Receive ---- */

long lan9118_rx_next(lwsp_lan9118* dev) {
    if (LAN_FIFO_INF_STATUS_USED(lan_read(dev, LAN_RX_FIFO_INF)) == 0) return 0;
    const uint32_t status = lan_read(dev, LAN_RX_STATUS_FIFO);
    const uint32_t length = LAN_RX_STS_LENGTH(status); /* with the FCS */
    const uint32_t words = (length + 3u) / 4u;
    /* A frame is read out whole even when it is dropped: the next status
     * word belongs to the data behind it.  (The FIFO's fast-forward would
     * save the reads, but not every model of the chip implements it.) */
    if ((status & (LAN_RX_STS_ERROR | LAN_RX_STS_FILTER_FAIL)) != 0 || length < 14u + 4u ||
        length > sizeof dev->rx_buf) {
        for (uint32_t i = 0; i < words; ++i) (void)lan_read(dev, LAN_RX_DATA_FIFO);
        if (status & LAN_RX_STS_ERROR) {
            dev->stats.rx_errors++;
        } else {
            dev->stats.rx_oversize++;
        }
        return -1;
    }
    for (uint32_t i = 0; i < words; ++i) dev->rx_buf[i] = lan_read(dev, LAN_RX_DATA_FIFO);
    dev->stats.rx_frames++;
    dev->stats.rx_bytes += length - 4u;
    return (long)(length - 4u);
}

long lwsp_lan9118_receive(lwsp_lan9118* dev, void* buf, size_t size) {
    long n = lan9118_rx_next(dev);
    if (n == 0 && dev->irq_enabled) {
        /* Empty: acknowledge, look once more (a frame may have come just
         * before the acknowledgement), and unmask the interrupt. */
        lan_write(dev, LAN_INT_STS, LAN_INT_RSFL);
        n = lan9118_rx_next(dev);
        if (n == 0) lan9118_service(dev);
    }
    if (n <= 0) return n;
    if ((size_t)n > size) {
        dev->stats.rx_frames--;
        dev->stats.rx_bytes -= (unsigned long)n;
        dev->stats.rx_oversize++;
        return -1;
    }
    memcpy(buf, dev->rx_buf, (size_t)n);
    return n;
}

/* ---- Transmit ---- */

/* Bytes on their way into 32-bit FIFO words: the first byte of the frame
 * goes to bits 7:0 of the first word. */
typedef struct word_packer {
    uint32_t word;
    unsigned count; /* bytes in `word` (0-3) */
} word_packer;

static void pack(const lwsp_lan9118* dev, word_packer* pk, const unsigned char* p, size_t n) {
    /* Complete a word left over from the previous part. */
    while (n > 0 && pk->count != 0) {
        pk->word |= (uint32_t)*p++ << (8u * pk->count);
        --n;
        if (++pk->count == 4) {
            lan_write(dev, LAN_TX_DATA_FIFO, pk->word);
            pk->word = 0;
            pk->count = 0;
        }
    }
    for (; n >= 4; p += 4, n -= 4) {
        uint32_t w;
        memcpy(&w, p, 4); /* little endian: byte 0 in bits 7:0 */
        lan_write(dev, LAN_TX_DATA_FIFO, w);
    }
    for (; n > 0; --n) pk->word |= (uint32_t)*p++ << (8u * pk->count++);
}

int lan9118_tx_parts(lwsp_lan9118* dev, const lwsp_frame_part* parts, size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) total += parts[i].size;
    /* 1514 bytes, 1518 with a VLAN tag; the MAC pads short frames. */
    if (total < 14 || total > 1518) {
        dev->stats.tx_dropped++;
        return -1;
    }
    /* Room for the two command words and the data, rounded up to words.
     * The FIFO drains at wire speed, so a full one empties soon. */
    const uint32_t need = 8u + (uint32_t)((total + 3u) & ~(size_t)3u);
    for (long spins = LAN_TX_ROOM_SPINS; LAN_TX_FIFO_INF_TDFREE(lan_read(dev, LAN_TX_FIFO_INF)) < need;) {
        if (--spins <= 0) {
            dev->stats.tx_dropped++;
            return -1;
        }
    }
    lan_write(dev, LAN_TX_DATA_FIFO, LAN_TX_CMD_A_FIRST | LAN_TX_CMD_A_LAST | LAN_TX_CMD_A_SIZE(total));
    lan_write(dev, LAN_TX_DATA_FIFO, LAN_TX_CMD_B_TAG(dev->tx_tag) | LAN_TX_CMD_B_LENGTH(total));
    dev->tx_tag++;
    word_packer pk = {0, 0};
    for (size_t i = 0; i < count; ++i) pack(dev, &pk, (const unsigned char*)parts[i].data, parts[i].size);
    if (pk.count != 0) lan_write(dev, LAN_TX_DATA_FIFO, pk.word);
    dev->stats.tx_frames++;
    dev->stats.tx_bytes += total;
    return 0;
}

int lwsp_lan9118_send(lwsp_lan9118* dev, const void* frame, size_t size) {
    const lwsp_frame_part part = {frame, size};
    const int rc = lan9118_tx_parts(dev, &part, 1);
    lan9118_service(dev);
    return rc;
}

/* ---- Housekeeping and interrupts ---- */

void lan9118_service(lwsp_lan9118* dev) {
    /* Transmit statuses pile up in their FIFO (TXSAO lets it overflow
     * without stopping the transmitter); reading them counts errors. */
    for (uint32_t n = LAN_FIFO_INF_STATUS_USED(lan_read(dev, LAN_TX_FIFO_INF)); n > 0; --n) {
        if (lan_read(dev, LAN_TX_STATUS_FIFO) & LAN_TX_STS_ERROR) dev->stats.tx_errors++;
    }
    if (dev->irq_masked) {
        dev->irq_masked = 0;
        lan_write(dev, LAN_INT_EN, LAN_INT_RSFL | LAN_INT_PHY);
    }
}

void lwsp_lan9118_enable_irq(lwsp_lan9118* dev) {
    lan_write(dev, LAN_INT_EN, 0);
    lan_write(dev, LAN_INT_STS, 0xffffffffu);
    lan_write(dev, LAN_IRQ_CFG, LAN_IRQ_CFG_IRQ_EN | LAN_IRQ_CFG_IRQ_POL | LAN_IRQ_CFG_IRQ_TYPE);
    dev->irq_enabled = 1;
    dev->irq_masked = 0;
    lan_write(dev, LAN_INT_EN, LAN_INT_RSFL | LAN_INT_PHY);
}

void lwsp_lan9118_isr(lwsp_lan9118* dev) {
    /* Mask, do not acknowledge: the level stays meaningful for poll(),
     * which acknowledges before it reads the FIFOs and unmasks after. */
    lan_write(dev, LAN_INT_EN, 0);
    dev->irq_masked = 1;
    settle(dev);
}
