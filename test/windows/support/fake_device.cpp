#include "fake_device.hpp"

#include <algorithm>
#include <cstring>
#include <cwctype>
#include <thread>

#include "nuio_defs.hpp"
#include "tap_windows_defs.hpp"

namespace lwsp_test {

using lwsp::win::io_result;

namespace {

std::wstring lower(std::wstring s) {
    for (auto& c : s) c = static_cast<wchar_t>(std::towlower(static_cast<wint_t>(c)));
    return s;
}

io_result fail(DWORD e) { return io_result{e, 0}; }

}  // namespace

fake_device::fake_device(kind k) : kind_(k) { path_ = k == kind::ndisuio ? L"UIO1:" : L""; }

fake_device::~fake_device() {
    for (auto& q : queues_) ::CloseHandle(q.first);
}

// ---- registry ----------------------------------------------------------------------

void fake_device::registry_key(const std::wstring& key) {
    std::lock_guard<std::mutex> g(mu_);
    std::size_t pos = 0;
    std::wstring parent;
    for (;;) {
        const std::size_t slash = key.find(L'\\', pos);
        const std::wstring part = key.substr(pos, slash == std::wstring::npos ? std::wstring::npos : slash - pos);
        std::wstring path = parent;
        if (!path.empty()) path += L'\\';
        path += part;
        if (registry_.find(lower(path)) == registry_.end()) {
            registry_[lower(path)];
            if (!parent.empty()) registry_[lower(parent)].subkeys.push_back(part);
        }
        if (slash == std::wstring::npos) break;
        parent = path;
        pos = slash + 1;
    }
}

void fake_device::registry_value(const std::wstring& key, const std::wstring& name, const std::wstring& data) {
    registry_key(key);
    std::lock_guard<std::mutex> g(mu_);
    registry_[lower(key)].values[lower(name)] = data;
}

void fake_device::add_network_adapter(const std::wstring& subkey, const std::wstring& component_id,
                                      const std::wstring& guid, const std::wstring& name) {
    // The paths as Windows has them, written out here rather than taken
    // from the port, so that the test checks the port's.
    const std::wstring cls =
        L"SYSTEM\\CurrentControlSet\\Control\\Class\\{4D36E972-E325-11CE-BFC1-08002BE10318}\\" + subkey;
    registry_value(cls, L"ComponentId", component_id);
    registry_value(cls, L"NetCfgInstanceId", guid);
    registry_value(L"SYSTEM\\CurrentControlSet\\Control\\Network\\{4D36E972-E325-11CE-BFC1-08002BE10318}\\" + guid +
                       L"\\Connection",
                   L"Name", name);
}

std::vector<std::wstring> fake_device::registry_subkeys(const std::wstring& key) {
    std::lock_guard<std::mutex> g(mu_);
    const auto it = registry_.find(lower(key));
    return it == registry_.end() ? std::vector<std::wstring>() : it->second.subkeys;
}

std::optional<std::wstring> fake_device::registry_string(const std::wstring& key, const std::wstring& value) {
    std::lock_guard<std::mutex> g(mu_);
    const auto it = registry_.find(lower(key));
    if (it == registry_.end()) return std::nullopt;
    const auto v = it->second.values.find(lower(value));
    if (v == it->second.values.end()) return std::nullopt;
    return v->second;
}

// ---- script --------------------------------------------------------------------------

void fake_device::set_path(const std::wstring& path) {
    std::lock_guard<std::mutex> g(mu_);
    path_ = path;
}
void fake_device::set_open_error(DWORD error) {
    std::lock_guard<std::mutex> g(mu_);
    open_error_ = error;
}
void fake_device::set_mac(const lwsp::mac_address& mac) {
    std::lock_guard<std::mutex> g(mu_);
    mac_ = mac;
}
void fake_device::set_mtu(ULONG mtu) {
    std::lock_guard<std::mutex> g(mu_);
    mtu_ = mtu;
}
void fake_device::set_version(ULONG major, ULONG minor, ULONG debug) {
    std::lock_guard<std::mutex> g(mu_);
    version_[0] = major;
    version_[1] = minor;
    version_[2] = debug;
}
void fake_device::fail_ioctl(DWORD code, DWORD error) {
    std::lock_guard<std::mutex> g(mu_);
    ioctl_errors_[code] = error;
}
void fake_device::add_binding(const std::wstring& adapter) {
    std::lock_guard<std::mutex> g(mu_);
    bindings_.push_back(adapter);
}
void fake_device::set_message_queues(bool supported) {
    std::lock_guard<std::mutex> g(mu_);
    msg_queues_ = supported;
}

void fake_device::set_media(bool connected, bool notify) {
    std::lock_guard<std::mutex> g(mu_);
    media_ = connected;
    cv_.notify_all();  // a blocked read sees the cable go
    if (notify && !opened_adapter_.empty())
        post_locked(connected ? lwsp::nuio::notify_media_connect : lwsp::nuio::notify_media_disconnect,
                    opened_adapter_);
}

void fake_device::post_notification(DWORD type, const std::wstring& adapter) {
    std::lock_guard<std::mutex> g(mu_);
    post_locked(type, adapter);
}

void fake_device::post_locked(DWORD type, const std::wstring& adapter) {
    if (notify_queue_ == nullptr || (notify_types_ & type) == 0) return;
    const auto q = queues_.find(notify_queue_);
    if (q == queues_.end()) return;
    lwsp::nuio::device_notification n{};
    n.notification_type = type;
    const std::size_t len = std::min<std::size_t>(adapter.size(), MAX_PATH - 1);
    std::copy(adapter.begin(), adapter.begin() + static_cast<std::ptrdiff_t>(len), n.device_name);
    bytes msg(sizeof n);
    std::memcpy(msg.data(), &n, sizeof n);
    q->second.push_back(std::move(msg));
    ::SetEvent(q->first);
    cv_.notify_all();
}

void fake_device::push_frame(const bytes& frame) { push_read_result(ERROR_SUCCESS, frame); }

void fake_device::push_read_result(DWORD error, const bytes& data) {
    std::lock_guard<std::mutex> g(mu_);
    rx_.push_back(read_item{error, data});
    match_reads();
    cv_.notify_all();
}

void fake_device::go_away(DWORD error) {
    std::lock_guard<std::mutex> g(mu_);
    gone_ = error;
    for (auto& o : ops_)
        if (!o.done) complete(o, fail(error));
    cv_.notify_all();
}

void fake_device::block_writes(bool blocked) {
    std::lock_guard<std::mutex> g(mu_);
    writes_blocked_ = blocked;
    if (!blocked) release_writes();
    cv_.notify_all();
}

std::vector<bytes> fake_device::written() const {
    std::lock_guard<std::mutex> g(mu_);
    return written_;
}

bool fake_device::wait_written(std::size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return written_.size() >= count; });
}

