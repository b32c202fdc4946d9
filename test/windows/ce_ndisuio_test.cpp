// ports/ce_ndisuio against a fake NDISUIO (under Wine; mingw-w64 stands in
// for a CE toolchain): binding the adapter and its OIDs, frames byte for
// byte both ways, the stack answering ARP and ICMP echo through it, runts
// and truncated frames, media disconnect and reconnect by notification and
// by polling (and no reads while the cable is out), a device that goes
// away, a full transmit queue, a changed MAC address, and stop() waking the
// reader blocked in ReadFile.  Waits are on conditions, never fixed sleeps.
#include <catch2/catch.hpp>

#include <memory>

#include "fake_device.hpp"
#include "frames.hpp"
#include "lwsp/ce_ndisuio_link.hpp"
#include "lwsp/stack.hpp"
#include "nuio_defs.hpp"
#include "recording_sink.hpp"

using lwsp::ce_ndisuio_error;
using lwsp::ce_ndisuio_link;
using lwsp::win::link_state;
using namespace lwsp_test;
namespace nuio = lwsp::nuio;

namespace {

const lwsp::mac_address nic_mac{{0x00, 0x50, 0xf2, 0x00, 0x00, 0x01}};

struct ce_env {
    fake_device dev{fake_device::kind::ndisuio};
    ce_env() {
        dev.add_binding(L"NE20001");
        dev.add_binding(L"PCI\\RTL81391");
        dev.set_mac(nic_mac);
    }
    std::unique_ptr<ce_ndisuio_link> open(ce_ndisuio_link::options o = {}) {
        if (o.adapter.empty()) o.adapter = "NE20001";
        return ce_ndisuio_link::open(o, dev);
    }
};

std::string open_error(fake_device& dev, const ce_ndisuio_link::options& o) {
    try {
        ce_ndisuio_link::open(o, dev);
    } catch (const ce_ndisuio_error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool send(ce_ndisuio_link& l, const bytes& f) {
    const lwsp::frame_part part{f.data(), f.size()};
    return l.transmit(&part, 1, lwsp::frame_info{});
}

}  // namespace

TEST_CASE("ce_ndisuio: the control codes are CE's", "[ce_ndisuio]") {
    // Values as OpenNETCF's Smart Device Framework lists them for CE, and as
    // CTL_CODE(FILE_DEVICE_NETWORK, function, METHOD_BUFFERED,
    // FILE_ANY_ACCESS) gives them for nuiouser.h's function numbers.
    CHECK(nuio::ioctl_open_device == 0x120800);
    CHECK(nuio::ioctl_query_oid_value == 0x120804);
    CHECK(nuio::ioctl_set_ether_type == 0x120808);
    CHECK(nuio::ioctl_query_binding == 0x12080c);
    CHECK(nuio::ioctl_set_oid_value == 0x120814);
    CHECK(nuio::ioctl_request_notification == 0x12081c);
    CHECK(nuio::ioctl_cancel_notification == 0x120820);
    CHECK(nuio::ioctl_cancel_read == 0x120828);
    // The OID header on this target: the OID, the name pointer, the data.
    CHECK(nuio::oid_data_offset == 2 * sizeof(void*));
    CHECK(sizeof(nuio::device_notification) == 4 + MAX_PATH * 2 + 4 + 4);
}

TEST_CASE("ce_ndisuio: open binds the adapter, reads it and sets the filters", "[ce_ndisuio]") {
    ce_env env;
    env.dev.set_mtu(1492);
    auto l = env.open();
    CHECK(env.dev.opened_adapter() == L"NE20001");
    CHECK((env.dev.last_open_flags() & FILE_FLAG_OVERLAPPED) == 0);  // CE: blocking reads
    // The adapter's name goes without its NUL.
    bool found = false;
    for (const auto& c : env.dev.ioctls())
        if (c.code == nuio::ioctl_open_device) {
            found = true;
            CHECK(c.in.size() == 7 * sizeof(wchar_t));
        }
    CHECK(found);
    CHECK(l->mac() == nic_mac);
    CHECK(l->adapter_mac() == nic_mac);
    CHECK(l->mtu() == 1492);
    CHECK(env.dev.packet_filter() ==
          (nuio::packet_type_directed | nuio::packet_type_broadcast | nuio::packet_type_all_multicast));
    CHECK(env.dev.ether_types() == bytes{0x08, 0x00, 0x08, 0x06, 0x86, 0xdd});  // network byte order
    CHECK(env.dev.oid_queries(nuio::oid_gen_media_connect_status) == 1);
    CHECK(l->status().state == link_state::opened);
    l.reset();
    CHECK(env.dev.open_handles() == 0);

    ce_ndisuio_link::options o;
    o.ether_types.clear();  // an NDISUIO that filters nothing
    o.mtu = 1280;
    l = env.open(o);
    CHECK(env.dev.ioctl_count(nuio::ioctl_set_ether_type) == 1);  // only the first open's
    CHECK(l->mtu() == 1280);
}

TEST_CASE("ce_ndisuio: bad input fails with an error that says what to do, and leaks no handle", "[ce_ndisuio]") {
    ce_env env;
    ce_ndisuio_link::options o;

    o.adapter = "NE2000";
    std::string e = open_error(env.dev, o);
    CHECK(contains(e, "NDISUIO has no adapter 'NE2000'"));
    CHECK(contains(e, "'NE20001', 'PCI\\RTL81391'"));

    o.adapter = "";
    e = open_error(env.dev, o);
    CHECK(contains(e, "no adapter given"));
    CHECK(contains(e, "'NE20001'"));

    o.adapter = "NE20001";
    env.dev.set_open_error(ERROR_FILE_NOT_FOUND);  // no NDISUIO in the image
    e = open_error(env.dev, o);
    CHECK(contains(e, "cannot open NDISUIO's device UIO1:"));
    CHECK(contains(e, "HKLM\\Drivers\\BuiltIn\\NDISUIO"));
    env.dev.set_open_error(ERROR_SUCCESS);

    {
        auto first = env.open();  // NDISUIO gives an adapter to one application
        e = open_error(env.dev, o);
        CHECK(contains(e, "one application at a time"));
    }

    o.mac = lwsp::mac_address{{0x02, 0, 0, 0, 0, 9}};
    e = open_error(env.dev, o);
    CHECK(contains(e, "is not the adapter's address"));
    CHECK(contains(e, "PROMISCUOUS"));
    o.packet_filter |= nuio::packet_type_promiscuous;  // then any address will do
    CHECK(env.open(o)->mac() == *o.mac);
    o.mac.reset();
    o.packet_filter = nuio::packet_type_broadcast;
    CHECK(contains(open_error(env.dev, o), "include NDIS_PACKET_TYPE_DIRECTED"));
    o.packet_filter = 0x0d;

    env.dev.fail_ioctl(nuio::ioctl_set_ether_type, ERROR_INVALID_PARAMETER);
    e = open_error(env.dev, o);
    CHECK(contains(e, "refused the EtherTypes 0x800,0x806,0x86dd"));
    CHECK(contains(e, "0x8001"));

    o.mtu = 70000;
    CHECK(contains(open_error(env.dev, o), "mtu must be"));

    CHECK(env.dev.open_handles() == 0);
    CHECK(env.dev.misuse() == 0);
}

TEST_CASE("ce_ndisuio: frames cross byte for byte in both directions, runts and truncated frames are dropped",
          "[ce_ndisuio]") {
    ce_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    CHECK(l->status().state == link_state::up);
    CHECK(l->notifications());
    CHECK(env.dev.notifications_registered());

    env.dev.push_frame(bytes(6, 0xee));          // a runt
    env.dev.push_frame(pattern_frame(2000, 7));  // longer than the 1518-byte buffer
    const std::vector<bytes> in = {pattern_frame(60, 1), pattern_frame(1514, 2), pattern_frame(14, 3)};
    for (const auto& f : in) env.dev.push_frame(f);
    REQUIRE(sink.wait_frames(in.size()));
    CHECK(sink.frames() == in);
    auto s = l->stats();
    CHECK(s.rx_short == 1);
    CHECK(s.rx_truncated == 1);
    CHECK(s.frames_in == 3);

    std::vector<bytes> out;
    for (std::uint8_t i = 0; i < 4; ++i) {
        const bytes f = pattern_frame(200u + i * 400u, static_cast<std::uint8_t>(20 + i));
        const lwsp::frame_part parts[3] = {{f.data(), 6}, {f.data() + 6, 8}, {f.data() + 14, f.size() - 14}};
        REQUIRE(l->transmit(parts, 3, lwsp::frame_info{}));
        out.push_back(f);
    }
    REQUIRE(env.dev.wait_written(out.size(), std::chrono::seconds(20)));
    CHECK(env.dev.written() == out);
    CHECK(eventually([&] { return l->stats().frames_out == 4; }));
    CHECK(sink.link_changes().empty());
}

TEST_CASE("ce_ndisuio: the stack answers ARP and ICMP echo across NDISUIO", "[ce_ndisuio]") {
    ce_env env;
    std::shared_ptr<ce_ndisuio_link> l = env.open();
    lwsp::stack::options so;
    so.manual_clock = true;
    so.random_seed = 6;
    lwsp::stack st(so);
    lwsp::interface_config cfg;
    const lwsp::ipv4_address me{{192, 0, 2, 1}};
    cfg.ipv4 = lwsp::ipv4_config{me, lwsp::ipv4_address{{255, 255, 255, 0}}, lwsp::ipv4_address{}};
    st.attach(l, cfg);

    peer p;
    env.dev.push_frame(arp_request(p, me));
    REQUIRE(eventually([&] { return find_arp_reply(env.dev.written()) != nullptr; }));
    const bytes arp = *find_arp_reply(env.dev.written());
    CHECK(bytes(arp.begin(), arp.begin() + 6) == bytes(p.mac.bytes.begin(), p.mac.bytes.end()));
    CHECK(bytes(arp.begin() + 6, arp.begin() + 12) == bytes(nic_mac.bytes.begin(), nic_mac.bytes.end()));
    CHECK(bytes(arp.begin() + 28, arp.begin() + 32) == bytes(me.bytes.begin(), me.bytes.end()));

    const bytes payload = {'l', 'w', 's', 'p', ' ', 'c', 'e'};
    env.dev.push_frame(echo_request(p, nic_mac, me, 0x4321, 3, payload));
    REQUIRE(eventually([&] { return find_echo_reply(env.dev.written(), 3) != nullptr; }));
    const bytes reply = *find_echo_reply(env.dev.written(), 3);
    const std::uint8_t* ip = &reply[14];
    CHECK(inet_checksum(ip, 20) == 0);
    const std::size_t icmp_len = static_cast<std::size_t>(ip[2] << 8 | ip[3]) - 20;
    CHECK(inet_checksum(ip + 20, icmp_len) == 0);
    CHECK(bytes(ip + 28, ip + 28 + payload.size()) == payload);

    st.stop();
    CHECK(l->status().state == link_state::stopped);
    CHECK(env.dev.pending_reads() == 0);
}

TEST_CASE("ce_ndisuio: media disconnect and reconnect notifications reach the stack, nothing reads while it is out",
          "[ce_ndisuio]") {
    ce_env env;
    ce_ndisuio_link::options o;
    o.media_poll = std::chrono::hours(1);  // only the notifications can tell
    recording_sink sink;
    auto l = env.open(o);
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));

