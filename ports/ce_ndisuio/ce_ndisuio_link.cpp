// Windows CE NDISUIO port.  Two threads: the reader, blocked in ReadFile
// (CE has no overlapped I/O on NDISUIO), and the control thread, which
// writes queued frames, reads NDISUIO's notification queue and asks for the
// media state while the link is down.  Every device call goes through
// win::device_api, so the tests drive this code with a fake NDISUIO.
#include "lwsp/ce_ndisuio_link.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <cwchar>
#include <mutex>
#include <thread>

#include "nuio_defs.hpp"

namespace lwsp {

namespace {

constexpr std::size_t eth_header = 14;
constexpr std::size_t vlan_tag = 4;
// A notification may carry status data after the structure.
constexpr DWORD notification_max = static_cast<DWORD>(sizeof(nuio::device_notification) + 512);
constexpr DWORD notification_types = nuio::notify_media_connect | nuio::notify_media_disconnect | nuio::notify_unbind |
                                     nuio::notify_adapter_removal | nuio::notify_reset_start | nuio::notify_reset_end |
                                     nuio::notify_device_power_up | nuio::notify_device_power_down;

[[noreturn]] void fail_open(const std::string& what) { throw ce_ndisuio_error("lwsp ce_ndisuio: " + what); }

std::string hex(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(v));
    return buf;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "'" : ", '") + s + "'";
    return out;
}

// An OID query or set through NDISUIO on an associated handle (device name
// null): header and data in one buffer, which a query also gets back.
win::io_result oid_call(win::device_api& api, HANDLE dev, DWORD code, ULONG oid, void* data, DWORD size) {
    std::vector<unsigned char> buf(nuio::oid_data_offset + std::max<DWORD>(size, sizeof(ULONG)), 0);
    std::memcpy(buf.data() + offsetof(nuio::oid_request, oid), &oid, sizeof oid);
    std::memcpy(buf.data() + nuio::oid_data_offset, data, size);
    const DWORD len = static_cast<DWORD>(nuio::oid_data_offset + size);
    const bool query = code == nuio::ioctl_query_oid_value;
    win::io_result r = api.ioctl(dev, code, buf.data(), len, query ? buf.data() : nullptr, query ? len : 0);
    if (r.ok() && query) std::memcpy(data, buf.data() + nuio::oid_data_offset, size);
    return r;
}

win::io_result query_oid(win::device_api& api, HANDLE dev, ULONG oid, void* data, DWORD size) {
    return oid_call(api, dev, nuio::ioctl_query_oid_value, oid, data, size);
}

std::vector<std::string> bindings(win::device_api& api, HANDLE dev) {
    std::vector<std::string> out;
    for (ULONG i = 0; i < 64; ++i) {
        alignas(ULONG) unsigned char buf[1024] = {};
        nuio::query_binding q{};
        q.binding_index = i;
        std::memcpy(buf, &q, sizeof q);
        const win::io_result r = api.ioctl(dev, nuio::ioctl_query_binding, buf, sizeof q, buf, sizeof buf);
        if (!r.ok()) break;  // ERROR_NO_MORE_ITEMS past the last one
        std::memcpy(&q, buf, sizeof q);
        if (q.device_name_offset >= sizeof buf || q.device_name_length > sizeof buf - q.device_name_offset) continue;
        std::wstring name(q.device_name_length / sizeof(wchar_t), L'\0');
        std::memcpy(&name[0], buf + q.device_name_offset, name.size() * sizeof(wchar_t));
        name.resize(std::wcslen(name.c_str()));
        out.push_back(win::narrow(name));
    }
    return out;
}

}  // namespace

struct ce_ndisuio_link::impl {
    explicit impl(win::device_api& a) : api(a) {}
    ~impl();
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    win::device_api& api;
    options opts;
    std::wstring adapter_w;
    HANDLE dev = INVALID_HANDLE_VALUE;
    mac_address stack_mac{};
    std::size_t link_mtu = 1500;
    bool connected_at_open = false;