// ---- observation -------------------------------------------------------------------

std::size_t fake_device::reads() const {
    std::lock_guard<std::mutex> g(mu_);
    return reads_;
}
std::size_t fake_device::writes() const {
    std::lock_guard<std::mutex> g(mu_);
    return writes_;
}
std::size_t fake_device::waits() const {
    std::lock_guard<std::mutex> g(mu_);
    return waits_;
}
std::size_t fake_device::open_handles() const {
    std::lock_guard<std::mutex> g(mu_);
    return handles_.size();
}
std::size_t fake_device::opens() const {
    std::lock_guard<std::mutex> g(mu_);
    return opens_;
}
DWORD fake_device::last_open_flags() const {
    std::lock_guard<std::mutex> g(mu_);
    return last_open_flags_;
}
std::size_t fake_device::pending_reads() const {
    std::lock_guard<std::mutex> g(mu_);
    return blocked_reads_ +
           static_cast<std::size_t>(std::count_if(ops_.begin(), ops_.end(), [](const op& o) { return !o.is_write; }));
}
std::size_t fake_device::misuse() const {
    std::lock_guard<std::mutex> g(mu_);
    return misuse_;
}
std::vector<fake_device::ioctl_call> fake_device::ioctls() const {
    std::lock_guard<std::mutex> g(mu_);
    return ioctls_;
}
std::size_t fake_device::ioctl_count(DWORD code) const {
    std::lock_guard<std::mutex> g(mu_);
    return static_cast<std::size_t>(
        std::count_if(ioctls_.begin(), ioctls_.end(), [&](const ioctl_call& c) { return c.code == code; }));
}
std::optional<ULONG> fake_device::media_status() const {
    std::lock_guard<std::mutex> g(mu_);
    return media_status_;
}
ULONG fake_device::packet_filter() const {
    std::lock_guard<std::mutex> g(mu_);
    return packet_filter_;
}
bytes fake_device::ether_types() const {
    std::lock_guard<std::mutex> g(mu_);
    return ether_types_;
}
std::wstring fake_device::opened_adapter() const {
    std::lock_guard<std::mutex> g(mu_);
    return opened_adapter_;
}
bool fake_device::notifications_registered() const {
    std::lock_guard<std::mutex> g(mu_);
    return notify_queue_ != nullptr;
}
std::size_t fake_device::oid_queries(ULONG oid) const {
    std::lock_guard<std::mutex> g(mu_);
    const auto it = oid_queries_.find(oid);
    return it == oid_queries_.end() ? 0 : it->second;
}
std::size_t fake_device::message_queues_open() const {
    std::lock_guard<std::mutex> g(mu_);
    return queues_.size();
}