    const auto media_queries = [&] { return env.dev.oid_queries(nuio::oid_gen_media_connect_status); };
    const std::size_t queries = media_queries();
    env.dev.set_media(false);  // the blocked read fails, and a notification is posted
    REQUIRE(sink.wait_link_changes(1));
    CHECK(sink.link_changes() == std::vector<bool>{false});
    REQUIRE(eventually([&] { return l->status().state == link_state::link_down; }));
    CHECK_FALSE(send(*l, pattern_frame(60, 1)));
    CHECK(l->stats().tx_link_down == 1);
    // The failed read and the notification each make the port ask the
    // adapter, once: a notification is a hint, not a state to believe.
    REQUIRE(eventually([&] { return l->stats().notifications == 1 && media_queries() == queries + 2; }));

    // While the cable is out the reader waits: notifications for another
    // adapter come and are read, and neither a query nor a read is made for
    // them.
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 0; }));
    const std::size_t reads = env.dev.reads();
    for (int i = 0; i < 5; ++i) env.dev.post_notification(nuio::notify_media_connect, L"PCI\\RTL81391");
    env.dev.post_notification(nuio::notify_reset_end, L"NE20001");  // ours: the port asks again, still out
    REQUIRE(eventually([&] { return l->stats().notifications == 7; }));
    CHECK(media_queries() == queries + 3);
    CHECK(env.dev.reads() == reads);
    CHECK(l->status().state == link_state::link_down);

    env.dev.set_media(true);
    REQUIRE(sink.wait_link_changes(2));
    CHECK(sink.link_changes() == std::vector<bool>{false, true});
    const bytes f = pattern_frame(90, 4);
    env.dev.push_frame(f);
    REQUIRE(sink.wait_frames(1));
    CHECK(sink.frames().front() == f);
    CHECK(send(*l, f));
    const auto s = l->stats();
    CHECK(s.link_downs == 1);
    CHECK(s.link_ups == 1);
}

