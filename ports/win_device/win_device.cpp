// The real device calls (win32_device_api) and the helpers both Windows
// ports share.  Every member of win32_device_api forwards to one Win32 call;
// the ports' logic lives in the ports, where the fake device can reach it.
//
// Windows CE (_WIN32_WCE): the message-queue calls are CE's own
// (msgqueue.h).  The overlapped calls are left out there: on CE the ports
// use none (ports/ce_ndisuio reads and writes with blocking calls, and
// TAP-Windows6 does not exist on CE).  Only the desktop branch is compiled
// in this repository's builds (mingw-w64); the CE branch is written to CE
// 6.0's documented signatures and is unbuilt (docs/design.md, "Windows and
// Windows CE ports").
#include "lwsp/win_device.hpp"

#if defined(_WIN32_WCE)
#include <msgqueue.h>
#endif

#include <algorithm>
#include <cstring>
#include <cwctype>

namespace lwsp {
namespace win {

namespace {
io_result failed(DWORD error) { return io_result{error, 0}; }
io_result last_error_result() {
    const DWORD e = ::GetLastError();
    return failed(e == ERROR_SUCCESS ? ERROR_GEN_FAILURE : e);
}
}  // namespace

HANDLE win32_device_api::open(const std::wstring& path, DWORD share, DWORD flags, DWORD& error) {
    HANDLE h = ::CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE, share, nullptr, OPEN_EXISTING, flags, nullptr);
    error = h == INVALID_HANDLE_VALUE ? ::GetLastError() : ERROR_SUCCESS;
    return h;
}

void win32_device_api::close(HANDLE device) {
    if (device != INVALID_HANDLE_VALUE && device != nullptr) ::CloseHandle(device);
}

io_result win32_device_api::ioctl(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out, DWORD out_size) {
    DWORD returned = 0;
    if (!::DeviceIoControl(device, code, const_cast<void*>(in), in_size, out, out_size, &returned, nullptr))
        return last_error_result();
    return io_result{ERROR_SUCCESS, returned};
}

#if defined(_WIN32_WCE)
io_result win32_device_api::read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) {
    if (ov != nullptr) return failed(ERROR_NOT_SUPPORTED);
    DWORD got = 0;
    if (!::ReadFile(device, buffer, size, &got, nullptr)) return last_error_result();
    return io_result{ERROR_SUCCESS, got};
}

io_result win32_device_api::write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) {
    if (ov != nullptr) return failed(ERROR_NOT_SUPPORTED);
    DWORD put = 0;
    if (!::WriteFile(device, data, size, &put, nullptr)) return last_error_result();
    return io_result{ERROR_SUCCESS, put};
}

io_result win32_device_api::overlapped_result(HANDLE, OVERLAPPED*, bool) { return failed(ERROR_NOT_SUPPORTED); }
void win32_device_api::cancel_io(HANDLE) {}
#else
io_result win32_device_api::read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) {
    DWORD got = 0;
    if (ov == nullptr) {
        if (!::ReadFile(device, buffer, size, &got, nullptr)) return last_error_result();
        return io_result{ERROR_SUCCESS, got};
    }
    // Overlapped: the byte count of an operation that finished at once comes
    // from GetOverlappedResult, as Microsoft advises (ReadFile's own count
    // is unreliable with an OVERLAPPED).
    if (!::ReadFile(device, buffer, size, nullptr, ov)) return last_error_result();  // ERROR_IO_PENDING included
    return overlapped_result(device, ov, false);
}

io_result win32_device_api::write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) {
    DWORD put = 0;
    if (ov == nullptr) {
        if (!::WriteFile(device, data, size, &put, nullptr)) return last_error_result();
        return io_result{ERROR_SUCCESS, put};
    }
    if (!::WriteFile(device, data, size, nullptr, ov)) return last_error_result();
    return overlapped_result(device, ov, false);
}

io_result win32_device_api::overlapped_result(HANDLE device, OVERLAPPED* ov, bool wait) {
    DWORD n = 0;
    if (!::GetOverlappedResult(device, ov, &n, wait ? TRUE : FALSE)) {
        io_result r = last_error_result();
        r.bytes = n;  // ERROR_MORE_DATA: what fitted
        return r;
    }
    return io_result{ERROR_SUCCESS, n};
}

