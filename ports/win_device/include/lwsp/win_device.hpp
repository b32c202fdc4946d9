// lwsp/win_device.hpp — the device seam of the Windows and Windows CE ports
// (ports/tap_windows, ports/ce_ndisuio), and what both ports share.
//
// The seam: the few Win32 calls the ports make — CreateFile,
// DeviceIoControl, ReadFile/WriteFile (overlapped for TAP-Windows6,
// blocking for CE's NDISUIO), events and waits, CancelIo, CloseHandle,
// registry reads for adapter lookup, and CE's message queues through which
// NDISUIO posts notifications — behind one interface, `device_api`.
// `win32_device_api` is the real one: each member forwards to the Win32
// call it is named after, nothing more.  Unit tests give the ports a
// scripted fake instead (test/windows/support/fake_device.*), so that the
// ports' frame, queue, link-state and error logic runs under Wine without
// a TAP adapter or a CE device.
//
// Shared by both ports: which Win32 errors mean the device is gone, the
// bounded transmit queue (transmit() runs under the stack's core lock and
// must not block), the counters and state a port reports, Win32 error text
// and UTF-8 <-> UTF-16 conversion.
//
// Windows only (desktop, and Windows CE as the ports' target; mingw-w64
// stands in for a CE toolchain in this repository's builds).
#pragma once

#include <windows.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp {
namespace win {

// The outcome of one call: Win32's error code (ERROR_SUCCESS when it
// worked) and the bytes it moved or returned.
struct io_result {
    DWORD error = ERROR_SUCCESS;
    DWORD bytes = 0;
    bool ok() const { return error == ERROR_SUCCESS; }
};

class device_api {
public:
    virtual ~device_api() = default;

    // CreateFileW(path, GENERIC_READ | GENERIC_WRITE, share, nullptr,
    // OPEN_EXISTING, flags, nullptr): the handle, or INVALID_HANDLE_VALUE
    // with the reason in `error`.
    virtual HANDLE open(const std::wstring& path, DWORD share, DWORD flags, DWORD& error) = 0;
    // CloseHandle of a handle open() returned.
    virtual void close(HANDLE device) = 0;
    // DeviceIoControl without an OVERLAPPED; `bytes` is what it returned.
    virtual io_result ioctl(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out, DWORD out_size) = 0;
    // ReadFile / WriteFile.  With `ov` (a handle opened with
    // FILE_FLAG_OVERLAPPED): ERROR_IO_PENDING means the operation goes on
    // and finishes through ov->hEvent and overlapped_result(); any other
    // result is final.  Without `ov` the call blocks until it is done.
    virtual io_result read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) = 0;
    virtual io_result write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) = 0;
    // GetOverlappedResult: ERROR_IO_INCOMPLETE while the operation runs
    // (wait false); with wait true it returns once it finished.
    virtual io_result overlapped_result(HANDLE device, OVERLAPPED* ov, bool wait) = 0;
    // CancelIo: the calling thread's pending operations on the handle
    // finish (ERROR_OPERATION_ABORTED, or done if they were).
    virtual void cancel_io(HANDLE device) = 0;

    // CreateEventW (unnamed), SetEvent, ResetEvent, CloseHandle of an event.
    virtual HANDLE create_event(bool manual_reset, bool initially_set) = 0;
    virtual void set_event(HANDLE event) = 0;
    virtual void reset_event(HANDLE event) = 0;
    virtual void close_event(HANDLE event) = 0;
    // WaitForMultipleObjects(count, handles, FALSE, timeout_ms).
    virtual DWORD wait_any(const HANDLE* handles, DWORD count, DWORD timeout_ms) = 0;

    // The registry under HKEY_LOCAL_MACHINE: the names of a key's subkeys
    // (none when the key does not exist or cannot be read), and a REG_SZ
    // (or REG_EXPAND_SZ, unexpanded) value.
    virtual std::vector<std::wstring> registry_subkeys(const std::wstring& key) = 0;
    virtual std::optional<std::wstring> registry_string(const std::wstring& key, const std::wstring& value) = 0;

    // Windows CE's point-to-point message queues (CreateMsgQueue with read
    // access, ReadMsgQueue, CloseMsgQueue): NDISUIO posts its notifications
    // to one.  The queue handle is waitable (wait_any) while messages are
    // waiting.  Where there are none (desktop Windows, Wine)
    // create_message_queue returns nullptr.
    virtual HANDLE create_message_queue(DWORD max_messages, DWORD max_message_size) = 0;
    virtual io_result read_message(HANDLE queue, void* buffer, DWORD size, DWORD timeout_ms) = 0;
    virtual void close_message_queue(HANDLE queue) = 0;
};

// The real calls.  Stateless; system_device_api() is a process-wide one.
class win32_device_api : public device_api {
public:
    HANDLE open(const std::wstring& path, DWORD share, DWORD flags, DWORD& error) override;
    void close(HANDLE device) override;
    io_result ioctl(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out, DWORD out_size) override;
    io_result read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) override;
    io_result write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) override;
    io_result overlapped_result(HANDLE device, OVERLAPPED* ov, bool wait) override;
    void cancel_io(HANDLE device) override;
    HANDLE create_event(bool manual_reset, bool initially_set) override;
    void set_event(HANDLE event) override;
    void reset_event(HANDLE event) override;
    void close_event(HANDLE event) override;
    DWORD wait_any(const HANDLE* handles, DWORD count, DWORD timeout_ms) override;
    std::vector<std::wstring> registry_subkeys(const std::wstring& key) override;
    std::optional<std::wstring> registry_string(const std::wstring& key, const std::wstring& value) override;
    HANDLE create_message_queue(DWORD max_messages, DWORD max_message_size) override;
    io_result read_message(HANDLE queue, void* buffer, DWORD size, DWORD timeout_ms) override;
    void close_message_queue(HANDLE queue) override;
};