TEST_CASE("ce_ndisuio: a notification is a hint: the adapter's answer decides, except during a reset or power-down",
          "[ce_ndisuio]") {
    ce_env env;
    ce_ndisuio_link::options o;
    o.media_poll = std::chrono::milliseconds(10);  // polls while down, except during a reset or power-down
    recording_sink sink;
    auto l = env.open(o);
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));

    // A disconnect read late, while the cable is in: the port asks and the
    // link stays up.
    env.dev.post_notification(nuio::notify_media_disconnect, L"NE20001");
    REQUIRE(eventually([&] { return l->stats().notifications == 1; }));
    CHECK(l->status().state == link_state::up);
    CHECK(sink.link_changes().empty());

    // A reset takes the link down until it ends, whatever the adapter says
    // meanwhile; power the same.
    const DWORD start = GENERATE(nuio::notify_reset_start, nuio::notify_device_power_down);
    const DWORD end = start == nuio::notify_reset_start ? nuio::notify_reset_end : nuio::notify_device_power_up;
    const std::size_t queries = env.dev.oid_queries(nuio::oid_gen_media_connect_status);
    env.dev.post_notification(start, L"NE20001");
    REQUIRE(sink.wait_link_changes(1));
    CHECK(l->status().state == link_state::link_down);
    CHECK_FALSE(send(*l, pattern_frame(60, 1)));
    env.dev.post_notification(nuio::notify_media_connect, L"NE20001");  // not asked, not believed
    REQUIRE(eventually([&] { return l->stats().notifications == 3; }));
    CHECK(env.dev.oid_queries(nuio::oid_gen_media_connect_status) == queries);
    CHECK(l->status().state == link_state::link_down);
    env.dev.post_notification(end, L"NE20001");
    REQUIRE(sink.wait_link_changes(2));
    CHECK(sink.link_changes() == std::vector<bool>{false, true});
    CHECK(l->status().state == link_state::up);
    CHECK(send(*l, pattern_frame(60, 2)));
}

