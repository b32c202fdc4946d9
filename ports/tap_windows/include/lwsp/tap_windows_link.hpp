// lwsp/tap_windows_link.hpp — the Windows port: a link over an OpenVPN
// TAP-Windows6 adapter (driver tap0901), through its public device
// interface: \\.\Global\{GUID}.tap opened for overlapped I/O, Ethernet
// frames read and written with ReadFile/WriteFile, TAP_WIN_IOCTL_GET_MAC,
// _GET_MTU and _GET_VERSION when opened, _SET_MEDIA_STATUS to plug the
// virtual cable in (open) and out (destruction).
//
// Plugging in: open() selects the adapter by its GUID ("{...}") or by the
// name Windows shows for its connection ("OpenVPN TAP", "Ethernet 2"),
// looked up in the registry (list_adapters()); with no name given it takes
// the only TAP-Windows6 adapter there is.  Attach the result to the stack.
// The adapter's own MAC address is Windows' side of the virtual cable, so
// the stack uses another one: options.mac, or the adapter's with the
// locally administered bit set and the last bit of the last byte flipped.
// Give Windows' side of the adapter an address in the stack's subnet and
// Windows' own TCP/IP is the peer.
//
// Threading: one I/O thread (started by start(), joined by stop()) keeps one
// overlapped read and up to options.writes_in_flight overlapped writes
// pending; frames that complete at once are handed to the stack in batches
// of up to 32.  transmit() (under the stack's core lock) only queues the
// frame (bounded: options.max_queued_frames) and wakes the I/O thread; a
// full queue drops the frame and counts it.
//
// Errors: a read or write that fails with an error meaning the adapter went
// away (disabled, driver stopped or restarted, handle invalid:
// win::device_gone(), and ERROR_OPERATION_ABORTED the port did not ask for)
// ends the I/O thread — pending operations are cancelled and collected —
// and reports the link down to the stack; transmit() then refuses frames
// and status() says what happened.  Open the adapter again to go on (the
// MAC address may have changed: an adapter restarts when its "MAC Address"
// property changes).  Other read errors, and reads shorter than an Ethernet
// header, are counted; a burst of them pauses reading (10 ms doubling to
// 1 s), so a misbehaving device never keeps a thread spinning.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lwsp/link.hpp"
#include "lwsp/win_device.hpp"

namespace lwsp {

// Opening failed; what() says why and what to do.
class tap_windows_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class tap_windows_link final : public link {
public:
    struct options {
        // "{GUID}" (braces optional, any case), or the connection's name as
        // Windows shows it (any case), or empty: the only TAP-Windows6
        // adapter.
        std::string adapter;
        // The stack's MAC.  Default: derived from the adapter's (above).
        std::optional<mac_address> mac;
        // IP MTU, 576..65535.  0: the adapter's (TAP_WIN_IOCTL_GET_MTU).
        std::size_t mtu = 0;
        // Frames waiting for the device; more are dropped (and counted).
        std::size_t max_queued_frames = 256;
        // Overlapped writes outstanding at once, 1..16.
        std::size_t writes_in_flight = 8;
        // The ComponentId values that make an adapter a TAP-Windows6 one
        // (compared without regard to case).
        std::vector<std::string> component_ids = {"tap0901", "root\\tap0901"};
    };

    // A TAP-Windows6 adapter found in the registry.
    struct adapter_info {
        std::string guid;          // "{...}", as NetCfgInstanceId holds it
        std::string name;          // the connection's name; empty if it has none
        std::string component_id;  // "tap0901", ...
    };

    // The TAP-Windows6 adapters installed (enabled or not).
    static std::vector<adapter_info> list_adapters();
    static std::vector<adapter_info> list_adapters(const options& opts);
    static std::vector<adapter_info> list_adapters(const options& opts, win::device_api& api);

    // Opens the adapter, reads its MAC, MTU and driver version, and sets its
    // media status to connected.  Throws tap_windows_error.
    static std::unique_ptr<tap_windows_link> open(const options& opts);
    static std::unique_ptr<tap_windows_link> open(const options& opts, win::device_api& api);
    // stop(), media status disconnected, handle closed.
    ~tap_windows_link() override;

    std::size_t mtu() const override;
    mac_address mac() const override;
    void start(link_sink& sink) override;
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;

    // Plugs the virtual cable in or out (TAP_WIN_IOCTL_SET_MEDIA_STATUS) and
    // tells the stack.  While it is out, transmit() refuses frames.
    // Returns false if the device refused (status() says why).
    bool set_media(bool connected);

    win::link_counters stats() const;
    win::link_status status() const;
    const adapter_info& adapter() const;
    mac_address adapter_mac() const;                      // Windows' side of the cable
    std::array<std::uint32_t, 3> driver_version() const;  // major, minor, debug

    struct impl;

private:
    explicit tap_windows_link(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace lwsp
