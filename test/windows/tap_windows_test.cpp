// ports/tap_windows against a fake TAP-Windows6 adapter (under Wine): the
// adapter found by name or GUID in the registry, the driver's ioctls, frames
// byte for byte both ways, the stack answering ARP and ICMP echo through
// it, short and truncated reads, a device that goes away, media status, a
// full transmit queue, a changed MAC address, and stop() collecting what is
// pending.  Waits are on conditions (fake_device.hpp's eventually, the
// sink's waits), never fixed sleeps.
#include <catch2/catch.hpp>

#include <memory>

#include "fake_device.hpp"
#include "frames.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/tap_windows_link.hpp"
#include "recording_sink.hpp"
#include "tap_windows_defs.hpp"

using lwsp::tap_windows_error;
using lwsp::tap_windows_link;
using lwsp::win::link_state;
using namespace lwsp_test;

namespace {

const std::wstring guid_tap = L"{6D3A5B2C-1E0F-4A7B-9C8D-0123456789AB}";
const std::wstring guid_tap2 = L"{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}";
const lwsp::mac_address adapter_mac{{0x00, 0xff, 0x12, 0x34, 0x56, 0x78}};

struct tap_env {
    fake_device dev{fake_device::kind::tap};
    tap_env() {
        dev.add_network_adapter(L"0000", L"PCI\\VEN_8086&DEV_100E", L"{AAAAAAAA-0000-0000-0000-000000000001}",
                                L"Ethernet");
        dev.add_network_adapter(L"0007", L"tap0901", guid_tap, L"OpenVPN TAP");
        // The class key also has a Properties subkey, with no ComponentId.
        dev.registry_key(
            L"SYSTEM\\CurrentControlSet\\Control\\Class\\{4D36E972-E325-11CE-BFC1-08002BE10318}\\Properties");
        dev.set_path(L"\\\\.\\Global\\" + guid_tap + L".tap");
        dev.set_mac(adapter_mac);
    }
    std::unique_ptr<tap_windows_link> open(tap_windows_link::options o = {}) {
        if (o.adapter.empty()) o.adapter = "OpenVPN TAP";
        return tap_windows_link::open(o, dev);
    }
};

std::string open_error(fake_device& dev, const tap_windows_link::options& o) {
    try {
        tap_windows_link::open(o, dev);
    } catch (const tap_windows_error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("tap_windows: the adapter is found in the registry by its connection's name or its GUID", "[tap_windows]") {
    tap_env env;
    tap_windows_link::options none;
    const auto all = tap_windows_link::list_adapters(none, env.dev);
    REQUIRE(all.size() == 1);  // the Intel adapter and the Properties key are not TAP-Windows6
    CHECK(all[0].guid == lwsp::win::narrow(guid_tap));
    CHECK(all[0].name == "OpenVPN TAP");
    CHECK(all[0].component_id == "tap0901");

    for (const char* name : {"OpenVPN TAP", "openvpn tap", "  OpenVPN TAP  ", "{6d3a5b2c-1e0f-4a7b-9c8d-0123456789ab}",
                             "6D3A5B2C-1E0F-4A7B-9C8D-0123456789AB", ""}) {
        INFO("adapter=" << name);
        tap_windows_link::options o;
        o.adapter = name;
        auto l = tap_windows_link::open(o, env.dev);  // an empty name: the only TAP adapter
        CHECK(l->adapter().guid == lwsp::win::narrow(guid_tap));
        CHECK(l->adapter().name == "OpenVPN TAP");
        CHECK((env.dev.last_open_flags() & FILE_FLAG_OVERLAPPED) != 0);
    }
    CHECK(env.dev.open_handles() == 0);

    // Another install's ComponentId ("root\tap0901") counts too.
    env.dev.add_network_adapter(L"0012", L"root\\tap0901", guid_tap2, L"Second TAP");
    CHECK(tap_windows_link::list_adapters(none, env.dev).size() == 2);
}

TEST_CASE("tap_windows: bad input fails with an error that says what to do, and leaks no handle", "[tap_windows]") {
    tap_env env;
    tap_windows_link::options o;

    o.adapter = "Nope";
    std::string e = open_error(env.dev, o);
    CHECK(contains(e, "no TAP-Windows6 adapter named 'Nope'"));
    CHECK(contains(e, "'OpenVPN TAP' " + lwsp::win::narrow(guid_tap)));  // what there is

    o.adapter = "";
    env.dev.add_network_adapter(L"0012", L"tap0901", guid_tap2, L"Second TAP");
    e = open_error(env.dev, o);
    CHECK(contains(e, "several TAP-Windows6 adapters"));
    CHECK(contains(e, "'Second TAP'"));

    {
        fake_device bare(fake_device::kind::tap);  // nothing installed
        e = open_error(bare, o);
        CHECK(contains(e, "no TAP-Windows6 adapter is installed"));
        CHECK(contains(e, "install TAP-Windows6"));
    }

    o.adapter = lwsp::win::narrow(guid_tap2);  // in the registry, but no device: disabled
    e = open_error(env.dev, o);
    CHECK(contains(e, "disabled"));
    CHECK(contains(e, "'Second TAP'"));

    o.adapter = "OpenVPN TAP";
    env.dev.set_open_error(ERROR_ACCESS_DENIED);
    e = open_error(env.dev, o);
    CHECK(contains(e, "in use"));
    CHECK(contains(e, "one program"));
    env.dev.set_open_error(ERROR_SUCCESS);

    o.mtu = 100;
    CHECK(contains(open_error(env.dev, o), "mtu must be"));
    o.mtu = 0;
    o.writes_in_flight = 0;
    CHECK(contains(open_error(env.dev, o), "writes_in_flight"));
    o.writes_in_flight = 8;
    o.mac = adapter_mac;
    CHECK(contains(open_error(env.dev, o), "is the adapter's own"));
    o.mac.reset();

    env.dev.fail_ioctl(lwsp::tapwin::ioctl_get_mac, ERROR_GEN_FAILURE);
    CHECK(contains(open_error(env.dev, o), "TAP_WIN_IOCTL_GET_MAC failed"));

    CHECK(env.dev.open_handles() == 0);
    CHECK(env.dev.misuse() == 0);
}

TEST_CASE("tap_windows: open reads the adapter and plugs the cable in, destruction unplugs it", "[tap_windows]") {
    tap_env env;
    env.dev.set_version(9, 27, 0);
    env.dev.set_mtu(1400);
    {
        auto l = env.open();
        CHECK(l->driver_version() == std::array<std::uint32_t, 3>{9, 27, 0});
        CHECK(l->mtu() == 1400);
        CHECK(l->adapter_mac() == adapter_mac);
        // Not Windows' address: locally administered, last bit flipped.
        CHECK(l->mac() == lwsp::mac_address{{0x02, 0xff, 0x12, 0x34, 0x56, 0x79}});
        CHECK(env.dev.media_status() == ULONG{1});
        CHECK(l->status().state == link_state::opened);
    }
    CHECK(env.dev.media_status() == ULONG{0});
    CHECK(env.dev.open_handles() == 0);

    tap_windows_link::options o;
    o.mac = lwsp::mac_address{{0x02, 0x4c, 0x57, 0x53, 0x50, 0x01}};
    o.mtu = 1280;
    auto l = env.open(o);
    CHECK(l->mac() == *o.mac);
    CHECK(l->mtu() == 1280);
}

TEST_CASE("tap_windows: frames cross byte for byte in both directions", "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    CHECK(l->status().state == link_state::up);

    const std::vector<bytes> in = {pattern_frame(60, 1), pattern_frame(1514, 2), pattern_frame(14, 3),
                                   pattern_frame(42, 4)};
    for (const auto& f : in) env.dev.push_frame(f);
    REQUIRE(sink.wait_frames(in.size()));
    CHECK(sink.frames() == in);

    // Frames from the stack come in parts (headers, payload); the device
    // gets them whole, in order.
    std::vector<bytes> out;
    for (std::uint8_t i = 0; i < 5; ++i) {
        const bytes f = pattern_frame(100u + i * 300u, static_cast<std::uint8_t>(10 + i));
        const lwsp::frame_part parts[2] = {{f.data(), 14}, {f.data() + 14, f.size() - 14}};
        REQUIRE(l->transmit(parts, 2, lwsp::frame_info{}));
        out.push_back(f);
    }
    REQUIRE(env.dev.wait_written(out.size(), std::chrono::seconds(20)));
    CHECK(env.dev.written() == out);

    const auto s = l->stats();
    CHECK(s.frames_in == in.size());
    CHECK(s.bytes_in == 60 + 1514 + 14 + 42);
    CHECK(eventually([&] { return l->stats().frames_out == out.size(); }));
    CHECK(sink.link_changes().empty());  // up from the start, never changed

    l->stop();
    CHECK(l->status().state == link_state::stopped);
    CHECK(l->status().threads == 0);
    CHECK(env.dev.pending_reads() == 0);
    CHECK(env.dev.misuse() == 0);
    const lwsp::frame_part late{out[0].data(), out[0].size()};
    CHECK_FALSE(l->transmit(&late, 1, lwsp::frame_info{}));
}

TEST_CASE("tap_windows: the stack answers ARP and ICMP echo across the adapter", "[tap_windows]") {
    tap_env env;
    std::shared_ptr<tap_windows_link> l = env.open();
    lwsp::stack::options so;
    so.manual_clock = true;
    so.random_seed = 14;
    lwsp::stack st(so);
    lwsp::interface_config cfg;
    const lwsp::ipv4_address me{{192, 0, 2, 1}};
    cfg.ipv4 = lwsp::ipv4_config{me, lwsp::ipv4_address{{255, 255, 255, 0}}, lwsp::ipv4_address{}};
    st.attach(l, cfg);

    peer p;
    env.dev.push_frame(arp_request(p, me));
    REQUIRE(eventually([&] { return find_arp_reply(env.dev.written()) != nullptr; }));
    const bytes arp = *find_arp_reply(env.dev.written());
    const lwsp::mac_address mine = l->mac();
    CHECK(bytes(arp.begin(), arp.begin() + 6) == bytes(p.mac.bytes.begin(), p.mac.bytes.end()));
    CHECK(bytes(arp.begin() + 6, arp.begin() + 12) == bytes(mine.bytes.begin(), mine.bytes.end()));
    CHECK(bytes(arp.begin() + 22, arp.begin() + 28) == bytes(mine.bytes.begin(), mine.bytes.end()));
    CHECK(bytes(arp.begin() + 28, arp.begin() + 32) == bytes(me.bytes.begin(), me.bytes.end()));
    CHECK(bytes(arp.begin() + 32, arp.begin() + 38) == bytes(p.mac.bytes.begin(), p.mac.bytes.end()));
    CHECK(bytes(arp.begin() + 38, arp.begin() + 42) == bytes(p.ip.bytes.begin(), p.ip.bytes.end()));

    const bytes payload = {'l', 'w', 's', 'p', ' ', 't', 'a', 'p', '6'};
    env.dev.push_frame(echo_request(p, l->mac(), me, 0x1234, 7, payload));
    REQUIRE(eventually([&] { return find_echo_reply(env.dev.written(), 7) != nullptr; }));
    const bytes reply = *find_echo_reply(env.dev.written(), 7);
    const std::uint8_t* ip = &reply[14];
    CHECK(inet_checksum(ip, 20) == 0);
    CHECK(bytes(ip + 12, ip + 16) == bytes(me.bytes.begin(), me.bytes.end()));
    CHECK(bytes(ip + 16, ip + 20) == bytes(p.ip.bytes.begin(), p.ip.bytes.end()));
    const std::size_t icmp_len = static_cast<std::size_t>(ip[2] << 8 | ip[3]) - 20;
    CHECK(icmp_len == 8 + payload.size());
    CHECK(inet_checksum(ip + 20, icmp_len) == 0);
    CHECK(bytes(ip + 28, ip + 28 + payload.size()) == payload);

    st.stop();  // detaches: the link stops
    CHECK(l->status().state == link_state::stopped);
    CHECK(env.dev.pending_reads() == 0);
}

TEST_CASE("tap_windows: short reads and truncated frames are counted and dropped, frames after them arrive",
          "[tap_windows]") {
    tap_env env;
    recording_sink sink;  // outlives the link, whose thread delivers to it
    auto l = env.open();  // MTU 1500: a 1518-byte read buffer
    l->start(sink);
    env.dev.push_frame(bytes());                 // nothing
    env.dev.push_frame(bytes(5, 0xee));          // less than an Ethernet header
    env.dev.push_frame(bytes(13, 0xee));         // one byte short of one
    env.dev.push_frame(pattern_frame(3000, 9));  // longer than the buffer: ERROR_MORE_DATA
    const bytes good = pattern_frame(64, 5);
    env.dev.push_frame(good);
    REQUIRE(sink.wait_frames(1));
    CHECK(sink.frames() == std::vector<bytes>{good});
    const auto s = l->stats();
    CHECK(s.rx_short == 3);
    CHECK(s.rx_truncated == 1);
    CHECK(s.frames_in == 1);
    CHECK(l->status().state == link_state::up);
}

TEST_CASE("tap_windows: a device that goes away takes the link down and ends the I/O thread", "[tap_windows]") {
    const DWORD error = GENERATE(DWORD{ERROR_DEVICE_NOT_CONNECTED}, DWORD{ERROR_GEN_FAILURE},
                                 DWORD{ERROR_INVALID_HANDLE}, DWORD{ERROR_OPERATION_ABORTED});
    INFO("read error " << error);
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));

    env.dev.push_read_result(error);  // the pending read fails
    REQUIRE(sink.wait_link_changes(1));
    CHECK(sink.link_changes() == std::vector<bool>{false});
    REQUIRE(eventually([&] { return l->status().threads == 0; }));  // ended, not spinning
    const auto st = l->status();
    CHECK(st.state == link_state::failed);
    CHECK(st.error == error);
    CHECK(contains(st.message, "open it again"));
    const std::size_t reads = env.dev.reads();
    CHECK(env.dev.pending_reads() == 0);

    const bytes f = pattern_frame(60, 1);
    const lwsp::frame_part part{f.data(), f.size()};
    CHECK_FALSE(l->transmit(&part, 1, lwsp::frame_info{}));
    CHECK(l->stats().tx_link_down == 1);
    CHECK(l->stats().link_downs == 1);

    l->stop();  // returns at once: the thread has ended
    CHECK(l->status().state == link_state::failed);
    CHECK(env.dev.reads() == reads);
    CHECK(env.dev.misuse() == 0);
}

TEST_CASE("tap_windows: a device that fails every call ends the port too", "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    env.dev.go_away(ERROR_DEVICE_REMOVED);
    REQUIRE(eventually([&] { return l->status().threads == 0; }));
    CHECK(l->status().state == link_state::failed);
    CHECK(sink.link_changes() == std::vector<bool>{false});
    l.reset();  // the media ioctl fails on a device that is gone: no matter
    CHECK(env.dev.open_handles() == 0);
}

TEST_CASE("tap_windows: repeated read errors pause reading instead of spinning", "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    // 40 reads that fail at once (not an error that ends the device) and 16
    // empty ones: bursts of 8, each followed by a pause (10 ms, 20, 40, ...).
    for (int i = 0; i < 40; ++i) env.dev.push_read_result(ERROR_CRC);
    REQUIRE(eventually([&] { return l->stats().rx_errors == 40; }));
    CHECK(l->stats().read_backoffs == 5);
    for (int i = 0; i < 16; ++i) env.dev.push_frame(bytes());
    REQUIRE(eventually([&] { return l->stats().rx_short == 16; }));
    CHECK(l->stats().read_backoffs == 7);
    // One read per result, plus the one pending now: nothing in between.
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    CHECK(env.dev.reads() == 40 + 16 + 1);
    // The device still works afterwards.
    const bytes good = pattern_frame(80, 3);
    env.dev.push_frame(good);
    REQUIRE(sink.wait_frames(1));
    CHECK(sink.frames().back() == good);
    CHECK(l->status().state == link_state::up);
}

TEST_CASE("tap_windows: unplugging and plugging the virtual cable reaches the stack", "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    const bytes f = pattern_frame(60, 1);
    const lwsp::frame_part part{f.data(), f.size()};

    REQUIRE(l->set_media(false));
    CHECK(env.dev.media_status() == ULONG{0});
    CHECK(sink.link_changes() == std::vector<bool>{false});
    CHECK(l->status().state == link_state::link_down);
    CHECK_FALSE(l->transmit(&part, 1, lwsp::frame_info{}));
    CHECK(l->stats().tx_link_down == 1);

    REQUIRE(l->set_media(true));
    CHECK(env.dev.media_status() == ULONG{1});
    CHECK(sink.link_changes() == std::vector<bool>{false, true});
    CHECK(l->transmit(&part, 1, lwsp::frame_info{}));
    CHECK(env.dev.wait_written(1, std::chrono::seconds(20)));
    const auto s = l->stats();
    CHECK(s.link_downs == 1);
    CHECK(s.link_ups == 1);

    // A device that refuses says so and changes nothing.
    env.dev.fail_ioctl(lwsp::tapwin::ioctl_set_media_status, ERROR_GEN_FAILURE);
    CHECK_FALSE(l->set_media(false));
    CHECK(contains(l->status().message, "SET_MEDIA_STATUS failed"));
    CHECK(l->status().state == link_state::up);
}

TEST_CASE("tap_windows: a full transmit queue drops and counts, what was queued goes out in order", "[tap_windows]") {
    tap_env env;
    tap_windows_link::options o;
    o.writes_in_flight = 2;
    o.max_queued_frames = 4;
    recording_sink sink;
    auto l = env.open(o);
    l->start(sink);
    env.dev.block_writes(true);

    std::vector<bytes> frames;
    for (std::uint8_t i = 0; i < 7; ++i) frames.push_back(pattern_frame(60u + i, i));
    auto send = [&](std::size_t i) {
        const lwsp::frame_part part{frames[i].data(), frames[i].size()};
        return l->transmit(&part, 1, lwsp::frame_info{});
    };
    // Two frames fill the writes in flight (pending at the device) ...
    REQUIRE(send(0));
    REQUIRE(send(1));
    REQUIRE(eventually([&] { return env.dev.writes() == 2; }));
    // ... four more fill the queue, and the next is dropped.
    for (std::size_t i = 2; i < 6; ++i) REQUIRE(send(i));
    CHECK_FALSE(send(6));
    auto s = l->stats();
    CHECK(s.tx_queue_full == 1);
    CHECK(s.tx_queue_peak == 4);

    env.dev.block_writes(false);
    REQUIRE(env.dev.wait_written(6, std::chrono::seconds(20)));
    CHECK(env.dev.written() == std::vector<bytes>(frames.begin(), frames.begin() + 6));
    CHECK(eventually([&] { return l->stats().frames_out == 6; }));
    CHECK(l->stats().tx_errors == 0);
}

TEST_CASE("tap_windows: a changed MAC address restarts the adapter: the port fails and a new open uses the new one",
          "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    const lwsp::mac_address old_stack_mac = l->mac();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    // Windows halts the adapter to apply a new "MAC Address": the driver
    // aborts the read the port had pending.
    env.dev.push_read_result(ERROR_OPERATION_ABORTED);
    REQUIRE(eventually([&] { return l->status().state == link_state::failed; }));
    l.reset();

    const lwsp::mac_address changed{{0x00, 0xff, 0xaa, 0xbb, 0xcc, 0xdd}};
    env.dev.set_mac(changed);
    l = env.open();
    CHECK(l->adapter_mac() == changed);
    CHECK(l->mac() == lwsp::mac_address{{0x02, 0xff, 0xaa, 0xbb, 0xcc, 0xdc}});
    CHECK_FALSE(l->mac() == old_stack_mac);
}

TEST_CASE("tap_windows: stop() cancels and collects the pending read, the link starts again", "[tap_windows]") {
    tap_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    l->stop();
    CHECK(env.dev.pending_reads() == 0);
    CHECK(l->status().threads == 0);
    CHECK(l->status().state == link_state::stopped);
    l->stop();  // idempotent

    recording_sink again;
    l->start(again);
    const bytes f = pattern_frame(70, 8);
    env.dev.push_frame(f);
    REQUIRE(again.wait_frames(1));
    CHECK(again.frames().front() == f);
    CHECK(sink.frames().empty());
    l.reset();
    CHECK(env.dev.open_handles() == 0);
    CHECK(env.dev.misuse() == 0);
}
