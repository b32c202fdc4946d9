// lwsp/ce_ndisuio_link.hpp — the Windows CE 6.0 port: a link over an
// Ethernet adapter through CE's NDIS user-mode I/O driver, NDISUIO (device
// "UIO1:"): IOCTL_NDISUIO_OPEN_DEVICE binds the handle to the adapter;
// IOCTL_NDISUIO_QUERY_OID_VALUE reads its address
// (OID_802_3_CURRENT_ADDRESS), frame size (OID_GEN_MAXIMUM_FRAME_SIZE) and
// media state (OID_GEN_MEDIA_CONNECT_STATUS); IOCTL_NDISUIO_SET_OID_VALUE
// sets the packet filter; IOCTL_NDISUIO_SET_ETHER_TYPE the EtherTypes
// NDISUIO passes up; ReadFile/WriteFile move Ethernet frames;
// IOCTL_NDISUIO_REQUEST_NOTIFICATION posts media connect/disconnect, unbind
// and removal to a CE message queue.
//
// Plugging in: open() with the adapter's miniport instance name as CE knows
// it ("NE20001", "PCI\RTL81391", ...: the names under HKLM\Comm, the ones
// IOCTL_NDISUIO_QUERY_BINDING lists — an unknown name's error lists them).
// NDISUIO gives each adapter to one application at a time.  The stack uses
// the adapter's own MAC address (the NIC filters on it).  CE's own TCP/IP
// stays bound to the adapter and sees the same frames, so give lwsp an
// address CE's stack does not use (or unbind TCP/IP from that adapter).
//
// Threading: CE has no overlapped I/O on NDISUIO (and on most drivers), so
// the port reads with a reader thread blocked in ReadFile, one frame per
// call, delivered at once.  A second thread, the control thread, writes
// the frames transmit() queued (transmit() runs under the stack's core
// lock and never blocks: it queues, bounded, or drops and counts), reads
// the notification queue and asks the adapter for its media state while
// the link is down.  stop() wakes the reader with IOCTL_CANCEL_READ (again,
// until it has left ReadFile) and joins both threads.  A write in progress
// is waited for: CE cannot cancel it.
//
// Link state: the stack hears set_link_up(false) when the medium goes
// (notification, or a read failing ERROR_DEVICE_NOT_CONNECTED — CE's NDISUIO
// fails reads that way while the cable is out — confirmed by asking for
// OID_GEN_MEDIA_CONNECT_STATUS), and set_link_up(true) when it returns.
// While it is down the reader does not read (it waits), so a disconnected
// adapter keeps no thread spinning; without notifications (no message
// queues: a desktop build) the control thread asks every media_poll.
//
// MAC changes: at every reconnection the port reads the adapter's address
// again.  If it is no longer the one the stack was attached with, the NIC
// no longer passes the stack's unicast frames: the link stays down,
// stats().mac_changes counts it and status() says so — detach and open the
// port again (the provider does this when it restarts).  If the address
// comes back, so does the link.  With packet_filter including
// NDIS_PACKET_TYPE_PROMISCUOUS a change does not matter and is only counted.
//
// Errors: an unbind or removal notification, a failed media query, or a
// read or write failing with an error that means the device is gone
// (win::device_gone(), except ERROR_DEVICE_NOT_CONNECTED: see above) ends
// both threads and reports the link down; transmit() then refuses frames
// and status() says what happened.  Other read errors and runt reads are
// counted; a burst of them pauses the reader (10 ms doubling to 1 s).
#pragma once

#include <chrono>
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
class ce_ndisuio_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ce_ndisuio_link final : public link {
public:
    struct options {
        std::string adapter;  // the miniport instance name (required)
        // The stack's MAC: default (and, unless the filter is promiscuous,
        // necessarily) the adapter's current address.
        std::optional<mac_address> mac;
        // IP MTU, 576..65535.  0: the adapter's (OID_GEN_MAXIMUM_FRAME_SIZE).
        std::size_t mtu = 0;
        // NDIS_PACKET_TYPE_* bits set on the adapter: directed, broadcast and
        // all multicast (IPv6 neighbour discovery needs its multicast groups).
        std::uint32_t packet_filter = 0x1 | 0x8 | 0x4;
        // EtherTypes NDISUIO passes to the port (IPv4, ARP, IPv6); sent in
        // one IOCTL_NDISUIO_SET_ETHER_TYPE, network byte order.  Empty:
        // NDISUIO's filter is left as it is (an NDISUIO built to pass
        // everything).
        std::vector<std::uint16_t> ether_types = {0x0800, 0x0806, 0x86dd};
        // Frames waiting for the device; more are dropped (and counted).
        std::size_t max_queued_frames = 256;
        // How often the media state is asked for while the link is down.
        std::chrono::milliseconds media_poll{1000};
        // The NDISUIO stream device.
        std::string device = "UIO1:";
    };

    // Opens NDISUIO, binds the adapter, reads its address, frame size and
    // media state, sets the packet filter and EtherTypes.  Throws
    // ce_ndisuio_error.
    static std::unique_ptr<ce_ndisuio_link> open(const options& opts);
    static std::unique_ptr<ce_ndisuio_link> open(const options& opts, win::device_api& api);
    ~ce_ndisuio_link() override;

    std::size_t mtu() const override;
    mac_address mac() const override;
    void start(link_sink& sink) override;
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;

    win::link_counters stats() const;
    win::link_status status() const;
    mac_address adapter_mac() const;  // the adapter's address as last read
    const std::string& adapter() const;
    bool notifications() const;  // NDISUIO posts notifications to a message queue (CE); else media is polled

    // The adapters bound to NDISUIO (IOCTL_NDISUIO_QUERY_BINDING), by name.
    static std::vector<std::string> list_adapters(win::device_api& api, const std::string& device = "UIO1:");

    struct impl;

private:
    explicit ce_ndisuio_link(std::unique_ptr<impl> i);
    std::unique_ptr<impl> impl_;
};

}  // namespace lwsp
