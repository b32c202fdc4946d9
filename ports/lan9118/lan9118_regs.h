/*
 * lan9118_regs.h — the LAN9118 family's registers as the driver uses them
 * (SMSC LAN9118 / LAN9220 datasheets; what QEMU's model implements), and
 * the driver's internal helpers shared by lan9118.c and lan9118_link.c.
 * Private to the port.
 *
 * The controller sits on a 32-bit bus: every register is one 32-bit word at
 * a byte offset from the base.  The FIFO "ports" below 0x50 alias over a
 * range of addresses; the driver uses the first address of each.
 */
#ifndef LWSP_LAN9118_REGS_H
#define LWSP_LAN9118_REGS_H

#include <stdint.h>

#include "lwsp/lan9118.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ports/lan9118 packs FIFO words for a little-endian CPU"
#endif

/* ---- System control and status registers (byte offsets) ---- */
#define LAN_RX_DATA_FIFO 0x00u   /* read: the next 32 bits of the current frame */
#define LAN_TX_DATA_FIFO 0x20u   /* write: TX command A, command B, then data */
#define LAN_RX_STATUS_FIFO 0x40u /* read: pops one RX status word */
#define LAN_TX_STATUS_FIFO 0x48u /* read: pops one TX status word */
#define LAN_ID_REV 0x50u
#define LAN_IRQ_CFG 0x54u
#define LAN_INT_STS 0x58u /* write 1 to clear */
#define LAN_INT_EN 0x5cu
#define LAN_BYTE_TEST 0x64u
#define LAN_FIFO_INT 0x68u
#define LAN_RX_CFG 0x6cu
#define LAN_TX_CFG 0x70u
#define LAN_HW_CFG 0x74u
#define LAN_RX_FIFO_INF 0x7cu
#define LAN_TX_FIFO_INF 0x80u
#define LAN_PMT_CTRL 0x84u
#define LAN_MAC_CSR_CMD 0xa4u
#define LAN_MAC_CSR_DATA 0xa8u

#define LAN_BYTE_TEST_VALUE 0x87654321u

/* IRQ_CFG */
#define LAN_IRQ_CFG_IRQ_EN (1u << 8)
#define LAN_IRQ_CFG_IRQ_POL (1u << 4)  /* 1: active high */
#define LAN_IRQ_CFG_IRQ_TYPE (1u << 0) /* 1: push-pull */

/* INT_STS / INT_EN */
#define LAN_INT_PHY (1u << 18)
#define LAN_INT_RSFL (1u << 3) /* RX status FIFO above its level (FIFO_INT) */

/* TX_CFG */
#define LAN_TX_CFG_TX_ON (1u << 1)
#define LAN_TX_CFG_TXSAO (1u << 2) /* a full TX status FIFO does not stop the transmitter */

/* HW_CFG */
#define LAN_HW_CFG_SRST (1u << 0)

/* PMT_CTRL */
#define LAN_PMT_CTRL_READY (1u << 0)

/* RX_FIFO_INF / TX_FIFO_INF */
#define LAN_FIFO_INF_STATUS_USED(v) (((v) >> 16) & 0xffu) /* RXSUSED / TXSUSED: status words */
#define LAN_TX_FIFO_INF_TDFREE(v) ((v)&0xffffu)           /* free bytes of the TX data FIFO */

/* RX status word */
#define LAN_RX_STS_FILTER_FAIL (1u << 30)
#define LAN_RX_STS_LENGTH(v) (((v) >> 16) & 0x3fffu) /* bytes, FCS included */
#define LAN_RX_STS_ERROR (1u << 15)                  /* error summary */

/* TX status word */
#define LAN_TX_STS_ERROR (1u << 15)

/* TX command A: one buffer holding a whole frame (first and last
 * segment), no start offset, 4-byte end alignment. */
#define LAN_TX_CMD_A_FIRST (1u << 13)
#define LAN_TX_CMD_A_LAST (1u << 12)
#define LAN_TX_CMD_A_SIZE(n) ((uint32_t)(n)&0x7ffu)
/* TX command B: a tag echoed in the TX status, and the frame length. */
#define LAN_TX_CMD_B_TAG(t) ((uint32_t)(t) << 16)
#define LAN_TX_CMD_B_LENGTH(n) ((uint32_t)(n)&0x7ffu)