TEST_CASE("ce_ndisuio: without notifications the media state is polled while the link is down", "[ce_ndisuio]") {
    ce_env env;
    env.dev.set_message_queues(false);  // as on desktop Windows: no CE message queues
    ce_ndisuio_link::options o;
    o.media_poll = std::chrono::milliseconds(20);
    recording_sink sink;
    auto l = env.open(o);
    l->start(sink);
    CHECK_FALSE(l->notifications());
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));

    env.dev.set_media(false, false);  // the read fails ERROR_DEVICE_NOT_CONNECTED; the port asks
    REQUIRE(sink.wait_link_changes(1));
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 0; }));
    const std::size_t reads = env.dev.reads();
    const std::size_t queries = env.dev.oid_queries(nuio::oid_gen_media_connect_status);
    REQUIRE(eventually([&] { return env.dev.oid_queries(nuio::oid_gen_media_connect_status) >= queries + 3; }));
    CHECK(env.dev.reads() == reads);  // polling, not reading

    env.dev.set_media(true, false);
    REQUIRE(sink.wait_link_changes(2));
    CHECK(sink.link_changes() == std::vector<bool>{false, true});
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
}

TEST_CASE("ce_ndisuio: a device that goes away takes the link down and ends both threads", "[ce_ndisuio]") {
    const DWORD error = GENERATE(DWORD{ERROR_GEN_FAILURE}, DWORD{ERROR_INVALID_HANDLE},
                                 DWORD{ERROR_DEVICE_NOT_CONNECTED}, DWORD{ERROR_DEVICE_REMOVED});
    INFO("every call fails with " << error);
    ce_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    // ERROR_DEVICE_NOT_CONNECTED is also what a read says when the cable is
    // out: the port asks for the media state, and that fails too.
    env.dev.go_away(error);
    REQUIRE(sink.wait_link_changes(1));
    CHECK(sink.link_changes() == std::vector<bool>{false});
    REQUIRE(eventually([&] { return l->status().threads == 0; }));
    const auto st = l->status();
    CHECK(st.state == link_state::failed);
    CHECK(st.error == error);
    CHECK(contains(st.message, "open it again"));
    const std::size_t reads = env.dev.reads();
    CHECK_FALSE(send(*l, pattern_frame(60, 1)));
    l->stop();
    CHECK(env.dev.reads() == reads);
    CHECK(l->status().state == link_state::failed);
    CHECK(env.dev.message_queues_open() == 0);
}

