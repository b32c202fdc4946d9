// TAP-Windows6 port.  One I/O thread keeps an overlapped read and a few
// overlapped writes pending on \\.\Global\{GUID}.tap and waits for them,
// for frames to send and for stop, with WaitForMultipleObjects — all through
// win::device_api, so the tests drive the same code with a fake device.
#include "lwsp/tap_windows_link.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cwctype>
#include <mutex>
#include <thread>

#include "tap_windows_defs.hpp"

namespace lwsp {

namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t eth_header = 14;
constexpr std::size_t vlan_tag = 4;
constexpr std::size_t rx_batch = 32;  // frames handed to the stack at once, at most
constexpr std::size_t max_writes_in_flight = 16;

std::wstring trim(const std::wstring& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::iswspace(static_cast<wint_t>(s[b]))) ++b;
    while (e > b && std::iswspace(static_cast<wint_t>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

// "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", braces optional: the braced form,
// or false.
bool parse_guid(const std::wstring& in, std::wstring& out) {
    std::wstring s = in;
    if (s.size() == 38 && s.front() == L'{' && s.back() == L'}') s = s.substr(1, 36);
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != L'-' : !std::iswxdigit(static_cast<wint_t>(s[i]))) return false;
    }
    out = L"{" + s + L"}";
    return true;
}

std::string describe(const tap_windows_link::adapter_info& a) {
    return (a.name.empty() ? std::string("(no name)") : "'" + a.name + "'") + " " + a.guid;
}

std::string describe(const std::vector<tap_windows_link::adapter_info>& all) {
    std::string out;
    for (const auto& a : all) out += (out.empty() ? "" : ", ") + describe(a);
    return out;
}

// The stack's side of the cable must not use Windows' address: the
// adapter's, locally administered, unicast, last bit flipped.
mac_address derive_mac(const mac_address& adapter) {
    mac_address m = adapter;
    m.bytes[0] = static_cast<std::uint8_t>((m.bytes[0] | 0x02) & 0xfe);
    m.bytes[5] ^= 0x01;
    return m;
}

[[noreturn]] void fail_open(const std::string& what) { throw tap_windows_error("lwsp tap_windows: " + what); }

}  // namespace

struct tap_windows_link::impl {
    explicit impl(win::device_api& a) : api(a) {}
    ~impl();
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    win::device_api& api;
    options opts;
    adapter_info adapter;
    HANDLE dev = INVALID_HANDLE_VALUE;
    mac_address stack_mac{}, hw_mac{};
    std::size_t link_mtu = 1500;
    std::array<std::uint32_t, 3> version{};

    HANDLE stop_ev = nullptr;  // manual reset: stop() asks the I/O thread to end
    HANDLE tx_ev = nullptr;    // auto reset: transmit() queued a frame
    HANDLE read_ev = nullptr;  // the pending read's OVERLAPPED event
    struct write_slot {
        OVERLAPPED ov{};
        HANDLE ev = nullptr;
        std::vector<std::uint8_t> frame;
        bool busy = false;
    };
    std::vector<write_slot> slots;
    std::thread thread;
    std::atomic<int> threads{0};
    bool started = false;  // between start() and stop(); start/stop only

    std::mutex sink_mu;  // the sink's lifetime, against set_media() and the I/O thread's reports
    link_sink* sink = nullptr;

    mutable std::mutex mu;  // leaf lock (taken under the core lock by transmit): the fields below
    win::frame_queue queue;
    win::link_counters counters;
    win::link_state state = win::link_state::opened;
    DWORD error = ERROR_SUCCESS;
    std::string message;
    bool media = true;

    // The I/O thread's own.
    std::vector<std::vector<std::uint8_t>> rx;  // read buffers, used in turn
    std::size_t next_buf = 0, read_buf = 0;
    std::vector<frame_part> batch;  // frames read, not yet delivered
    OVERLAPPED rov{};
    bool read_pending = false;
    bool more_reads = false;  // post_reads() stopped while reads still finished at once
    win::read_backoff backoff;
    clock::time_point read_resume{};
    bool failing = false;