// ---- device_api ----------------------------------------------------------------------

bool fake_device::own(HANDLE h) const { return handles_.count(h) != 0; }

HANDLE fake_device::open(const std::wstring& path, DWORD, DWORD flags, DWORD& error) {
    std::lock_guard<std::mutex> g(mu_);
    ++opens_;
    last_open_flags_ = flags;
    if (open_error_ != ERROR_SUCCESS || path.empty() || lower(path) != lower(path_)) {
        error = open_error_ != ERROR_SUCCESS ? open_error_ : ERROR_FILE_NOT_FOUND;
        return INVALID_HANDLE_VALUE;
    }
    next_handle_ += 4;
    HANDLE h = reinterpret_cast<HANDLE>(next_handle_);
    handles_[h] = false;
    error = ERROR_SUCCESS;
    return h;
}

void fake_device::close(HANDLE device) {
    std::lock_guard<std::mutex> g(mu_);
    if (!own(device)) {
        ++misuse_;
        return;
    }
    if (handles_[device]) opened_adapter_.clear();
    handles_.erase(device);
    for (auto& o : ops_)
        if (o.device == device && !o.done) complete(o, fail(ERROR_OPERATION_ABORTED));
}

void fake_device::complete(op& o, io_result r) {
    o.done = true;
    o.result = r;
    o.ov->Internal = r.ok() ? 0 : 0xC0000001;  // an NTSTATUS, as Windows leaves it
    o.ov->InternalHigh = r.bytes;
    ::SetEvent(o.ov->hEvent);
    cv_.notify_all();
}

io_result fake_device::take_read(void* buffer, DWORD size) {
    read_item item = std::move(rx_.front());
    rx_.pop_front();
    const DWORD n = static_cast<DWORD>(std::min<std::size_t>(size, item.data.size()));
    if (n != 0) std::memcpy(buffer, item.data.data(), n);
    DWORD error = item.error;
    if (error == ERROR_SUCCESS && item.data.size() > size) error = ERROR_MORE_DATA;
    return io_result{error, n};
}

void fake_device::match_reads() {
    for (auto& o : ops_) {
        if (rx_.empty()) return;
        if (o.is_write || o.done) continue;
        const io_result r = take_read(o.buffer, o.size);
        complete(o, r);
    }
}

void fake_device::release_writes() {
    for (auto& o : ops_) {
        if (!o.is_write || o.done) continue;
        written_.push_back(o.data);
        complete(o, io_result{ERROR_SUCCESS, o.size});
    }
}

