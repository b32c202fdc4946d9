/*
 * startup.c — vector table and reset handler for the Cortex-M4 of the
 * MPS2 AN386 board (mps2_an386.ld puts the table at address 0, where the
 * core fetches its initial stack pointer and reset vector).
 *
 * Reset: copy .data's initial values from code memory to RAM, zero .bss,
 * enable the FPU when the code was built for one, run the static
 * constructors (C++ globals, newlib's), then main().  Faults print the
 * stacked program counter and the fault status registers on the console.
 * Every interrupt the firmware does not handle itself lands in
 * Default_Handler, which says which one it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "board.h"

/* From the linker script. */
extern uint32_t __data_start, __data_end, __data_load;
extern uint32_t __bss_start, __bss_end;
extern uint32_t __stack_top;
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);

/* The C++ ABI's handle of this module (one image, no shared objects),
 * passed by static constructors to __cxa_atexit; crtbegin.o would define
 * it, and the firmware links without the toolchain's start files. */
void* __dso_handle = &__dso_handle;

/* What crti.o/crtn.o would provide: newlib's __libc_init_array and
 * __libc_fini_array (exit) call them; the arrays do all the work here. */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
void HardFault_Handler(void) __attribute__((naked));

/* Handlers a program may define; the others stay Default_Handler. */
#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;
void ETHERNET_IRQHandler(void) WEAK_DEFAULT; /* LAN9118, external interrupt 13 */

/* 16 core exceptions, then the board's 32 external interrupts (ranges in
 * designators: a GNU C extension; the board code is built as gnu11). */
typedef void (*vector)(void);
__attribute__((section(".isr_vector"), used)) const vector vector_table[16 + 32] = {
    (vector)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 16 + BOARD_LAN9118_IRQ - 1] = Default_Handler,
    [16 + BOARD_LAN9118_IRQ] = ETHERNET_IRQHandler,
    [16 + BOARD_LAN9118_IRQ + 1 ... 16 + 31] = Default_Handler,
};

void Reset_Handler(void) {
    const uint32_t* src = &__data_load;
    for (uint32_t* dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
    for (uint32_t* dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
#if defined(__ARM_FP)
    /* CPACR: full access to coprocessors 10 and 11 (the FPU). */
    *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
    for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
    exit(main());
}

/* Which exception or interrupt: IPSR's low bits. */
void Default_Handler(void) {
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    char text[64];
    snprintf(text, sizeof text, "unexpected exception %lu (IRQ %ld)", (unsigned long)(ipsr & 0x1ffu),
             (long)(ipsr & 0x1ffu) - 16);
    board_halt(text);
}

void board_fault(const uint32_t* frame, uint32_t exc_return);

/* Passes the stacked registers (main or process stack, per EXC_RETURN) to
 * board_fault. */
void HardFault_Handler(void) {
    __asm volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov r1, lr\n\t"
        "b board_fault\n\t");
}

void board_fault(const uint32_t* frame, uint32_t exc_return) {
    const volatile uint32_t* scb = (const volatile uint32_t*)0xE000ED00u;
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    char text[200];
    snprintf(text, sizeof text,
             "fault: exception %lu, pc 0x%08lx lr 0x%08lx, CFSR 0x%08lx HFSR 0x%08lx MMFAR 0x%08lx BFAR 0x%08lx "
             "(EXC_RETURN 0x%08lx)",
             (unsigned long)(ipsr & 0x1ffu), (unsigned long)frame[6], (unsigned long)frame[5],
             (unsigned long)scb[0x28 / 4], (unsigned long)scb[0x2c / 4], (unsigned long)scb[0x34 / 4],
             (unsigned long)scb[0x38 / 4], (unsigned long)exc_return);
    board_halt(text);
}