    HANDLE stop_ev = nullptr;   // manual reset: stop() or a failure ends both threads
    HANDLE tx_ev = nullptr;     // auto reset: transmit() queued a frame
    HANDLE probe_ev = nullptr;  // auto reset: ask the adapter for its media state
    HANDLE up_ev = nullptr;     // manual reset: set while the reader may read
    HANDLE msg_queue = nullptr;
    std::thread reader, control;
    std::atomic<int> threads{0};
    std::atomic<bool> ending{false};
    bool started = false;

    std::mutex exit_mu;  // the reader's exit, for stop()
    std::condition_variable exit_cv;
    bool reader_done = false;

    std::mutex sink_mu;  // the sink's lifetime against the threads' reports
    link_sink* sink = nullptr;

    mutable std::mutex mu;  // leaf lock (taken under the core lock by transmit): the fields below
    win::frame_queue queue;
    win::link_counters counters;
    win::link_state state = win::link_state::opened;
    DWORD error = ERROR_SUCCESS;
    std::string message;
    mac_address hw_mac{};
    bool mac_mismatch = false;

    std::vector<std::uint8_t> rxbuf;  // the reader's
    std::vector<std::uint8_t> txbuf;  // the control thread's
    bool held_down = false;           // the control thread's: a reset or power-down has not ended

    void read_loop();
    void control_loop();
    void write_queued();
    void probe();
    void on_notification(const nuio::device_notification& n);
    void on_media(bool up);
    bool check_mac();
    void read_notifications();
    void fail(DWORD e, const std::string& what, bool in_reader = false);
    void wake_reader();
    void report_link(bool up);
    std::string who() const { return "NDISUIO adapter '" + opts.adapter + "'"; }
};

ce_ndisuio_link::impl::~impl() {
    api.close_event(up_ev);
    api.close_event(probe_ev);
    api.close_event(tx_ev);
    api.close_event(stop_ev);
    if (dev != INVALID_HANDLE_VALUE) api.close(dev);
}

std::vector<std::string> ce_ndisuio_link::list_adapters(win::device_api& api, const std::string& device) {
    DWORD err = ERROR_SUCCESS;
    HANDLE h = api.open(win::widen(device), FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_ATTRIBUTE_NORMAL, err);
    if (h == INVALID_HANDLE_VALUE) return {};
    std::vector<std::string> out = bindings(api, h);
    api.close(h);
    return out;
}

std::unique_ptr<ce_ndisuio_link> ce_ndisuio_link::open(const options& opts) {
    return open(opts, win::system_device_api());
}