io_result fake_device::read(HANDLE device, void* buffer, DWORD size, OVERLAPPED* ov) {
    std::unique_lock<std::mutex> lk(mu_);
    ++reads_;
    cv_.notify_all();
    if (!own(device)) {
        ++misuse_;
        return fail(ERROR_INVALID_HANDLE);
    }
    if (gone_ != ERROR_SUCCESS) return fail(gone_);
    if (ov != nullptr) {  // TAP-Windows6: overlapped
        if (!rx_.empty()) {
            const io_result r = take_read(buffer, size);
            ::SetEvent(ov->hEvent);  // Windows sets it on immediate completion too
            return r;
        }
        ops_.push_back(op{device, ov, false, buffer, size, {}, false, {}});
        return fail(ERROR_IO_PENDING);
    }
    // NDISUIO on CE: blocks until a frame, the cable goes, IOCTL_CANCEL_READ
    // or the device goes away.
    const std::size_t generation = cancel_generation_;
    ++blocked_reads_;
    io_result r;
    for (;;) {
        if (gone_ != ERROR_SUCCESS) {
            r = fail(gone_);
            break;
        }
        if (!own(device)) {
            r = fail(ERROR_INVALID_HANDLE);
            break;
        }
        if (kind_ == kind::ndisuio && !media_) {
            r = fail(ERROR_DEVICE_NOT_CONNECTED);  // what CE's NDISUIO does while the cable is out
            break;
        }
        if (!rx_.empty()) {
            r = take_read(buffer, size);
            break;
        }
        if (cancel_generation_ != generation) {
            r = fail(ERROR_OPERATION_ABORTED);
            break;
        }
        cv_.wait(lk);
    }
    --blocked_reads_;
    cv_.notify_all();
    return r;
}

io_result fake_device::write(HANDLE device, const void* data, DWORD size, OVERLAPPED* ov) {
    std::unique_lock<std::mutex> lk(mu_);
    ++writes_;
    if (!own(device)) {
        ++misuse_;
        return fail(ERROR_INVALID_HANDLE);
    }
    if (gone_ != ERROR_SUCCESS) return fail(gone_);
    const auto* p = static_cast<const std::uint8_t*>(data);
    if (ov != nullptr) {
        if (writes_blocked_) {
            ops_.push_back(op{device, ov, true, nullptr, size, bytes(p, p + size), false, {}});
            return fail(ERROR_IO_PENDING);
        }
        written_.emplace_back(p, p + size);
        ::SetEvent(ov->hEvent);
        cv_.notify_all();
        return io_result{ERROR_SUCCESS, size};
    }
    cv_.wait(lk, [&] { return !writes_blocked_ || gone_ != ERROR_SUCCESS; });
    if (gone_ != ERROR_SUCCESS) return fail(gone_);
    if (kind_ == kind::ndisuio && !media_) return fail(ERROR_DEVICE_NOT_CONNECTED);
    written_.emplace_back(p, p + size);
    cv_.notify_all();
    return io_result{ERROR_SUCCESS, size};
}

io_result fake_device::overlapped_result(HANDLE device, OVERLAPPED* ov, bool wait) {
    std::unique_lock<std::mutex> lk(mu_);
    auto it = std::find_if(ops_.begin(), ops_.end(), [&](const op& o) { return o.ov == ov && o.device == device; });
    if (it == ops_.end()) {
        ++misuse_;
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (!it->done) {
        if (!wait) return fail(ERROR_IO_INCOMPLETE);
        cv_.wait(lk, [&] { return it->done; });
    }
    const io_result r = it->result;
    ops_.erase(it);
    return r;
}

void fake_device::cancel_io(HANDLE device) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& o : ops_)
        if (o.device == device && !o.done) complete(o, fail(ERROR_OPERATION_ABORTED));
}

DWORD fake_device::wait_any(const HANDLE* handles, DWORD count, DWORD timeout_ms) {
    {
        std::lock_guard<std::mutex> g(mu_);
        ++waits_;
    }
    return win32_device_api::wait_any(handles, count, timeout_ms);
}

