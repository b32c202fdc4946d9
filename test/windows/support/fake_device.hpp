// fake_device — a scripted stand-in for the Win32 calls of the Windows
// ports (lwsp::win::device_api), so that ports/tap_windows and
// ports/ce_ndisuio run under Wine without a TAP-Windows6 adapter or a CE
// device.  One fake plays one device: a TAP-Windows6 adapter (overlapped
// reads and writes, TAP_WIN_IOCTL_*) or CE's NDISUIO (blocking reads and
// writes, IOCTL_NDISUIO_*, OIDs, notifications through a message queue),
// plus the registry the TAP port reads.
//
// What the device does is scripted by the test: frames and read results to
// hand out (short reads, truncated frames, errors), writes that block (a
// full queue), media disconnect and reconnect, a changed MAC address, a
// device that goes away (every call fails from then on).  What the port
// did is recorded: frames written, ioctls with their input, reads, waits,
// handles still open.
//
// Events and waits are real (the base class's): the fake completes an
// overlapped operation by setting its OVERLAPPED's event, as Windows does,
// and a message queue is a real event set while messages wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lwsp/address.hpp"
#include "lwsp/win_device.hpp"

#include "async_call.hpp"  // test/unit/support

namespace lwsp_test {

using bytes = std::vector<std::uint8_t>;

class fake_device : public lwsp::win::win32_device_api {
public:
    enum class kind { tap, ndisuio };
    struct ioctl_call {
        DWORD code;
        bytes in;
    };

    explicit fake_device(kind k);
    ~fake_device() override;
    fake_device(const fake_device&) = delete;
    fake_device& operator=(const fake_device&) = delete;

    // ---- the registry (under HKLM) -------------------------------------------
    void registry_key(const std::wstring& key);  // creates it and its parents
    void registry_value(const std::wstring& key, const std::wstring& name, const std::wstring& data);
    // A network adapter as Windows records it: Class\{4D36E972-...}\<subkey>
    // with ComponentId and NetCfgInstanceId, and the connection's Name.
    void add_network_adapter(const std::wstring& subkey, const std::wstring& component_id, const std::wstring& guid,
                             const std::wstring& name);

    // ---- the device ------------------------------------------------------------
    void set_path(const std::wstring& path);  // open() succeeds for this path only (else ERROR_FILE_NOT_FOUND)
    void set_open_error(DWORD error);         // open() fails so
    void set_mac(const lwsp::mac_address& mac);
    void set_mtu(ULONG mtu);  // TAP: GET_MTU; NDISUIO: OID_GEN_MAXIMUM_FRAME_SIZE
    void set_version(ULONG major, ULONG minor, ULONG debug);
    void fail_ioctl(DWORD code, DWORD error);  // that control code fails so from now on
    // NDISUIO: the adapters bound to it (OPEN_DEVICE succeeds for these).
    void add_binding(const std::wstring& adapter);
    void set_message_queues(bool supported);  // default: supported
    // NDISUIO: the medium.  With notify, a media (dis)connect notification
    // is posted to the queue the port registered, if it asked for one.
    void set_media(bool connected, bool notify = true);
    void post_notification(DWORD type, const std::wstring& adapter);

    // ---- traffic ---------------------------------------------------------------
    void push_frame(const bytes& frame);  // a read returns it (truncated to the buffer: ERROR_MORE_DATA)
    void push_read_result(DWORD error, const bytes& data = {});  // a read finishes with this error and data
    // Every read, write and ioctl fails with `error` from now on; reads and
    // writes in progress finish with it.
    void go_away(DWORD error);
    void block_writes(bool blocked);  // writes wait (pending, or blocked in the call) until unblocked
    std::vector<bytes> written() const;
    bool wait_written(std::size_t count, std::chrono::milliseconds timeout) const;

    // ---- what the port did -----------------------------------------------------
    std::size_t reads() const;
    std::size_t writes() const;
    std::size_t waits() const;
    std::size_t open_handles() const;
    std::size_t opens() const;
    DWORD last_open_flags() const;
    std::size_t pending_reads() const;  // overlapped reads not collected, plus calls blocked in read()
    std::size_t misuse() const;         // GetOverlappedResult on an unknown OVERLAPPED, calls on unknown handles
    std::vector<ioctl_call> ioctls() const;
    std::size_t ioctl_count(DWORD code) const;
    std::optional<ULONG> media_status() const;  // TAP: the last SET_MEDIA_STATUS
    ULONG packet_filter() const;                // NDISUIO: the last OID_GEN_CURRENT_PACKET_FILTER set
    bytes ether_types() const;                  // NDISUIO: the last SET_ETHER_TYPE input
    std::wstring opened_adapter() const;        // NDISUIO: the OPEN_DEVICE name
    bool notifications_registered() const;
    std::size_t oid_queries(ULONG oid) const;
    std::size_t message_queues_open() const;