TEST_CASE("ce_ndisuio: an unbind or removal notification ends the port, the reader is woken", "[ce_ndisuio]") {
    const DWORD note = GENERATE(nuio::notify_unbind, nuio::notify_adapter_removal);
    ce_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    env.dev.post_notification(note, L"ne20001");  // names compare without case
    REQUIRE(eventually([&] { return l->status().threads == 0; }));
    CHECK(l->status().state == link_state::failed);
    CHECK(l->status().error == ERROR_DEVICE_REMOVED);
    CHECK(sink.link_changes() == std::vector<bool>{false});
    CHECK(env.dev.pending_reads() == 0);
}

TEST_CASE("ce_ndisuio: a full transmit queue drops and counts, what was queued goes out in order", "[ce_ndisuio]") {
    ce_env env;
    ce_ndisuio_link::options o;
    o.max_queued_frames = 3;
    recording_sink sink;
    auto l = env.open(o);
    l->start(sink);
    env.dev.block_writes(true);
    std::vector<bytes> frames;
    for (std::uint8_t i = 0; i < 5; ++i) frames.push_back(pattern_frame(61u + i, i));
    REQUIRE(send(*l, frames[0]));
    REQUIRE(eventually([&] { return env.dev.writes() == 1; }));  // the control thread is in WriteFile with it
    for (std::size_t i = 1; i < 4; ++i) REQUIRE(send(*l, frames[i]));
    CHECK_FALSE(send(*l, frames[4]));
    CHECK(l->stats().tx_queue_full == 1);
    CHECK(l->stats().tx_queue_peak == 3);
    env.dev.block_writes(false);
    REQUIRE(env.dev.wait_written(4, std::chrono::seconds(20)));
    CHECK(env.dev.written() == std::vector<bytes>(frames.begin(), frames.begin() + 4));
}

TEST_CASE("ce_ndisuio: a changed MAC address keeps the link down until the address returns", "[ce_ndisuio]") {
    ce_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    env.dev.set_media(false);
    REQUIRE(sink.wait_link_changes(1));

    const lwsp::mac_address changed{{0x00, 0x50, 0xf2, 0x00, 0x00, 0x99}};
    env.dev.set_mac(changed);
    env.dev.set_media(true);  // reconnects with another address
    REQUIRE(eventually([&] { return l->stats().mac_changes == 1; }));
    CHECK(l->adapter_mac() == changed);
    CHECK(l->mac() == nic_mac);  // the stack's is the one it was attached with
    CHECK(l->status().state == link_state::link_down);
    CHECK(contains(l->status().message, "changed from 00:50:f2:00:00:01 to 00:50:f2:00:00:99"));
    CHECK(sink.link_changes() == std::vector<bool>{false});
    CHECK_FALSE(send(*l, pattern_frame(60, 1)));

    env.dev.set_media(false);
    env.dev.set_mac(nic_mac);
    env.dev.set_media(true);
    REQUIRE(sink.wait_link_changes(2));
    CHECK(sink.link_changes() == std::vector<bool>{false, true});
    CHECK(l->stats().mac_changes == 2);
    CHECK(l->status().message.empty());
    CHECK(send(*l, pattern_frame(60, 1)));
}

TEST_CASE("ce_ndisuio: stop() wakes the reader blocked in ReadFile and joins both threads", "[ce_ndisuio]") {
    ce_env env;
    recording_sink sink;
    auto l = env.open();
    l->start(sink);
    REQUIRE(eventually([&] { return env.dev.pending_reads() == 1; }));
    l->stop();
    CHECK(env.dev.pending_reads() == 0);
    CHECK(env.dev.ioctl_count(nuio::ioctl_cancel_read) >= 1);
    CHECK(env.dev.ioctl_count(nuio::ioctl_cancel_notification) == 1);
    CHECK_FALSE(env.dev.notifications_registered());
    CHECK(env.dev.message_queues_open() == 0);
    CHECK(l->status().threads == 0);
    CHECK(l->status().state == link_state::stopped);
    l->stop();
    l.reset();
    CHECK(env.dev.open_handles() == 0);
    CHECK(env.dev.misuse() == 0);
}