    void run();
    void post_reads();
    bool finish_read(const win::io_result& r);
    bool bad_read();
    void flush_batch();
    void start_writes();
    void finish_write(write_slot& s, const win::io_result& r, bool stopping);
    void fail(DWORD e, const char* doing);
    void report_link(bool up);
    std::string who() const { return "TAP-Windows6 adapter " + describe(adapter); }
};

tap_windows_link::impl::~impl() {
    for (auto& s : slots) api.close_event(s.ev);
    api.close_event(read_ev);
    api.close_event(tx_ev);
    api.close_event(stop_ev);
    if (dev != INVALID_HANDLE_VALUE) api.close(dev);
}

std::vector<tap_windows_link::adapter_info> tap_windows_link::list_adapters() {
    return list_adapters(options(), win::system_device_api());
}

std::vector<tap_windows_link::adapter_info> tap_windows_link::list_adapters(const options& opts) {
    return list_adapters(opts, win::system_device_api());
}

std::vector<tap_windows_link::adapter_info> tap_windows_link::list_adapters(const options& opts, win::device_api& api) {
    std::vector<adapter_info> out;
    const std::wstring base = tapwin::adapters_key;
    for (const std::wstring& sub : api.registry_subkeys(base)) {
        std::wstring key = base;
        key += L'\\';
        key += sub;
        const auto cid = api.registry_string(key, L"ComponentId");
        if (!cid) continue;  // "Properties" and adapters without one
        const bool tap = std::any_of(opts.component_ids.begin(), opts.component_ids.end(),
                                     [&](const std::string& c) { return win::iequals(win::widen(c), *cid); });
        if (!tap) continue;
        const auto guid = api.registry_string(key, L"NetCfgInstanceId");
        if (!guid || guid->empty()) continue;
        const auto name =
            api.registry_string(std::wstring(tapwin::network_key) + L"\\" + *guid + L"\\Connection", L"Name");
        out.push_back(adapter_info{win::narrow(*guid), name ? win::narrow(*name) : std::string(), win::narrow(*cid)});
    }
    return out;
}

std::unique_ptr<tap_windows_link> tap_windows_link::open(const options& opts) {
    return open(opts, win::system_device_api());
}