/* MAC_CSR_CMD: indirect access to the MAC's registers. */
#define LAN_MAC_CSR_BUSY (1u << 31)
#define LAN_MAC_CSR_READ (1u << 30)

/* ---- MAC registers (indices through MAC_CSR_CMD) ---- */
#define LAN_MAC_CR 1u
#define LAN_MAC_ADDRH 2u
#define LAN_MAC_ADDRL 3u
#define LAN_MAC_MII_ACC 6u
#define LAN_MAC_MII_DATA 7u

/* MAC_CR */
#define LAN_MAC_CR_FDPX (1u << 20)  /* full duplex */
#define LAN_MAC_CR_MCPAS (1u << 19) /* pass all multicast */
#define LAN_MAC_CR_PRMS (1u << 18)  /* promiscuous (set by reset) */
#define LAN_MAC_CR_TXEN (1u << 3)
#define LAN_MAC_CR_RXEN (1u << 2)

/* MII_ACC: the internal PHY is at address 1. */
#define LAN_MII_ACC_PHY(a) ((uint32_t)(a) << 11)
#define LAN_MII_ACC_REG(r) ((uint32_t)(r) << 6)
#define LAN_MII_ACC_WRITE (1u << 1)
#define LAN_MII_ACC_BUSY (1u << 0)
#define LAN_PHY_ADDRESS 1u

/* ---- PHY registers (IEEE 802.3 clause 22, plus the vendor's) ---- */
#define LAN_PHY_BCR 0u    /* basic control */
#define LAN_PHY_BSR 1u    /* basic status */
#define LAN_PHY_ANAR 4u   /* auto-negotiation advertisement */
#define LAN_PHY_ANLPAR 5u /* link partner ability */
#define LAN_PHY_ISR 29u   /* interrupt source (read clears) */
#define LAN_PHY_IMR 30u   /* interrupt mask */

#define LAN_PHY_BCR_RESET (1u << 15)
#define LAN_PHY_BCR_ANEG_ENABLE (1u << 12)
#define LAN_PHY_BCR_ANEG_RESTART (1u << 9)
#define LAN_PHY_BSR_LINK (1u << 2) /* latches low until read */
/* Advertise 10BASE-T and 100BASE-TX, half and full duplex; IEEE 802.3. */
#define LAN_PHY_ANAR_ALL 0x01e1u
#define LAN_PHY_AN_FULL_DUPLEX ((1u << 8) | (1u << 6)) /* 100 FD, 10 FD */
/* PHY interrupt sources: auto-negotiation complete, link down. */
#define LAN_PHY_INT_ANEG_DONE (1u << 6)
#define LAN_PHY_INT_LINK_DOWN (1u << 4)

/* ---- Helpers (lan9118.c) ---- */
static inline uint32_t lan_read(const lwsp_lan9118* dev, uint32_t offset) {
    return *(const volatile uint32_t*)(dev->base + offset);
}
static inline void lan_write(const lwsp_lan9118* dev, uint32_t offset, uint32_t value) {
    *(volatile uint32_t*)(dev->base + offset) = value;
}

/* Carrier changes since the last call: reads the PHY when it raised an
 * interrupt (or when `force`), sets the MAC's duplex to the negotiated one
 * on link up, and returns the carrier state (1 up, 0 down). */
int lan9118_link_state(lwsp_lan9118* dev, int force, int* changed);
/* Reads the next frame's status and words into dev->rx_buf.  Returns its
 * length without FCS, 0 if none is waiting, -1 if one was discarded. */
long lan9118_rx_next(lwsp_lan9118* dev);
/* Writes one frame made of `count` parts into the TX FIFO.  0 or -1. */
int lan9118_tx_parts(lwsp_lan9118* dev, const lwsp_frame_part* parts, size_t count);
/* Collects transmit statuses (counts errors); rearms the interrupt. */
void lan9118_service(lwsp_lan9118* dev);

#endif /* LWSP_LAN9118_REGS_H */
