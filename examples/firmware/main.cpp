// lwsp_firmware — lwsp on a bare-metal Cortex-M4 board (Arm MPS2 AN386, as
// QEMU's mps2-an386 emulates it), networking through the Winsock SPI only:
// every socket call goes through the WSPPROC_TABLE that WSPStartup returns.
//
// The board (board/): console on UART0, a 1 kHz SysTick clock, WFI when idle.
// The network: the LAN9118 port (ports/lan9118), MAC 02:4c:57:53:50:01,
// 192.0.2.1/24 and 2001:db8::1; the peer is the Linux kernel at 192.0.2.2 /
// 2001:db8::2 on a TAP device (README.md).
//
// This file is the board glue: bring-up, the clock, randomness, the
// LAN9118's interrupt and counters.  The services — TCP and UDP echo on
// port 7 and the control port 9000 whose commands are blocking WSP client
// calls — are the portable WSP service (examples/service/wsp_service.hpp),
// which lwsp_tunnel_service runs on Linux and Windows too.
//
// The console shows boot lines, then "lwsp-firmware: ready" once the
// stack is up and every server listens.
#include <cstdint>
#include <cstddef>
#include <cstdio>

#include "board.h"
#include "lwsp/lan9118.h"
#include "lwsp/lwsp.h"
#include "wsp_service.hpp"

namespace {

constexpr unsigned char k_mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};

lwsp_lan9118 eth;
WSPPROC_TABLE wsp;

// ---- Board glue -----------------------------------------------------------

// Randomness for the stack's secrets (initial sequence numbers).  The MPS2
// has no random number generator, so this mixes what varies from boot to
// boot: the LAN9118's free-running 25 MHz counter (FREE_RUN, offset 0x9c),
// SysTick's current count and the clock.  Not cryptographic: a real board
// reads its TRNG here.
void fill_random(void* buf, std::size_t len) {
    auto* out = static_cast<unsigned char*>(buf);
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < len; ++i) {
        if (i % 8 == 0) {
            const std::uint32_t free_run = *reinterpret_cast<volatile std::uint32_t*>(BOARD_LAN9118_BASE + 0x9cu);
            const std::uint32_t systick = *reinterpret_cast<volatile std::uint32_t*>(0xE000E018u);
            x += (static_cast<std::uint64_t>(free_run) << 32 | systick) + board_millis() + 0x9e3779b97f4a7c15ull;
            // splitmix64's finaliser
            x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
            x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
            x ^= x >> 31;
        }
        out[i] = static_cast<unsigned char>(x >> (8 * (i % 8)));
    }
}

// The `stats` command: the LAN9118 driver's counters.
void lan9118_stats(char* out, std::size_t size) {
    const lwsp_lan9118_stats st = lwsp_lan9118_get_stats(&eth);
    std::snprintf(out, size,
                  "rx_frames %lu rx_bytes %lu rx_errors %lu rx_oversize %lu tx_frames %lu tx_bytes %lu "
                  "tx_dropped %lu tx_errors %lu link_changes %lu",
                  st.rx_frames, st.rx_bytes, st.rx_errors, st.rx_oversize, st.tx_frames, st.tx_bytes, st.tx_dropped,
                  st.tx_errors, st.link_changes);
}

void console_print(const char* line) { std::fputs(line, stdout); }

// ---- Bring-up ------------------------------------------------------------------

[[noreturn]] void fail(const char* what) { board_halt(what); }

}  // namespace

// LAN9118 interrupt (external 13): mask it until the stack polls the
// controller, and wake the main loop.
extern "C" void ETHERNET_IRQHandler() {
    lwsp_lan9118_isr(&eth);
    board_wake();
}

int main() {
    board_init();
#if defined(__ARM_ARCH_7EM__)
    const char* board = "MPS2 AN386 (Cortex-M4";
#else
    const char* board = "MPS2 AN385 (Cortex-M3";
#endif
    std::printf("lwsp-firmware: %s, %lu MHz), lwsp on lwIP, WSP calls only\n", board,
                static_cast<unsigned long>(BOARD_CPU_HZ / 1000000u));

    // The stack: the board's clock, its idle (WFI), its noise.
    lwsp_set_clock(board_millis);
    lwsp_set_idle(board_idle);
    lwsp_set_random(fill_random);
    if (lwsp_start(nullptr) != 0) fail("lwsp_start failed");

    // The LAN9118, attached as 192.0.2.1/24 and 2001:db8::1.
    if (lwsp_lan9118_init(&eth, BOARD_LAN9118_BASE, k_mac) != 0) fail("no LAN9118 at 0x40200000");
    std::printf("lwsp-firmware: LAN9118 ID_REV 0x%08lx, MAC %02x:%02x:%02x:%02x:%02x:%02x\n",
                static_cast<unsigned long>(lwsp_lan9118_id_rev(&eth)), k_mac[0], k_mac[1], k_mac[2], k_mac[3], k_mac[4],
                k_mac[5]);
    lwsp_link* link = lwsp_lan9118_link(&eth);
    if (link == nullptr) fail("lwsp_lan9118_link: out of memory");
    lwsp_interface_config cfg{};
    cfg.ipv4_address = "192.0.2.1";
    cfg.ipv4_netmask = "255.255.255.0";
    cfg.ipv6_address = "2001:db8::1";
    cfg.default_route = 1;
    char error[96] = {};
    if (lwsp_attach(link, &cfg, error, sizeof error) < 0) fail(error);
    lwsp_link_release(link);
    lwsp_lan9118_enable_irq(&eth);
    board_enable_irq(BOARD_LAN9118_IRQ);
    std::printf("lwsp-firmware: 192.0.2.1/24, 2001:db8::1, MTU 1500\n");

    // The provider, as ws2 would load it.
    WSPDATA data{};
    WSPUPCALLTABLE upcalls{};
    if (WSPStartup(MAKEWORD(2, 2), &data, nullptr, upcalls, &wsp) != 0) fail("WSPStartup failed");

    wsp_service::hooks hooks;
    hooks.name = "lwsp-firmware";
    hooks.print = console_print;
    hooks.millis = board_millis;
    hooks.stats = lan9118_stats;
    wsp_service::serve(wsp, hooks);  // serves forever
    fail("servers did not start");
}