std::unique_ptr<tap_windows_link> tap_windows_link::open(const options& opts, win::device_api& api) {
    if (opts.mtu != 0 && (opts.mtu < 576 || opts.mtu > 65535))
        fail_open("mtu must be 0 (the adapter's) or 576..65535, not " + std::to_string(opts.mtu));
    if (opts.max_queued_frames == 0 || opts.max_queued_frames > 65536)
        fail_open("max_queued_frames must be 1..65536, not " + std::to_string(opts.max_queued_frames));
    if (opts.writes_in_flight == 0 || opts.writes_in_flight > max_writes_in_flight)
        fail_open("writes_in_flight must be 1..16, not " + std::to_string(opts.writes_in_flight));
    if (opts.component_ids.empty()) fail_open("component_ids is empty: at least \"tap0901\" is needed");

    // Which adapter.
    const std::wstring want = trim(win::widen(opts.adapter));
    const std::vector<adapter_info> all = list_adapters(opts, api);
    adapter_info chosen;
    std::wstring guid;
    if (want.empty()) {
        if (all.empty())
            fail_open(
                "no TAP-Windows6 adapter is installed (no network adapter with ComponentId tap0901 under "
                "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Class\\{4D36E972-E325-11CE-BFC1-08002BE10318}): install "
                "TAP-Windows6 (OpenVPN's installer, or `tapctl create`) and give its name or {GUID} as the adapter");
        if (all.size() > 1)
            fail_open("several TAP-Windows6 adapters are installed (" + describe(all) +
                      "): say which one, by its name or {GUID} (configuration key adapter=)");
        chosen = all.front();
    } else if (parse_guid(want, guid)) {
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const adapter_info& a) { return win::iequals(win::widen(a.guid), guid); });
        // Not in the registry (e.g. another ComponentId): the device decides.
        chosen = it != all.end() ? *it : adapter_info{win::narrow(guid), "", ""};
    } else {
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const adapter_info& a) { return win::iequals(win::widen(a.name), want); });
        if (it == all.end())
            fail_open("there is no TAP-Windows6 adapter named '" + win::narrow(want) + "'; " +
                      (all.empty() ? std::string("none is installed: install TAP-Windows6 (OpenVPN's installer, or "
                                                 "`tapctl create`)")
                                   : "installed: " + describe(all) +
                                         "; give one of these names (as Network Connections shows them) or GUIDs"));
        chosen = *it;
    }
    parse_guid(win::widen(chosen.guid), guid);  // NetCfgInstanceId is braced; normalise anyway

    auto in = std::make_unique<impl>(api);
    impl& i = *in;
    i.opts = opts;
    i.adapter = chosen;
    const std::wstring path = std::wstring(tapwin::device_prefix) + guid + tapwin::device_suffix;
    DWORD err = ERROR_SUCCESS;
    i.dev = api.open(path, 0, FILE_ATTRIBUTE_SYSTEM | FILE_FLAG_OVERLAPPED, err);
    if (i.dev == INVALID_HANDLE_VALUE) {
        const std::string dev = win::narrow(path);
        switch (err) {
            case ERROR_FILE_NOT_FOUND:
            case ERROR_PATH_NOT_FOUND:
                fail_open(i.who() + " has no device " + dev + " (" + win::error_text(err) +
                          "): the adapter is disabled, or it is not a TAP-Windows6 adapter; enable it in Network "
                          "Connections (ncpa.cpl)");
            case ERROR_ACCESS_DENIED:
            case ERROR_SHARING_VIOLATION:
            case ERROR_BUSY:
                fail_open(i.who() + " is in use (" + win::error_text(err) +
                          "): TAP-Windows6 lets one program open an adapter at a time; stop the program that has "
                          "it (OpenVPN?) or use another adapter");
            case ERROR_GEN_FAILURE:
                fail_open(i.who() + " is not ready (" + win::error_text(err) +
                          "): it is being disabled or restarted; try again once it is enabled");
            default: fail_open("cannot open " + dev + " (" + i.who() + "): " + win::error_text(err));
        }
    }

    // The driver's version, its MAC (Windows' side) and MTU.
    ULONG ver[3] = {0, 0, 0};
    win::io_result r = api.ioctl(i.dev, tapwin::ioctl_get_version, ver, sizeof ver, ver, sizeof ver);
    if (!r.ok())
        fail_open(i.who() + " does not answer TAP_WIN_IOCTL_GET_VERSION (" + win::error_text(r.error) +
                  "): is it a TAP-Windows6 adapter?");
    i.version = {ver[0], ver[1], ver[2]};
    std::uint8_t mac[6] = {};
    r = api.ioctl(i.dev, tapwin::ioctl_get_mac, mac, sizeof mac, mac, sizeof mac);
    if (!r.ok() || r.bytes < sizeof mac)
        fail_open(i.who() + ": TAP_WIN_IOCTL_GET_MAC failed (" +
                  (r.ok() ? std::string("returned ") + std::to_string(r.bytes) + " bytes" : win::error_text(r.error)) +
                  ")");
    std::copy(mac, mac + 6, i.hw_mac.bytes.begin());
    i.stack_mac = opts.mac ? *opts.mac : derive_mac(i.hw_mac);
    if (i.stack_mac == i.hw_mac)
        fail_open("the stack's MAC " + i.stack_mac.to_string() +
                  " is the adapter's own (Windows' side of the cable): choose another, or leave mac unset");
    ULONG dev_mtu = 0;
    r = api.ioctl(i.dev, tapwin::ioctl_get_mtu, &dev_mtu, sizeof dev_mtu, &dev_mtu, sizeof dev_mtu);
    if (!r.ok() || dev_mtu < 576 || dev_mtu > 65535) dev_mtu = 1500;  // drivers before 8.1 have no GET_MTU
    i.link_mtu = opts.mtu != 0 ? opts.mtu : dev_mtu;

    // Plug the virtual cable in: Windows sees the adapter connected.
    ULONG connected = TRUE;
    r = api.ioctl(i.dev, tapwin::ioctl_set_media_status, &connected, sizeof connected, &connected, sizeof connected);
    if (!r.ok()) fail_open(i.who() + ": TAP_WIN_IOCTL_SET_MEDIA_STATUS failed: " + win::error_text(r.error));

    i.stop_ev = api.create_event(true, false);
    i.tx_ev = api.create_event(false, false);
    i.read_ev = api.create_event(true, false);
    i.slots.resize(opts.writes_in_flight);
    for (auto& s : i.slots) s.ev = api.create_event(true, false);
    const bool events =
        i.stop_ev && i.tx_ev && i.read_ev &&
        std::all_of(i.slots.begin(), i.slots.end(), [](const impl::write_slot& s) { return s.ev != nullptr; });
    if (!events) fail_open("cannot create events: " + win::error_text(::GetLastError()));
    i.queue = win::frame_queue(opts.max_queued_frames);
    // Frames as long as either MTU allows, and a VLAN tag.
    const std::size_t frame_max = std::max<std::size_t>(i.link_mtu, dev_mtu) + eth_header + vlan_tag;
    i.rx.assign(rx_batch, std::vector<std::uint8_t>(frame_max));
    i.batch.reserve(rx_batch);
    return std::unique_ptr<tap_windows_link>(new tap_windows_link(std::move(in)));
}

