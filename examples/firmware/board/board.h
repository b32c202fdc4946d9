/*
 * board.h — the firmware's board support for Arm's MPS2 with the AN386
 * image (Cortex-M4, 25 MHz), as QEMU's mps2-an386 machine models it (the
 * AN385 Cortex-M3 image has the same peripherals at the same places):
 *
 *   UART0     CMSDK APB UART at 0x40004000 — the console (QEMU: -serial)
 *   LAN9118   Ethernet controller at 0x40200000, interrupt 13 (QEMU: -nic)
 *   SysTick   the core's timer, 1 kHz: the millisecond clock
 *
 * startup.c holds the vector table and reset handler, syscalls.c the newlib
 * system calls (console output, heap), mps2_an386.ld the memory map.
 */
#ifndef LWSP_FIRMWARE_BOARD_H
#define LWSP_FIRMWARE_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOARD_CPU_HZ 25000000u
#define BOARD_UART0_BASE 0x40004000u
#define BOARD_LAN9118_BASE 0x40200000u
#define BOARD_LAN9118_IRQ 13

/* Console and millisecond clock; interrupts on.  Called first in main. */
void board_init(void);

/* Milliseconds since board_init (SysTick, 1 kHz). */
unsigned long long board_millis(void);

/* Sleeps (WFI) until the next interrupt — at the latest the next SysTick,
 * 1 ms — unless `until_ms` has passed or board_wake was called since the
 * last board_idle.  Fits lwsp_set_idle. */
void board_idle(unsigned long long until_ms);

/* From an interrupt handler: makes the current or next board_idle return
 * at once (the main loop has work). */
void board_wake(void);

/* Enables external interrupt `irq` in the NVIC. */
void board_enable_irq(int irq);

/* Writes to the console (polled; '\n' as is). */
void board_console_write(const char* data, size_t size);

/* Prints `message` and stops the board (interrupts off, WFI forever). */
void board_halt(const char* message) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* LWSP_FIRMWARE_BOARD_H */
