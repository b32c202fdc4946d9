// The shared parts of the Windows ports (lwsp/win_device.hpp) on their own,
// and the real Win32 calls under Wine: there is no TAP-Windows6 adapter and
// no NDISUIO there, so both ports must say so, clearly, through the real
// registry and CreateFile.
#include <catch2/catch.hpp>

#include "lwsp/ce_ndisuio_link.hpp"
#include "lwsp/tap_windows_link.hpp"
#include "lwsp/win_device.hpp"

namespace win = lwsp::win;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("win_device: the transmit queue is bounded, keeps order and reuses buffers", "[win_device]") {
    win::frame_queue q(3);
    const std::uint8_t a[] = {1, 2, 3}, b[] = {4, 5}, c[] = {6}, d[] = {7, 8, 9, 10};
    const lwsp::frame_part two[2] = {{a, sizeof a}, {b, sizeof b}};
    CHECK(q.push(two, 2));
    const lwsp::frame_part pc{c, sizeof c}, pd{d, sizeof d};
    CHECK(q.push(&pc, 1));
    CHECK(q.push(&pd, 1));
    CHECK(q.full());
    CHECK_FALSE(q.push(&pc, 1));
    std::vector<std::uint8_t> out;
    REQUIRE(q.pop(out));
    CHECK(out == std::vector<std::uint8_t>{1, 2, 3, 4, 5});
    REQUIRE(q.pop(out));
    CHECK(out == std::vector<std::uint8_t>{6});
    CHECK(q.push(&pc, 1));
    CHECK(q.clear() == 2);
    CHECK(q.empty());
    CHECK_FALSE(q.pop(out));
}

TEST_CASE("win_device: bad reads pause in growing steps, a good one resets them", "[win_device]") {
    win::read_backoff b;
    std::vector<DWORD> pauses;
    for (int i = 0; i < 8 * 9; ++i)
        if (DWORD p = b.bad()) pauses.push_back(p);
    CHECK(pauses == std::vector<DWORD>{10, 20, 40, 80, 160, 320, 640, 1000, 1000});
    b.good();
    for (int i = 0; i < 7; ++i) CHECK(b.bad() == 0);
    CHECK(b.bad() == 10);
}

TEST_CASE("win_device: which errors mean the device is gone", "[win_device]") {
    for (DWORD e : {ERROR_INVALID_HANDLE, ERROR_GEN_FAILURE, ERROR_DEVICE_NOT_CONNECTED, ERROR_FILE_NOT_FOUND,
                    ERROR_DEVICE_REMOVED, ERROR_BAD_UNIT})
        CHECK(win::device_gone(e));
    for (DWORD e : {DWORD{ERROR_SUCCESS}, DWORD{ERROR_IO_PENDING}, DWORD{ERROR_MORE_DATA}, DWORD{ERROR_CRC},
                    DWORD{ERROR_OPERATION_ABORTED}, DWORD{ERROR_NOT_ENOUGH_MEMORY}})
        CHECK_FALSE(win::device_gone(e));
}

TEST_CASE("win_device: text conversions and error text", "[win_device]") {
    const std::string name = "Verbindung \xc3\xbc\xe2\x82\xac";  // ü €
    CHECK(win::widen(name) == L"Verbindung \u00fc\u20ac");
    CHECK(win::narrow(win::widen(name)) == name);
    CHECK(win::iequals(L"OpenVPN TAP", L"openvpn tap"));
    CHECK_FALSE(win::iequals(L"OpenVPN TAP", L"OpenVPN TAP2"));
    CHECK(contains(win::error_text(ERROR_FILE_NOT_FOUND), "(Win32 error 2)"));
    CHECK(std::string(win::to_string(win::link_state::link_down)) == "link down");
}

TEST_CASE("win_device: the real calls under Wine: no TAP-Windows6 adapter, no NDISUIO, no message queues",
          "[win_device]") {
    win::device_api& api = win::system_device_api();
    DWORD err = 0;
    HANDLE h = api.open(L"\\\\.\\Global\\{00000000-0000-0000-0000-000000000000}.tap", 0,
                        FILE_ATTRIBUTE_SYSTEM | FILE_FLAG_OVERLAPPED, err);
    CHECK(h == INVALID_HANDLE_VALUE);
    CHECK(err != ERROR_SUCCESS);
    CHECK(api.create_message_queue(16, 256) == nullptr);
    // The registry is read (the class key exists in any Windows), and no
    // adapter in it is TAP-Windows6.
    CHECK_FALSE(api.registry_subkeys(L"SYSTEM\\CurrentControlSet\\Control").empty());
    CHECK(api.registry_subkeys(L"SOFTWARE\\lwsp-no-such-key").empty());
    CHECK_FALSE(api.registry_string(L"SOFTWARE\\lwsp-no-such-key", L"x").has_value());
    CHECK(lwsp::tap_windows_link::list_adapters().empty());

    try {
        lwsp::tap_windows_link::open(lwsp::tap_windows_link::options{});
        FAIL("opened a TAP adapter under Wine");
    } catch (const lwsp::tap_windows_error& e) {
        CHECK(contains(e.what(), "no TAP-Windows6 adapter is installed"));
    }
    try {
        lwsp::ce_ndisuio_link::options o;
        o.adapter = "NE20001";
        lwsp::ce_ndisuio_link::open(o);
        FAIL("opened NDISUIO under Wine");
    } catch (const lwsp::ce_ndisuio_error& e) {
        CHECK(contains(e.what(), "cannot open NDISUIO's device UIO1:"));
    }
    // Events and waits are the real ones.
    HANDLE ev = api.create_event(true, false);
    REQUIRE(ev != nullptr);
    CHECK(api.wait_any(&ev, 1, 0) == WAIT_TIMEOUT);
    api.set_event(ev);
    CHECK(api.wait_any(&ev, 1, 0) == WAIT_OBJECT_0);
    api.reset_event(ev);
    CHECK(api.wait_any(&ev, 1, 0) == WAIT_TIMEOUT);
    api.close_event(ev);
}