io_result fake_device::ioctl(HANDLE device, DWORD code, const void* in, DWORD in_size, void* out, DWORD out_size) {
    std::lock_guard<std::mutex> g(mu_);
    const auto* p = static_cast<const std::uint8_t*>(in);
    ioctls_.push_back(ioctl_call{code, p != nullptr ? bytes(p, p + in_size) : bytes()});
    cv_.notify_all();
    if (!own(device)) {
        ++misuse_;
        return fail(ERROR_INVALID_HANDLE);
    }
    if (gone_ != ERROR_SUCCESS) return fail(gone_);
    const auto e = ioctl_errors_.find(code);
    if (e != ioctl_errors_.end()) return fail(e->second);
    return kind_ == kind::tap ? tap_ioctl(code, p, in_size, out, out_size)
                              : nuio_ioctl(device, code, p, in_size, out, out_size);
}

io_result fake_device::tap_ioctl(DWORD code, const std::uint8_t* in, DWORD in_size, void* out, DWORD out_size) {
    namespace t = lwsp::tapwin;
    if (code == t::ioctl_get_version) {
        if (out_size < sizeof version_) return fail(ERROR_INSUFFICIENT_BUFFER);
        std::memcpy(out, version_, sizeof version_);
        return io_result{ERROR_SUCCESS, sizeof version_};
    }
    if (code == t::ioctl_get_mac) {
        if (out_size < 6) return fail(ERROR_INSUFFICIENT_BUFFER);
        std::memcpy(out, mac_.bytes.data(), 6);
        return io_result{ERROR_SUCCESS, 6};
    }
    if (code == t::ioctl_get_mtu) {
        if (out_size < sizeof mtu_) return fail(ERROR_INSUFFICIENT_BUFFER);
        std::memcpy(out, &mtu_, sizeof mtu_);
        return io_result{ERROR_SUCCESS, sizeof mtu_};
    }
    if (code == t::ioctl_set_media_status) {
        if (in_size < sizeof(ULONG)) return fail(ERROR_INVALID_PARAMETER);
        ULONG v = 0;
        std::memcpy(&v, in, sizeof v);
        media_status_ = v;
        return io_result{ERROR_SUCCESS, sizeof v};
    }
    return fail(ERROR_INVALID_FUNCTION);
}