tap_windows_link::tap_windows_link(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

tap_windows_link::~tap_windows_link() {
    stop();
    // Unplug the virtual cable: Windows stops routing to a stack that is gone.
    ULONG off = FALSE;
    impl_->api.ioctl(impl_->dev, tapwin::ioctl_set_media_status, &off, sizeof off, &off, sizeof off);
}

std::size_t tap_windows_link::mtu() const { return impl_->link_mtu; }
mac_address tap_windows_link::mac() const { return impl_->stack_mac; }
mac_address tap_windows_link::adapter_mac() const { return impl_->hw_mac; }
const tap_windows_link::adapter_info& tap_windows_link::adapter() const { return impl_->adapter; }
std::array<std::uint32_t, 3> tap_windows_link::driver_version() const { return impl_->version; }

win::link_counters tap_windows_link::stats() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->counters;
}

win::link_status tap_windows_link::status() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return win::link_status{impl_->state, impl_->error, impl_->message, impl_->threads.load()};
}

void tap_windows_link::start(link_sink& sink) {
    impl& in = *impl_;
    if (in.started) return;
    {
        std::lock_guard<std::mutex> g(in.sink_mu);
        in.sink = &sink;
    }
    bool down = false;
    {
        std::lock_guard<std::mutex> g(in.mu);
        if (in.state == win::link_state::failed) return;  // set_media() found the device gone: nothing to run
        in.state = in.media ? win::link_state::up : win::link_state::link_down;
        down = !in.media;
    }
    if (down) in.report_link(false);
    in.api.reset_event(in.stop_ev);
    in.failing = false;
    in.started = true;
    in.threads = 1;
    in.thread = std::thread([&in] { in.run(); });
}

void tap_windows_link::stop() {
    impl& in = *impl_;
    if (in.started) {
        in.api.set_event(in.stop_ev);
        if (in.thread.joinable()) in.thread.join();
        in.started = false;
    }
    {
        std::lock_guard<std::mutex> g(in.sink_mu);
        in.sink = nullptr;
    }
    std::lock_guard<std::mutex> g(in.mu);
    win::settle_stopped(in.state, in.queue);
}

bool tap_windows_link::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    (void)info;  // no offloads announced: every frame is plain
    impl& in = *impl_;
    std::lock_guard<std::mutex> g(in.mu);
    if (!win::accept_frame(in.state, in.queue, in.counters, parts, count)) return false;
    in.api.set_event(in.tx_ev);
    return true;
}

