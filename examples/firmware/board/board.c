/*
 * board.c — console (CMSDK APB UART0), millisecond clock (SysTick) and the
 * idle hook of the MPS2 AN386 board; see board.h.
 */
#include "board.h"

#include <string.h>

/* CMSDK APB UART registers (byte offsets). */
#define UART_DATA 0x00u
#define UART_STATE 0x04u /* bit 0: TX buffer full */
#define UART_CTRL 0x08u  /* bit 0: TX enable, bit 1: RX enable */
#define UART_BAUDDIV 0x10u
#define UART_STATE_TX_FULL (1u << 0)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)

/* SysTick and the NVIC (Armv7-M system control space). */
#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* the processor clock */
#define NVIC_ISER(n) (*(volatile uint32_t*)(0xE000E100u + 4u * (n)))

static inline volatile uint32_t* uart_reg(uint32_t offset) { return (volatile uint32_t*)(BOARD_UART0_BASE + offset); }

static volatile unsigned long long millis;
static volatile int wake_pending;

void SysTick_Handler(void) { millis = millis + 1; }

static uint32_t irq_save(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static void irq_restore(uint32_t primask) { __asm volatile("msr primask, %0" ::"r"(primask) : "memory"); }

void board_init(void) {
    *uart_reg(UART_BAUDDIV) = BOARD_CPU_HZ / 115200u;
    *uart_reg(UART_CTRL) = UART_CTRL_TX_EN | UART_CTRL_RX_EN;

    SYST_RVR = BOARD_CPU_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    __asm volatile("cpsie i" ::: "memory");
}

unsigned long long board_millis(void) {
    const uint32_t primask = irq_save();
    const unsigned long long now = millis;
    irq_restore(primask);
    return now;
}

void board_idle(unsigned long long until_ms) {
    /* With interrupts masked, WFI still wakes for a pending one; the
     * handler runs after cpsie.  An interrupt that came between the
     * caller's last look at its devices and here has set wake_pending. */
    __asm volatile("cpsid i" ::: "memory");
    if (!wake_pending && millis < until_ms) __asm volatile("wfi" ::: "memory");
    wake_pending = 0;
    __asm volatile("cpsie i" ::: "memory");
}

void board_wake(void) { wake_pending = 1; }

void board_enable_irq(int irq) { NVIC_ISER((unsigned)irq / 32u) = 1u << ((unsigned)irq % 32u); }

void board_console_write(const char* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        while (*uart_reg(UART_STATE) & UART_STATE_TX_FULL) {
        }
        *uart_reg(UART_DATA) = (uint8_t)data[i];
    }
}

void board_halt(const char* message) {
    __asm volatile("cpsid i" ::: "memory");
    board_console_write("\nhalt: ", 7);
    board_console_write(message, strlen(message));
    board_console_write("\n", 1);
    for (;;) __asm volatile("wfi");
}