void win32_device_api::cancel_io(HANDLE device) { ::CancelIo(device); }
#endif

HANDLE win32_device_api::create_event(bool manual_reset, bool initially_set) {
    return ::CreateEventW(nullptr, manual_reset ? TRUE : FALSE, initially_set ? TRUE : FALSE, nullptr);
}
void win32_device_api::set_event(HANDLE event) { ::SetEvent(event); }
void win32_device_api::reset_event(HANDLE event) { ::ResetEvent(event); }
void win32_device_api::close_event(HANDLE event) {
    if (event != nullptr) ::CloseHandle(event);
}

DWORD win32_device_api::wait_any(const HANDLE* handles, DWORD count, DWORD timeout_ms) {
    return ::WaitForMultipleObjects(count, handles, FALSE, timeout_ms);
}

std::vector<std::wstring> win32_device_api::registry_subkeys(const std::wstring& key) {
    std::vector<std::wstring> out;
    HKEY k = nullptr;
    if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0, KEY_READ, &k) != ERROR_SUCCESS) return out;
    for (DWORD i = 0;; ++i) {
        wchar_t name[256];  // a registry key name has at most 255 characters
        DWORD len = static_cast<DWORD>(sizeof name / sizeof name[0]);
        const LONG r = ::RegEnumKeyExW(k, i, name, &len, nullptr, nullptr, nullptr, nullptr);
        if (r == ERROR_NO_MORE_ITEMS) break;
        if (r != ERROR_SUCCESS) continue;  // e.g. a key renamed under us: skip it
        out.emplace_back(name, len);
    }
    ::RegCloseKey(k);
    return out;
}

std::optional<std::wstring> win32_device_api::registry_string(const std::wstring& key, const std::wstring& value) {
    HKEY k = nullptr;
    if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0, KEY_READ, &k) != ERROR_SUCCESS) return std::nullopt;
    DWORD type = 0, size = 0;
    std::optional<std::wstring> out;
    if (::RegQueryValueExW(k, value.c_str(), nullptr, &type, nullptr, &size) == ERROR_SUCCESS &&
        (type == REG_SZ || type == REG_EXPAND_SZ)) {
        std::vector<wchar_t> buf(size / sizeof(wchar_t) + 1, L'\0');
        DWORD got = static_cast<DWORD>(buf.size() * sizeof(wchar_t));
        if (::RegQueryValueExW(k, value.c_str(), nullptr, &type, reinterpret_cast<BYTE*>(buf.data()), &got) ==
            ERROR_SUCCESS) {
            // Stored strings need not end with a NUL; stop at the first one.
            std::size_t n = std::min<std::size_t>(got / sizeof(wchar_t), buf.size());
            n = static_cast<std::size_t>(std::find(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), L'\0') -
                                         buf.begin());
            out = std::wstring(buf.data(), n);
        }
    }
    ::RegCloseKey(k);
    return out;
}

#if defined(_WIN32_WCE)
HANDLE win32_device_api::create_message_queue(DWORD max_messages, DWORD max_message_size) {
    MSGQUEUEOPTIONS o = {};
    o.dwSize = sizeof o;
    o.dwFlags = MSGQUEUE_ALLOW_BROKEN;
    o.dwMaxMessages = max_messages;
    o.cbMaxMessage = max_message_size;
    o.bReadAccess = TRUE;
    return ::CreateMsgQueue(nullptr, &o);
}

io_result win32_device_api::read_message(HANDLE queue, void* buffer, DWORD size, DWORD timeout_ms) {
    DWORD got = 0, flags = 0;
    if (!::ReadMsgQueue(queue, buffer, size, &got, timeout_ms, &flags)) return last_error_result();
    return io_result{ERROR_SUCCESS, got};
}

void win32_device_api::close_message_queue(HANDLE queue) {
    if (queue != nullptr) ::CloseMsgQueue(queue);
}
#else
HANDLE win32_device_api::create_message_queue(DWORD, DWORD) {
    ::SetLastError(ERROR_NOT_SUPPORTED);  // message queues are Windows CE's
    return nullptr;
}
io_result win32_device_api::read_message(HANDLE, void*, DWORD, DWORD) { return failed(ERROR_NOT_SUPPORTED); }
void win32_device_api::close_message_queue(HANDLE) {}
#endif