bool tap_windows_link::set_media(bool connected) {
    impl& in = *impl_;
    ULONG v = connected ? TRUE : FALSE;
    const win::io_result r = in.api.ioctl(in.dev, tapwin::ioctl_set_media_status, &v, sizeof v, &v, sizeof v);
    bool report = false;
    {
        std::lock_guard<std::mutex> g(in.mu);
        if (!r.ok()) {
            in.error = r.error;
            in.message = in.who() + ": TAP_WIN_IOCTL_SET_MEDIA_STATUS failed: " + win::error_text(r.error);
            return false;
        }
        in.media = connected;
        if (in.state == win::link_state::up && !connected) {
            in.state = win::link_state::link_down;
            ++in.counters.link_downs;
            report = true;
        } else if (in.state == win::link_state::link_down && connected) {
            in.state = win::link_state::up;
            ++in.counters.link_ups;
            report = true;
        }
    }
    if (report) in.report_link(connected);
    return true;
}

void tap_windows_link::impl::report_link(bool up) {
    std::lock_guard<std::mutex> g(sink_mu);
    if (sink != nullptr) sink->set_link_up(up);
}

void tap_windows_link::impl::fail(DWORD e, const char* doing) {
    if (failing) return;
    failing = true;
    bool was_up = false;
    {
        std::lock_guard<std::mutex> g(mu);
        was_up = state == win::link_state::up;
        state = win::link_state::failed;
        error = e;
        message = who() + ": " + doing + " failed: " + win::error_text(e) +
                  ". The adapter was disabled, removed or restarted (changing its MAC address restarts it); "
                  "open it again";
        counters.tx_errors += queue.clear();
        if (was_up) ++counters.link_downs;
    }
    if (was_up) report_link(false);
}

void tap_windows_link::impl::run() {
    for (;;) {
        post_reads();
        start_writes();
        if (failing) break;
        HANDLE hs[3 + max_writes_in_flight];
        DWORD n = 0;
        hs[n++] = stop_ev;  // first: stop wins over everything else
        hs[n++] = tx_ev;
        if (read_pending) hs[n++] = read_ev;
        for (auto& s : slots)
            if (s.busy) hs[n++] = s.ev;
        DWORD timeout = INFINITE;
        if (more_reads) {
            timeout = 0;
        } else if (!read_pending) {  // pausing after bad reads
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(read_resume - clock::now());
            timeout = static_cast<DWORD>(std::max<long long>(1, left.count()));
        }
        const DWORD w = api.wait_any(hs, n, timeout);
        if (w == WAIT_OBJECT_0) break;
        if (w == WAIT_FAILED) {
            fail(ERROR_INVALID_HANDLE, "waiting for the device");
            break;
        }
        if (read_pending) {
            const win::io_result r = api.overlapped_result(dev, &rov, false);
            if (r.error != ERROR_IO_INCOMPLETE) {
                read_pending = false;
                finish_read(r);
            }
        }
        for (auto& s : slots) {
            if (!s.busy) continue;
            const win::io_result r = api.overlapped_result(dev, &s.ov, false);
            if (r.error != ERROR_IO_INCOMPLETE) finish_write(s, r, false);
        }
    }
    flush_batch();
    // Nothing may stay pending on buffers and OVERLAPPEDs about to be
    // reused or freed: cancel and collect.
    const bool writing = std::any_of(slots.begin(), slots.end(), [](const impl::write_slot& s) { return s.busy; });
    if (read_pending || writing) api.cancel_io(dev);
    if (read_pending) {
        api.overlapped_result(dev, &rov, true);
        read_pending = false;
    }
    for (auto& s : slots)
        if (s.busy) finish_write(s, api.overlapped_result(dev, &s.ov, true), true);
    threads = 0;
}