std::unique_ptr<ce_ndisuio_link> ce_ndisuio_link::open(const options& opts, win::device_api& api) {
    if (opts.mtu != 0 && (opts.mtu < 576 || opts.mtu > 65535))
        fail_open("mtu must be 0 (the adapter's) or 576..65535, not " + std::to_string(opts.mtu));
    if (opts.max_queued_frames == 0 || opts.max_queued_frames > 65536)
        fail_open("max_queued_frames must be 1..65536, not " + std::to_string(opts.max_queued_frames));
    if (opts.media_poll.count() < 1 || opts.media_poll.count() > 3600000)
        fail_open("media_poll must be 1 ms..1 h, not " + std::to_string(opts.media_poll.count()) + " ms");
    if (opts.ether_types.size() > 16) fail_open("at most 16 ether_types");
    if ((opts.packet_filter & (nuio::packet_type_directed | nuio::packet_type_promiscuous)) == 0)
        fail_open("packet_filter " + hex(opts.packet_filter) +
                  " passes no frames addressed to the stack: include NDIS_PACKET_TYPE_DIRECTED (0x1)");

    auto in = std::make_unique<impl>(api);
    impl& i = *in;
    i.opts = opts;
    i.adapter_w = win::widen(opts.adapter);
    const std::wstring device = win::widen(opts.device);
    DWORD err = ERROR_SUCCESS;
    // CE 6.0's "NDISUIO Implementation" opens it shared, for reading and
    // writing; without FILE_FLAG_OVERLAPPED, ReadFile blocks (the reader
    // thread's design).
    i.dev = api.open(device, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_ATTRIBUTE_NORMAL, err);
    if (i.dev == INVALID_HANDLE_VALUE) {
        fail_open("cannot open NDISUIO's device " + opts.device + " (" + win::error_text(err) +
                  "): the OS image needs NDISUIO (ndisuio.dll, loaded by Device Manager from "
                  "HKLM\\Drivers\\BuiltIn\\NDISUIO with Prefix \"UIO\" and Index 1)");
    }
    if (i.adapter_w.empty()) {
        const auto names = bindings(api, i.dev);
        fail_open(
            "no adapter given: set adapter= to the miniport instance name of the Ethernet adapter; bound to "
            "NDISUIO: " +
            (names.empty() ? std::string("none") : join(names)));
    }

    // Bind the handle to the adapter: the name's bytes, no terminating NUL.
    win::io_result r = api.ioctl(i.dev, nuio::ioctl_open_device, i.adapter_w.data(),
                                 static_cast<DWORD>(i.adapter_w.size() * sizeof(wchar_t)), nullptr, 0);
    if (!r.ok()) {
        const auto names = bindings(api, i.dev);
        const bool known = std::any_of(names.begin(), names.end(),
                                       [&](const std::string& n) { return win::iequals(win::widen(n), i.adapter_w); });
        if (known || r.error == ERROR_ACCESS_DENIED || r.error == ERROR_SHARING_VIOLATION || r.error == ERROR_BUSY)
            fail_open(i.who() + " cannot be opened (" + win::error_text(r.error) +
                      "): NDISUIO gives an adapter to one application at a time; another one has it");
        fail_open("NDISUIO has no adapter '" + opts.adapter + "' (" + win::error_text(r.error) +
                  "); bound to NDISUIO: " + (names.empty() ? std::string("none") : join(names)) +
                  "; set adapter= to one of them (the miniport instance names under HKLM\\Comm)");
    }

    // Address, frame size, media state.
    std::uint8_t mac[6] = {};
    r = query_oid(api, i.dev, nuio::oid_802_3_current_address, mac, sizeof mac);
    if (!r.ok()) fail_open(i.who() + ": OID_802_3_CURRENT_ADDRESS failed: " + win::error_text(r.error));
    std::copy(mac, mac + 6, i.hw_mac.bytes.begin());
    ULONG frame = 0;
    r = query_oid(api, i.dev, nuio::oid_gen_maximum_frame_size, &frame, sizeof frame);
    if (!r.ok() || frame < 576 || frame > 65535) frame = 1500;
    i.link_mtu = opts.mtu != 0 ? opts.mtu : frame;
    ULONG media = nuio::media_state_disconnected;
    r = query_oid(api, i.dev, nuio::oid_gen_media_connect_status, &media, sizeof media);
    if (!r.ok()) fail_open(i.who() + ": OID_GEN_MEDIA_CONNECT_STATUS failed: " + win::error_text(r.error));
    i.connected_at_open = media == nuio::media_state_connected;

    i.stack_mac = opts.mac ? *opts.mac : i.hw_mac;
    if (!(i.stack_mac == i.hw_mac) && (opts.packet_filter & nuio::packet_type_promiscuous) == 0)
        fail_open("mac " + i.stack_mac.to_string() + " is not the adapter's address " + i.hw_mac.to_string() +
                  ": the adapter passes only frames for its own address; leave mac unset, or add "
                  "NDIS_PACKET_TYPE_PROMISCUOUS (0x20) to packet_filter");

    ULONG filter = opts.packet_filter;
    r = oid_call(api, i.dev, nuio::ioctl_set_oid_value, nuio::oid_gen_current_packet_filter, &filter, sizeof filter);
    if (!r.ok())
        fail_open(i.who() + " refused packet filter " + hex(filter) + " (" + win::error_text(r.error) +
                  "): set packet_filter to NDIS_PACKET_TYPE_* bits the adapter supports");
    if (!opts.ether_types.empty()) {
        std::vector<std::uint8_t> types;  // network byte order, as in the frame
        std::string list;
        for (std::uint16_t t : opts.ether_types) {
            types.push_back(static_cast<std::uint8_t>(t >> 8));
            types.push_back(static_cast<std::uint8_t>(t));
            list += (list.empty() ? "" : ",") + hex(t);
        }
        r = api.ioctl(i.dev, nuio::ioctl_set_ether_type, types.data(), static_cast<DWORD>(types.size()), nullptr, 0);
        if (!r.ok())
            fail_open("NDISUIO refused the EtherTypes " + list + " (" + win::error_text(r.error) +
                      "): CE 6.0 documents IOCTL_NDISUIO_SET_ETHER_TYPE with one USHORT (NDISUIO's default is "
                      "0x8001 only), and IP needs IPv4, ARP and IPv6 together; use an NDISUIO that takes a list, "
                      "or one that filters nothing with ether_types empty");
    }

    i.stop_ev = api.create_event(true, false);
    i.tx_ev = api.create_event(false, false);
    i.probe_ev = api.create_event(false, false);
    i.up_ev = api.create_event(true, false);
    if (!i.stop_ev || !i.tx_ev || !i.probe_ev || !i.up_ev)
        fail_open("cannot create events: " + win::error_text(::GetLastError()));
    i.queue = win::frame_queue(opts.max_queued_frames);
    i.rxbuf.assign(std::max<std::size_t>(i.link_mtu, frame) + eth_header + vlan_tag, 0);
    return std::unique_ptr<ce_ndisuio_link>(new ce_ndisuio_link(std::move(in)));
}