io_result fake_device::nuio_ioctl(HANDLE h, DWORD code, const std::uint8_t* in, DWORD in_size, void* out,
                                  DWORD out_size) {
    namespace n = lwsp::nuio;
    if (code == n::ioctl_open_device) {
        if (in == nullptr || in_size == 0 || in_size % 2 != 0) return fail(ERROR_INVALID_PARAMETER);
        std::wstring name(in_size / 2, L'\0');
        std::memcpy(&name[0], in, in_size);
        const bool bound = std::any_of(bindings_.begin(), bindings_.end(),
                                       [&](const std::wstring& b) { return lower(b) == lower(name); });
        if (!bound) return fail(ERROR_FILE_NOT_FOUND);
        if (!opened_adapter_.empty()) return fail(ERROR_ACCESS_DENIED);  // one application per adapter
        handles_[h] = true;
        opened_adapter_ = name;
        return io_result{};
    }
    if (code == n::ioctl_query_binding) {
        if (in_size < sizeof(n::query_binding) || out_size < sizeof(n::query_binding))
            return fail(ERROR_INVALID_PARAMETER);
        n::query_binding q{};
        std::memcpy(&q, in, sizeof q);
        if (q.binding_index >= bindings_.size()) return fail(ERROR_NO_MORE_ITEMS);
        const std::wstring& name = bindings_[q.binding_index];
        const DWORD name_bytes = static_cast<DWORD>((name.size() + 1) * sizeof(wchar_t));
        if (out_size < sizeof q + name_bytes) return fail(ERROR_INSUFFICIENT_BUFFER);
        q.device_name_offset = sizeof q;
        q.device_name_length = name_bytes;
        auto* o = static_cast<std::uint8_t*>(out);
        std::memcpy(o, &q, sizeof q);
        std::memcpy(o + sizeof q, name.c_str(), name_bytes);
        return io_result{ERROR_SUCCESS, static_cast<DWORD>(sizeof q + name_bytes)};
    }
    if (code == n::ioctl_request_notification) {
        if (in_size < sizeof(n::request_notification)) return fail(ERROR_INVALID_PARAMETER);
        n::request_notification r{};
        std::memcpy(&r, in, sizeof r);
        if (queues_.count(r.msg_queue) == 0) return fail(ERROR_INVALID_HANDLE);
        notify_queue_ = r.msg_queue;
        notify_types_ = r.notification_types;
        return io_result{};
    }
    if (code == n::ioctl_cancel_notification) {
        notify_queue_ = nullptr;
        notify_types_ = 0;
        return io_result{};
    }
    if (code == n::ioctl_cancel_read) {
        ++cancel_generation_;
        cv_.notify_all();
        return io_result{};
    }
    // The rest need an associated handle.
    if (!handles_[h]) return fail(ERROR_DEVICE_NOT_CONNECTED);
    if (code == n::ioctl_set_ether_type) {
        ether_types_.assign(in, in + in_size);
        return io_result{};
    }
    if (code == n::ioctl_query_oid_value || code == n::ioctl_set_oid_value) {
        if (in_size < n::oid_data_offset + sizeof(ULONG)) return fail(ERROR_INVALID_PARAMETER);
        ULONG oid = 0;
        std::memcpy(&oid, in + offsetof(n::oid_request, oid), sizeof oid);
        const DWORD data_size = static_cast<DWORD>(in_size - n::oid_data_offset);
        if (code == n::ioctl_set_oid_value) {
            if (oid != n::oid_gen_current_packet_filter) return fail(ERROR_NOT_SUPPORTED);
            std::memcpy(&packet_filter_, in + n::oid_data_offset, sizeof packet_filter_);
            return io_result{};
        }
        ++oid_queries_[oid];
        if (out == nullptr || out_size < in_size) return fail(ERROR_INVALID_PARAMETER);
        auto* data = static_cast<std::uint8_t*>(out) + n::oid_data_offset;
        if (oid == n::oid_802_3_current_address) {
            if (data_size < 6) return fail(ERROR_INSUFFICIENT_BUFFER);
            std::memcpy(data, mac_.bytes.data(), 6);
            return io_result{ERROR_SUCCESS, static_cast<DWORD>(n::oid_data_offset + 6)};
        }
        ULONG v = 0;
        if (oid == n::oid_gen_media_connect_status)
            v = media_ ? n::media_state_connected : n::media_state_disconnected;
        else if (oid == n::oid_gen_maximum_frame_size)
            v = mtu_;
        else
            return fail(ERROR_NOT_SUPPORTED);
        std::memcpy(data, &v, sizeof v);
        return io_result{ERROR_SUCCESS, static_cast<DWORD>(n::oid_data_offset + sizeof v)};
    }
    return fail(ERROR_INVALID_FUNCTION);
}

HANDLE fake_device::create_message_queue(DWORD, DWORD) {
    std::lock_guard<std::mutex> g(mu_);
    if (!msg_queues_) {
        ::SetLastError(ERROR_NOT_SUPPORTED);
        return nullptr;
    }
    HANDLE q = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    queues_[q];
    return q;
}

io_result fake_device::read_message(HANDLE queue, void* buffer, DWORD size, DWORD timeout_ms) {
    std::unique_lock<std::mutex> lk(mu_);
    auto has = [&] {
        const auto it = queues_.find(queue);
        return it != queues_.end() && !it->second.empty();
    };
    if (queues_.count(queue) == 0) {
        ++misuse_;
        return fail(ERROR_INVALID_HANDLE);
    }
    if (!has() && !cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), has)) return fail(ERROR_TIMEOUT);
    auto& q = queues_[queue];
    bytes msg = std::move(q.front());
    q.pop_front();
    if (q.empty()) ::ResetEvent(queue);
    if (msg.size() > size) return fail(ERROR_INSUFFICIENT_BUFFER);
    std::memcpy(buffer, msg.data(), msg.size());
    return io_result{ERROR_SUCCESS, static_cast<DWORD>(msg.size())};
}

void fake_device::close_message_queue(HANDLE queue) {
    std::lock_guard<std::mutex> g(mu_);
    const auto it = queues_.find(queue);
    if (it == queues_.end()) {
        ++misuse_;
        return;
    }
    if (notify_queue_ == queue) notify_queue_ = nullptr;
    ::CloseHandle(queue);
    queues_.erase(it);
}

}  // namespace lwsp_test