void tap_windows_link::impl::post_reads() {
    more_reads = false;
    for (std::size_t k = 0; !failing && !read_pending && clock::now() >= read_resume; ++k) {
        if (k == 4 * rx_batch) {  // reads keep finishing at once: let writes and stop have a turn
            more_reads = true;
            break;
        }
        if (batch.size() == rx_batch) flush_batch();
        read_buf = next_buf;
        next_buf = (next_buf + 1) % rx.size();
        std::vector<std::uint8_t>& buf = rx[read_buf];
        rov = OVERLAPPED{};
        rov.hEvent = read_ev;
        api.reset_event(read_ev);
        const win::io_result r = api.read(dev, buf.data(), static_cast<DWORD>(buf.size()), &rov);
        if (r.error == ERROR_IO_PENDING) {
            read_pending = true;
            break;
        }
        if (!finish_read(r)) break;
    }
    flush_batch();  // before sleeping: nothing read waits for the next frame
}

// A read finished with `r` into rx[read_buf].  False: stop reading for now.
bool tap_windows_link::impl::finish_read(const win::io_result& r) {
    if (r.ok()) {
        if (r.bytes < eth_header) {
            std::lock_guard<std::mutex> g(mu);
            ++counters.rx_short;
        } else {
            backoff.good();
            batch.push_back(frame_part{rx[read_buf].data(), r.bytes});
            if (batch.size() == rx_batch) flush_batch();
            return true;
        }
        return bad_read();
    }
    if (r.error == ERROR_MORE_DATA) {  // longer than the buffer: the frame is incomplete
        {
            std::lock_guard<std::mutex> g(mu);
            ++counters.rx_truncated;
        }
        return bad_read();
    }
    // An abort the port did not ask for: the driver let go of the request
    // (the adapter is being halted).
    if (win::device_gone(r.error) || r.error == ERROR_OPERATION_ABORTED) {
        fail(r.error, "reading a frame");
        return false;
    }
    {
        std::lock_guard<std::mutex> g(mu);
        ++counters.rx_errors;
        error = r.error;
    }
    return bad_read();
}

bool tap_windows_link::impl::bad_read() {
    const DWORD pause = backoff.bad();
    if (pause == 0) return true;
    {
        std::lock_guard<std::mutex> g(mu);
        ++counters.read_backoffs;
    }
    read_resume = clock::now() + std::chrono::milliseconds(pause);
    return false;
}

void tap_windows_link::impl::flush_batch() {
    if (batch.empty()) return;
    std::size_t bytes = 0;
    for (const frame_part& f : batch) bytes += f.size;
    {
        std::lock_guard<std::mutex> g(mu);
        counters.frames_in += batch.size();
        counters.bytes_in += bytes;
    }
    // The sink is set before this thread starts and cleared after it ends.
    if (sink != nullptr) sink->deliver_many(batch.data(), batch.size(), nullptr);
    batch.clear();
}

void tap_windows_link::impl::start_writes() {
    // A write that finishes at once frees its slot for the next frame.
    while (!failing) {
        const auto free = std::find_if(slots.begin(), slots.end(), [](const write_slot& s) { return !s.busy; });
        if (free == slots.end()) return;
        write_slot& s = *free;
        bool got = false;
        {
            std::lock_guard<std::mutex> g(mu);
            got = queue.pop(s.frame);
        }
        if (!got) return;
        s.ov = OVERLAPPED{};
        s.ov.hEvent = s.ev;
        api.reset_event(s.ev);
        const win::io_result r = api.write(dev, s.frame.data(), static_cast<DWORD>(s.frame.size()), &s.ov);
        if (r.error == ERROR_IO_PENDING)
            s.busy = true;
        else
            finish_write(s, r, false);
    }
}

void tap_windows_link::impl::finish_write(write_slot& s, const win::io_result& r, bool stopping) {
    s.busy = false;
    {
        std::lock_guard<std::mutex> g(mu);
        if (r.ok() && r.bytes == s.frame.size()) {
            ++counters.frames_out;
            counters.bytes_out += s.frame.size();
            return;
        }
        ++counters.tx_errors;
    }
    if (!stopping && !r.ok() && (win::device_gone(r.error) || r.error == ERROR_OPERATION_ABORTED))
        fail(r.error, "writing a frame");
}

}  // namespace lwsp