ce_ndisuio_link::ce_ndisuio_link(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

ce_ndisuio_link::~ce_ndisuio_link() { stop(); }

std::size_t ce_ndisuio_link::mtu() const { return impl_->link_mtu; }
mac_address ce_ndisuio_link::mac() const { return impl_->stack_mac; }
const std::string& ce_ndisuio_link::adapter() const { return impl_->opts.adapter; }
bool ce_ndisuio_link::notifications() const { return impl_->msg_queue != nullptr; }

mac_address ce_ndisuio_link::adapter_mac() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->hw_mac;
}

win::link_counters ce_ndisuio_link::stats() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return impl_->counters;
}

win::link_status ce_ndisuio_link::status() const {
    std::lock_guard<std::mutex> g(impl_->mu);
    return win::link_status{impl_->state, impl_->error, impl_->message, impl_->threads.load()};
}

void ce_ndisuio_link::start(link_sink& sink) {
    impl& in = *impl_;
    if (in.started) return;
    {
        std::lock_guard<std::mutex> g(in.sink_mu);
        in.sink = &sink;
    }
    const bool up = in.connected_at_open;
    {
        std::lock_guard<std::mutex> g(in.mu);
        if (in.state == win::link_state::failed) return;
        in.state = up ? win::link_state::up : win::link_state::link_down;
    }
    if (up)
        in.api.set_event(in.up_ev);
    else
        in.report_link(false);
    // Notifications come through a CE message queue; without one (a desktop
    // build) the control thread polls the media state while the link is down.
    in.msg_queue = in.api.create_message_queue(16, notification_max);
    if (in.msg_queue != nullptr) {
        nuio::request_notification rn{in.msg_queue, notification_types};
        if (!in.api.ioctl(in.dev, nuio::ioctl_request_notification, &rn, sizeof rn, nullptr, 0).ok()) {
            in.api.close_message_queue(in.msg_queue);
            in.msg_queue = nullptr;
        }
    }
    in.api.reset_event(in.stop_ev);
    in.ending = false;
    in.reader_done = false;
    in.started = true;
    in.threads = 2;
    in.reader = std::thread([&in] { in.read_loop(); });
    in.control = std::thread([&in] { in.control_loop(); });
}