device_api& system_device_api() {
    static win32_device_api api;
    return api;
}

// ---- helpers -------------------------------------------------------------------

bool device_gone(DWORD error) {
    switch (error) {
        case ERROR_INVALID_HANDLE:
        case ERROR_GEN_FAILURE:
        case ERROR_DEVICE_NOT_CONNECTED:
        case ERROR_FILE_NOT_FOUND:
        case ERROR_PATH_NOT_FOUND:
        case ERROR_DEV_NOT_EXIST:
        case ERROR_BAD_UNIT:
        case ERROR_BAD_DEVICE:
        case ERROR_DEVICE_REMOVED:
        case ERROR_DEVICE_NOT_AVAILABLE: return true;
        default: return false;
    }
}

std::string error_text(DWORD error) {
    wchar_t* text = nullptr;
    const DWORD n =
        ::FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS | FORMAT_MESSAGE_ALLOCATE_BUFFER,
                         nullptr, error, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
    std::wstring w;
    if (n != 0 && text != nullptr) w.assign(text, n);
    if (text != nullptr) ::LocalFree(text);
    while (!w.empty() && (w.back() == L'\r' || w.back() == L'\n' || w.back() == L' ' || w.back() == L'.')) w.pop_back();
    std::string out = w.empty() ? std::string("unknown error") : narrow(w);
    return out + " (Win32 error " + std::to_string(error) + ")";
}

std::wstring widen(const std::string& utf8) {
    if (utf8.empty()) return {};
    const int n = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
    if (n <= 0) return {};
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), &out[0], n);
    return out;
}

std::string narrow(const std::wstring& utf16) {
    if (utf16.empty()) return {};
    const int n =
        ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), nullptr, 0, nullptr, nullptr);
    if (n <= 0) return {};
    std::string out(static_cast<std::size_t>(n), '\0');
    ::WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), &out[0], n, nullptr, nullptr);
    return out;
}

bool iequals(const std::wstring& a, const std::wstring& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::towlower(static_cast<wint_t>(a[i])) != std::towlower(static_cast<wint_t>(b[i]))) return false;
    return true;
}

const char* to_string(link_state s) {
    switch (s) {
        case link_state::opened: return "opened";
        case link_state::up: return "up";
        case link_state::link_down: return "link down";
        case link_state::failed: return "failed";
        case link_state::stopped: return "stopped";
    }
    return "?";
}

bool accept_frame(link_state state, frame_queue& queue, link_counters& counters, const frame_part* parts,
                  std::size_t count) {
    if (state != link_state::up) {
        ++counters.tx_link_down;
        return false;
    }
    if (!queue.push(parts, count)) {
        ++counters.tx_queue_full;
        return false;
    }
    counters.tx_queue_peak = std::max<std::uint64_t>(counters.tx_queue_peak, queue.size());
    return true;
}

void settle_stopped(link_state& state, frame_queue& queue) {
    if (state != link_state::failed && state != link_state::opened) state = link_state::stopped;
    queue.clear();
}

bool frame_queue::push(const frame_part* parts, std::size_t count) {
    if (full()) return false;
    std::vector<std::uint8_t> f;
    if (!spare_.empty()) {
        f = std::move(spare_.back());
        spare_.pop_back();
    }
    f.clear();
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
        f.insert(f.end(), p, p + parts[i].size);
    }
    frames_.push_back(std::move(f));
    return true;
}

bool frame_queue::pop(std::vector<std::uint8_t>& out) {
    if (frames_.empty()) return false;
    if (out.capacity() != 0 && spare_.size() < limit_) spare_.push_back(std::move(out));
    out = std::move(frames_.front());
    frames_.pop_front();
    return true;
}

std::size_t frame_queue::clear() {
    const std::size_t n = frames_.size();
    while (!frames_.empty()) {
        if (spare_.size() < limit_) spare_.push_back(std::move(frames_.front()));
        frames_.pop_front();
    }
    return n;
}

DWORD read_backoff::bad() {
    if (++bad_in_a_row_ < burst) return 0;
    bad_in_a_row_ = 0;
    const DWORD pause = next_ms_;
    next_ms_ = std::min(max_ms, next_ms_ * 2);
    return pause;
}

}  // namespace win
}  // namespace lwsp