    // ---- device_api ------------------------------------------------------------
    HANDLE open(const std::wstring& path, DWORD share, DWORD flags, DWORD& error) override;
    void close(HANDLE device) override;
    lwsp::win::io_result ioctl(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out,
                               DWORD out_size) override;
    lwsp::win::io_result read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) override;
    lwsp::win::io_result write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) override;
    lwsp::win::io_result overlapped_result(HANDLE device, OVERLAPPED* ov, bool wait) override;
    void cancel_io(HANDLE device) override;
    DWORD wait_any(const HANDLE* handles, DWORD count, DWORD timeout_ms) override;
    std::vector<std::wstring> registry_subkeys(const std::wstring& key) override;
    std::optional<std::wstring> registry_string(const std::wstring& key, const std::wstring& value) override;
    HANDLE create_message_queue(DWORD max_messages, DWORD max_message_size) override;
    lwsp::win::io_result read_message(HANDLE queue, void* buffer, DWORD size, DWORD timeout_ms) override;
    void close_message_queue(HANDLE queue) override;

private:
    struct read_item {
        DWORD error;
        bytes data;
    };
    struct op {
        HANDLE device;
        OVERLAPPED* ov;
        bool is_write;
        void* buffer;
        DWORD size;
        bytes data;  // a write's frame
        bool done = false;
        lwsp::win::io_result result;
    };
    struct reg_node {
        std::vector<std::wstring> subkeys;
        std::map<std::wstring, std::wstring> values;  // lower-case name -> data
    };

    bool own(HANDLE h) const;
    void complete(op& o, lwsp::win::io_result r);
    void match_reads();     // pending overlapped reads take queued results
    void release_writes();  // pending overlapped writes finish (unblocked)
    lwsp::win::io_result take_read(void* buffer, DWORD size);
    lwsp::win::io_result tap_ioctl(DWORD code, const std::uint8_t* in, DWORD in_size, void* out, DWORD out_size);
    lwsp::win::io_result nuio_ioctl(HANDLE h, DWORD code, const std::uint8_t* in, DWORD in_size, void* out,
                                    DWORD out_size);
    void post_locked(DWORD type, const std::wstring& adapter);

    const kind kind_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::map<std::wstring, reg_node> registry_;
    std::wstring path_;
    DWORD open_error_ = ERROR_SUCCESS;
    std::map<HANDLE, bool> handles_;  // device handles -> associated (NDISUIO OPEN_DEVICE)
    std::uintptr_t next_handle_ = 0x7e000000;
    lwsp::mac_address mac_{{0x00, 0xff, 0x12, 0x34, 0x56, 0x78}};
    ULONG mtu_ = 1500;
    ULONG version_[3] = {9, 24, 0};
    std::map<DWORD, DWORD> ioctl_errors_;
    std::vector<std::wstring> bindings_;
    bool msg_queues_ = true;
    bool media_ = true;
    std::map<HANDLE, std::deque<bytes>> queues_;
    HANDLE notify_queue_ = nullptr;
    DWORD notify_types_ = 0;
    std::deque<read_item> rx_;
    std::list<op> ops_;
    DWORD gone_ = ERROR_SUCCESS;
    bool writes_blocked_ = false;
    std::vector<bytes> written_;
    std::size_t cancel_generation_ = 0;
    std::size_t blocked_reads_ = 0;
    std::size_t reads_ = 0, writes_ = 0, opens_ = 0, misuse_ = 0;
    DWORD last_open_flags_ = 0;
    std::size_t waits_ = 0;
    std::vector<ioctl_call> ioctls_;
    std::optional<ULONG> media_status_;
    ULONG packet_filter_ = 0;
    bytes ether_types_;
    std::wstring opened_adapter_;
    std::map<ULONG, std::size_t> oid_queries_;
};

// Waits until `pred` holds, for at most `timeout` (generous: the tests must
// pass on a loaded machine): the unit tests' poll (async_call.hpp) with
// these tests' longer bound.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return lwsp::test::eventually(pred, timeout);
}

}  // namespace lwsp_test