void ce_ndisuio_link::stop() {
    impl& in = *impl_;
    if (in.started) {
        in.ending = true;
        in.api.set_event(in.stop_ev);
        in.wake_reader();  // it may be blocked in ReadFile
        in.reader.join();
        in.control.join();
        if (in.msg_queue != nullptr) {
            in.api.ioctl(in.dev, nuio::ioctl_cancel_notification, nullptr, 0, nullptr, 0);
            in.api.close_message_queue(in.msg_queue);
            in.msg_queue = nullptr;
        }
        in.started = false;
    }
    {
        std::lock_guard<std::mutex> g(in.sink_mu);
        in.sink = nullptr;
    }
    std::lock_guard<std::mutex> g(in.mu);
    win::settle_stopped(in.state, in.queue);
}

bool ce_ndisuio_link::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    (void)info;  // no offloads announced: every frame is plain
    impl& in = *impl_;
    std::lock_guard<std::mutex> g(in.mu);
    if (!win::accept_frame(in.state, in.queue, in.counters, parts, count)) return false;
    in.api.set_event(in.tx_ev);
    return true;
}

void ce_ndisuio_link::impl::report_link(bool up) {
    std::lock_guard<std::mutex> g(sink_mu);
    if (sink != nullptr) sink->set_link_up(up);
}

void ce_ndisuio_link::impl::fail(DWORD e, const std::string& what, bool in_reader) {
    bool was_up = false;
    {
        std::lock_guard<std::mutex> g(mu);
        if (state == win::link_state::failed) return;
        was_up = state == win::link_state::up;
        state = win::link_state::failed;
        error = e;
        message = who() + ": " + what + ". The adapter was unbound, removed or stopped; open it again";
        counters.tx_errors += queue.clear();
        if (was_up) ++counters.link_downs;
    }
    ending = true;
    api.set_event(stop_ev);  // both threads end
    api.reset_event(up_ev);
    if (was_up) report_link(false);
    if (!in_reader) wake_reader();
}

// Until the reader has ended: IOCTL_CANCEL_READ, again every 50 ms (it may
// have been about to enter ReadFile when the first one came).
void ce_ndisuio_link::impl::wake_reader() {
    std::unique_lock<std::mutex> lk(exit_mu);
    while (!reader_done) {
        lk.unlock();
        api.ioctl(dev, nuio::ioctl_cancel_read, nullptr, 0, nullptr, 0);
        lk.lock();
        exit_cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return reader_done; });
    }
}

void ce_ndisuio_link::impl::read_loop() {
    win::read_backoff backoff;
    DWORD pause = 0;
    while (!ending) {
        const HANDLE hs[2] = {stop_ev, up_ev};
        if (api.wait_any(hs, 2, INFINITE) != WAIT_OBJECT_0 + 1) break;  // stop, failure, or a failed wait
        if (pause != 0) {
            if (api.wait_any(&stop_ev, 1, pause) != WAIT_TIMEOUT) break;
            pause = 0;
            continue;
        }
        const win::io_result r = api.read(dev, rxbuf.data(), static_cast<DWORD>(rxbuf.size()), nullptr);
        if (ending) break;
        if (r.ok() && r.bytes >= eth_header) {
            backoff.good();
            {
                std::lock_guard<std::mutex> g(mu);
                ++counters.frames_in;
                counters.bytes_in += r.bytes;
            }
            // The sink is set before this thread starts and cleared after it ends.
            if (sink != nullptr) sink->deliver(rxbuf.data(), r.bytes);
            continue;
        }
        if (r.ok() || r.error == ERROR_MORE_DATA || r.error == ERROR_INSUFFICIENT_BUFFER) {
            std::lock_guard<std::mutex> g(mu);
            ++(r.ok() ? counters.rx_short : counters.rx_truncated);
        } else if (r.error == ERROR_DEVICE_NOT_CONNECTED) {
            // NDISUIO fails reads this way while the cable is out: stop
            // reading and let the control thread ask the adapter.
            api.reset_event(up_ev);
            api.set_event(probe_ev);
        } else if (win::device_gone(r.error)) {
            fail(r.error, "reading a frame failed: " + win::error_text(r.error), true);
            break;
        } else {
            std::lock_guard<std::mutex> g(mu);
            ++counters.rx_errors;
            error = r.error;
        }
        pause = backoff.bad();
        if (pause != 0) {
            std::lock_guard<std::mutex> g(mu);
            ++counters.read_backoffs;
        }
    }
    threads.fetch_sub(1);
    {
        std::lock_guard<std::mutex> g(exit_mu);
        reader_done = true;
    }
    exit_cv.notify_all();
}