device_api& system_device_api();

// ---- shared by the ports ---------------------------------------------------

// Errors after which a device handle is of no further use: the adapter was
// removed, disabled or unbound, its driver stopped, or the handle is no
// longer valid (ERROR_INVALID_HANDLE, ERROR_GEN_FAILURE,
// ERROR_DEVICE_NOT_CONNECTED, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND,
// ERROR_DEV_NOT_EXIST, ERROR_BAD_UNIT,
// ERROR_BAD_DEVICE, ERROR_DEVICE_REMOVED, ERROR_DEVICE_NOT_AVAILABLE).
// CE's NDISUIO also fails reads with ERROR_DEVICE_NOT_CONNECTED while the
// cable is out; ports/ce_ndisuio asks the adapter before it believes it.
bool device_gone(DWORD error);

// "The system cannot find the file specified (Win32 error 2)".
std::string error_text(DWORD error);

// UTF-8 <-> UTF-16 (invalid sequences become U+FFFD).
std::wstring widen(const std::string& utf8);
std::string narrow(const std::wstring& utf16);

// Case-insensitive comparison of two ASCII-or-not strings (CompareStringW
// semantics are not needed: adapter names and GUIDs are compared).
bool iequals(const std::wstring& a, const std::wstring& b);

// What a port is doing.
enum class link_state {
    opened,     // open() succeeded, start() not called yet
    up,         // frames flow
    link_down,  // the medium is disconnected (or the port was told so); frames are refused until it returns
    failed,     // the device went away or failed for good: the port's threads have ended or are ending
    stopped,    // stop() returned
};
const char* to_string(link_state s);

// What a port counts.  Frames refused by transmit() are in tx_queue_full or
// tx_link_down; frames accepted and then lost are in tx_errors.
struct link_counters {
    std::uint64_t frames_in = 0, bytes_in = 0;    // delivered to the stack
    std::uint64_t frames_out = 0, bytes_out = 0;  // written to the device
    std::uint64_t rx_short = 0;                   // reads shorter than an Ethernet header (14 bytes): dropped
    std::uint64_t rx_truncated = 0;               // frames longer than the read buffer (ERROR_MORE_DATA): dropped
    std::uint64_t rx_errors = 0;                  // reads that failed without ending the device
    std::uint64_t read_backoffs = 0;              // pauses after repeated failed or short reads
    std::uint64_t tx_queue_full = 0;              // transmit() refused: the queue was full
    std::uint64_t tx_link_down = 0;               // transmit() refused: link down, failed or stopped
    std::uint64_t tx_errors = 0;                  // accepted frames the device failed, or dropped when it went away
    std::uint64_t tx_queue_peak = 0;              // most frames ever waiting at once
    std::uint64_t link_downs = 0, link_ups = 0;   // carrier changes reported to the stack
    std::uint64_t mac_changes = 0;                // the adapter's address changed (ports/ce_ndisuio)
    std::uint64_t notifications = 0;              // NDISUIO notifications read and acted on, any adapter's
};

// A port's state and why it is in it.
struct link_status {
    link_state state = link_state::opened;
    DWORD error = ERROR_SUCCESS;  // the error that ended (or last troubled) the device
    std::string message;          // what happened and what to do; empty while all is well
    int threads = 0;              // the port's threads still running (0 after a failure has ended them)
};

// Frames waiting for the device, oldest first, at most `limit`.  Buffers
// are reused.  Not synchronised: the port guards it with its own lock.
class frame_queue {
public:
    explicit frame_queue(std::size_t limit = 256) : limit_(limit) {}
    std::size_t size() const { return frames_.size(); }
    bool empty() const { return frames_.empty(); }
    bool full() const { return frames_.size() >= limit_; }
    std::size_t limit() const { return limit_; }
    // Copies the frame's parts; false (nothing queued) when full.
    bool push(const frame_part* parts, std::size_t count);
    // Moves the oldest frame into `out` (whose old buffer is kept for
    // reuse); false when empty.
    bool pop(std::vector<std::uint8_t>& out);
    // Drops every frame; returns how many there were.
    std::size_t clear();

private:
    std::size_t limit_;
    std::deque<std::vector<std::uint8_t>> frames_;
    std::vector<std::vector<std::uint8_t>> spare_;
};

// transmit()'s decision, the same in every Windows port (call it with the
// port's lock held, then wake the writer when it returns true): a frame is
// refused while the link is not up (tx_link_down) or the queue is full
// (tx_queue_full); otherwise a copy is queued and the queue's peak kept.
bool accept_frame(link_state state, frame_queue& queue, link_counters& counters, const frame_part* parts,
                  std::size_t count);

// The end of stop(), the same in every Windows port (the port's lock held,
// its threads joined): a port that had started is now stopped (a failed or
// never-started one keeps saying so), and frames still queued are dropped.
void settle_stopped(link_state& state, frame_queue& queue);

// Pauses after repeated bad reads, so a device that fails or returns
// nothing at once keeps no thread spinning: after `burst` bad reads in a row
// the reader waits 10 ms, then twice as long after each further burst, up to
// 1 s; a good read resets it.
class read_backoff {
public:
    static constexpr unsigned burst = 8;
    // A bad read: returns the pause to take now in ms (0: go on).
    DWORD bad();
    void good() {
        bad_in_a_row_ = 0;
        next_ms_ = first_ms;
    }

private:
    static constexpr DWORD first_ms = 10, max_ms = 1000;
    unsigned bad_in_a_row_ = 0;
    DWORD next_ms_ = first_ms;
};

}  // namespace win
}  // namespace lwsp