void ce_ndisuio_link::impl::control_loop() {
    while (!ending) {
        write_queued();
        if (ending) break;
        // Stop first; the rare events before transmit's, which may keep coming.
        HANDLE hs[4];
        DWORD n = 0;
        hs[n++] = stop_ev;
        hs[n++] = probe_ev;
        if (msg_queue != nullptr) hs[n++] = msg_queue;
        hs[n++] = tx_ev;
        bool down = false;
        {
            std::lock_guard<std::mutex> g(mu);
            down = state == win::link_state::link_down;
        }
        // Down: poll the media, unless a reset or power-down holds it down.
        const DWORD timeout = down && !held_down ? static_cast<DWORD>(opts.media_poll.count()) : INFINITE;
        const DWORD w = api.wait_any(hs, n, timeout);
        if (w == WAIT_OBJECT_0) break;
        if (w == WAIT_FAILED) {
            fail(ERROR_INVALID_HANDLE, "waiting for events failed");
            break;
        }
        if (w == WAIT_TIMEOUT || w == WAIT_OBJECT_0 + 1)
            probe();
        else if (msg_queue != nullptr && w == WAIT_OBJECT_0 + 2)
            read_notifications();
        // tx_ev: the frames are written at the top of the loop.
    }
    threads.fetch_sub(1);
}

void ce_ndisuio_link::impl::write_queued() {
    for (;;) {
        {
            std::lock_guard<std::mutex> g(mu);
            if (ending || !queue.pop(txbuf)) return;
        }
        const win::io_result r = api.write(dev, txbuf.data(), static_cast<DWORD>(txbuf.size()), nullptr);
        if (r.ok() && r.bytes == txbuf.size()) {
            std::lock_guard<std::mutex> g(mu);
            ++counters.frames_out;
            counters.bytes_out += txbuf.size();
            continue;
        }
        {
            std::lock_guard<std::mutex> g(mu);
            ++counters.tx_errors;
        }
        if (r.error == ERROR_DEVICE_NOT_CONNECTED) {
            api.set_event(probe_ev);  // the cable may be out: ask
        } else if (!r.ok() && win::device_gone(r.error)) {
            fail(r.error, "writing a frame failed: " + win::error_text(r.error));
            return;
        }
    }
}

void ce_ndisuio_link::impl::probe() {
    if (held_down) return;  // the adapter's answer means nothing now; its end notification asks again
    ULONG media = nuio::media_state_disconnected;
    const win::io_result r = query_oid(api, dev, nuio::oid_gen_media_connect_status, &media, sizeof media);
    if (!r.ok()) {
        fail(r.error, "asking for the media state (OID_GEN_MEDIA_CONNECT_STATUS) failed: " + win::error_text(r.error));
        return;
    }
    on_media(media == nuio::media_state_connected);
}

void ce_ndisuio_link::impl::on_media(bool up) {
    if (up && !check_mac()) up = false;
    if (ending) return;
    bool report = false;
    {
        std::lock_guard<std::mutex> g(mu);
        if (state == win::link_state::failed || state == win::link_state::stopped) return;
        if (up && state == win::link_state::link_down) {
            state = win::link_state::up;
            ++counters.link_ups;
            report = true;
        } else if (!up && state == win::link_state::up) {
            state = win::link_state::link_down;
            ++counters.link_downs;
            report = true;
        }
    }
    if (up)
        api.set_event(up_ev);
    else
        api.reset_event(up_ev);
    if (report) report_link(up);
}

// At a reconnection: is the adapter's address still the stack's?
bool ce_ndisuio_link::impl::check_mac() {
    std::uint8_t raw[6] = {};
    const win::io_result r = query_oid(api, dev, nuio::oid_802_3_current_address, raw, sizeof raw);
    if (!r.ok()) {
        fail(r.error, "reading the adapter's address (OID_802_3_CURRENT_ADDRESS) failed: " + win::error_text(r.error));
        return false;
    }
    mac_address now;
    std::copy(raw, raw + 6, now.bytes.begin());
    std::lock_guard<std::mutex> g(mu);
    if (!(now == hw_mac)) {
        ++counters.mac_changes;
        hw_mac = now;
    }
    const bool promiscuous = (opts.packet_filter & nuio::packet_type_promiscuous) != 0;
    if (!(now == stack_mac) && !promiscuous) {
        mac_mismatch = true;
        message = who() + ": the adapter's address changed from " + stack_mac.to_string() + " to " + now.to_string() +
                  "; the stack still uses the old one, which the adapter no longer receives: the link stays down "
                  "until the port is opened and attached again (or the address returns)";
        return false;
    }
    if (mac_mismatch) {
        mac_mismatch = false;
        message.clear();
    }
    return true;
}

void ce_ndisuio_link::impl::read_notifications() {
    alignas(nuio::device_notification) unsigned char buf[notification_max];
    for (;;) {
        const win::io_result r = api.read_message(msg_queue, buf, sizeof buf, 0);
        if (!r.ok()) return;  // empty (ERROR_TIMEOUT), or the queue is broken
        if (r.bytes < offsetof(nuio::device_notification, offset_to_status_buffer)) continue;
        nuio::device_notification n;
        std::memcpy(&n, buf, std::min<std::size_t>(sizeof n, r.bytes));
        on_notification(n);
        {
            std::lock_guard<std::mutex> g(mu);
            ++counters.notifications;  // after its work: a reader of the count sees what it caused
        }
        if (ending) return;
    }
}

void ce_ndisuio_link::impl::on_notification(const nuio::device_notification& n) {
    const std::wstring name(n.device_name, wcsnlen(n.device_name, MAX_PATH));
    if (!win::iequals(name, adapter_w)) return;  // another adapter's
    const DWORD t = n.notification_type;
    if (t & (nuio::notify_unbind | nuio::notify_adapter_removal)) {
        fail(ERROR_DEVICE_REMOVED,
             (t & nuio::notify_unbind) ? "NDISUIO unbound the adapter" : "the adapter was removed");
        return;
    }
    // A reset or power-down takes the link down until its end: the port
    // does not ask the adapter meanwhile (its answers then mean nothing, and
    // a powered-down adapter may fail the query).  Any other media
    // notification is a hint to ask, not a state to believe: a disconnect
    // read late, after the media poll has seen the cable come back, would
    // take a working link down again.
    if (t & (nuio::notify_reset_start | nuio::notify_device_power_down)) {
        held_down = true;
        on_media(false);
    } else if (t & (nuio::notify_reset_end | nuio::notify_device_power_up)) {
        held_down = false;
        probe();
    } else if (t & (nuio::notify_media_connect | nuio::notify_media_disconnect)) {
        probe();
    }
}

}  // namespace lwsp
