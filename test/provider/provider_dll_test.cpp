// lwsp.dll as ws2 uses it (Windows; runs under Wine): LoadLibrary, the
// WSPStartup export with an upcall table of the test's own, built on Win32
// events, APCs and handles (the role ws2 plays), then TCP through the
// returned table.  This program links no lwsp library: everything it
// reaches goes through the DLL, as for ws2.
//
// The DLL configures itself from LWSP_PROVIDER_CONFIG (a file this test
// writes): a UDP tunnel port whose far end is a UDP socket of this test on
// 127.0.0.1, so every frame the stack sends lands here and nowhere else;
// the TCP exchange runs over the stack's own loopback.
#include <winsock2.h>
#include <ws2spi.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#ifndef LWSP_DLL_PATH
#error "LWSP_DLL_PATH: the path of lwsp.dll (test/provider/CMakeLists.txt)"
#endif

namespace {

// ---- The test's upcalls: what ws2 would provide -----------------------------

std::atomic<int> g_events_created{0}, g_events_set{0}, g_apcs_queued{0}, g_handles_created{0}, g_handles_closed{0};
std::mutex g_handles_mu;
std::map<SOCKET, DWORD_PTR> g_handles;  // guarded by g_handles_mu
SOCKET g_next_handle = 0x4000;          // guarded by g_handles_mu

WSAEVENT WSPAPI up_create_event(LPINT err) {
    HANDLE h = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (h == nullptr) *err = WSA_NOT_ENOUGH_MEMORY;
    ++g_events_created;
    return h;
}
BOOL WSPAPI up_close_event(WSAEVENT e, LPINT err) {
    if (CloseHandle(e)) return TRUE;
    *err = WSA_INVALID_HANDLE;
    return FALSE;
}
BOOL WSPAPI up_set_event(WSAEVENT e, LPINT err) {
    ++g_events_set;
    if (SetEvent(e)) return TRUE;
    *err = WSA_INVALID_HANDLE;
    return FALSE;
}
BOOL WSPAPI up_reset_event(WSAEVENT e, LPINT err) {
    if (ResetEvent(e)) return TRUE;
    *err = WSA_INVALID_HANDLE;
    return FALSE;
}
int WSPAPI up_open_current_thread(LPWSATHREADID id, LPINT err) {
    HANDLE h = nullptr;
    if (!DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &h, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        *err = WSAENOBUFS;
        return SOCKET_ERROR;
    }
    id->ThreadHandle = h;
    id->Reserved = 0;
    return 0;
}
int WSPAPI up_close_thread(LPWSATHREADID id, LPINT err) {
    if (CloseHandle(id->ThreadHandle)) return 0;
    *err = WSA_INVALID_HANDLE;
    return SOCKET_ERROR;
}
int WSPAPI up_queue_apc(LPWSATHREADID id, LPWSAUSERAPC fn, DWORD_PTR ctx, LPINT err) {
    ++g_apcs_queued;
    if (QueueUserAPC(reinterpret_cast<PAPCFUNC>(fn), id->ThreadHandle, ctx)) return 0;
    *err = WSA_INVALID_HANDLE;
    return SOCKET_ERROR;
}
SOCKET WSPAPI up_create_socket_handle(DWORD, DWORD_PTR ctx, LPINT) {
    std::lock_guard<std::mutex> g(g_handles_mu);
    const SOCKET s = g_next_handle;
    g_next_handle += 4;
    g_handles[s] = ctx;
    ++g_handles_created;
    return s;
}
int WSPAPI up_query_socket_handle_context(SOCKET s, PDWORD_PTR ctx, LPINT err) {
    std::lock_guard<std::mutex> g(g_handles_mu);
    auto it = g_handles.find(s);
    if (it == g_handles.end()) {
        *err = WSAENOTSOCK;
        return SOCKET_ERROR;
    }
    *ctx = it->second;
    return 0;
}
int WSPAPI up_close_socket_handle(SOCKET s, LPINT err) {
    std::lock_guard<std::mutex> g(g_handles_mu);
    if (g_handles.erase(s) == 0) {
        *err = WSAENOTSOCK;
        return SOCKET_ERROR;
    }
    ++g_handles_closed;
    return 0;
}
int WSPAPI up_fd_isset(SOCKET s, fd_set* set) {
    for (u_int i = 0; i < set->fd_count; ++i)
        if (set->fd_array[i] == s) return 1;
    return 0;
}
int WSPAPI up_get_provider_path(LPGUID, WCHAR* path, LPINT len, LPINT) {
    if (*len > 0) path[0] = 0;
    return 0;
}
SOCKET WSPAPI up_modify_ifs_handle(DWORD, SOCKET proposed, LPINT) { return proposed; }
BOOL WSPAPI up_post_message(HWND, UINT, WPARAM, LPARAM) { return FALSE; }
int WSPAPI up_query_blocking_callback(DWORD, LPBLOCKINGCALLBACK* cb, PDWORD_PTR ctx, LPINT) {
    *cb = nullptr;
    *ctx = 0;
    return 0;
}

WSPUPCALLTABLE ws2_table() {
    WSPUPCALLTABLE t{};
    t.lpWPUCloseEvent = &up_close_event;
    t.lpWPUCloseSocketHandle = &up_close_socket_handle;
    t.lpWPUCreateEvent = &up_create_event;
    t.lpWPUCreateSocketHandle = &up_create_socket_handle;
    t.lpWPUFDIsSet = &up_fd_isset;
    t.lpWPUGetProviderPath = &up_get_provider_path;
    t.lpWPUModifyIFSHandle = &up_modify_ifs_handle;
    t.lpWPUPostMessage = &up_post_message;
    t.lpWPUQueryBlockingCallback = &up_query_blocking_callback;
    t.lpWPUQuerySocketHandleContext = &up_query_socket_handle_context;
    t.lpWPUQueueApc = &up_queue_apc;
    t.lpWPUResetEvent = &up_reset_event;
    t.lpWPUSetEvent = &up_set_event;
    t.lpWPUOpenCurrentThread = &up_open_current_thread;
    t.lpWPUCloseThread = &up_close_thread;
    return t;
}

// ---- The DLL ----------------------------------------------------------------

using last_error_fn = const char* (*)();

struct provider_dll {
    HMODULE dll = nullptr;
    LPWSPSTARTUP startup = nullptr;
    last_error_fn last_error = nullptr;
    std::string config_path;

    explicit provider_dll(const std::string& config_text) {
        char dir[MAX_PATH];
        GetTempPathA(MAX_PATH, dir);
        config_path = std::string(dir) + "lwsp-provider-test-" + std::to_string(GetCurrentProcessId()) + ".conf";
        FILE* f = std::fopen(config_path.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs(config_text.c_str(), f);
        std::fclose(f);
        REQUIRE(SetEnvironmentVariableA("LWSP_PROVIDER_CONFIG", config_path.c_str()));
        dll = LoadLibraryA(LWSP_DLL_PATH);
        REQUIRE(dll != nullptr);
        startup = reinterpret_cast<LPWSPSTARTUP>(reinterpret_cast<void*>(GetProcAddress(dll, "WSPStartup")));
        last_error =
            reinterpret_cast<last_error_fn>(reinterpret_cast<void*>(GetProcAddress(dll, "lwsp_provider_last_error")));
        REQUIRE(startup != nullptr);
        REQUIRE(last_error != nullptr);
    }
    ~provider_dll() {
        std::remove(config_path.c_str());
        // Not unloaded: a provider DLL stays loaded while its process runs
        // (ws2 unloads it at WSACleanup; the stack is already down then).
    }
    provider_dll(const provider_dll&) = delete;
    provider_dll& operator=(const provider_dll&) = delete;
};

// The tunnel's far end: a UDP socket of this test on 127.0.0.1 (host
// Winsock), which receives every frame the stack sends.
struct tunnel_peer {
    SOCKET s = INVALID_SOCKET;
    u_short port = 0;
    tunnel_peer() {
        WSADATA wsa;
        REQUIRE(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
        s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        REQUIRE(s != INVALID_SOCKET);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        int len = sizeof a;
        REQUIRE(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        DWORD timeout_ms = 30000;  // a guard against a hang, not a timing goal
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&timeout_ms), sizeof timeout_ms);
    }
    ~tunnel_peer() {
        closesocket(s);
        WSACleanup();
    }
    tunnel_peer(const tunnel_peer&) = delete;
    tunnel_peer& operator=(const tunnel_peer&) = delete;

    std::string config() const {
        return "# lwsp provider test\n"
               "port = udp_tunnel\n"
               "tunnel.local = 127.0.0.1:0\n"
               "tunnel.remote = 127.0.0.1:" +
               std::to_string(port) +
               "\n"
               "ipv4 = 192.0.2.1\n"
               "ipv6 = 2001:db8::1\n"
               "mac = 02:4c:57:53:50:01\n"
               "mtu = 1500\n";
    }

    // The next ARP frame the stack sends (other frames, IPv6 neighbour
    // discovery, are skipped); empty after the guard timeout.
    std::vector<unsigned char> next_arp() {
        for (;;) {
            std::vector<unsigned char> f(2048);
            const int n = recv(s, reinterpret_cast<char*>(f.data()), static_cast<int>(f.size()), 0);
            if (n <= 0) return {};
            f.resize(static_cast<std::size_t>(n));
            if (f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06) return f;
        }
    }
};

sockaddr_in loopback(u_short port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

}  // namespace

TEST_CASE("lwsp.dll: WSPStartup refuses an upcall table with a missing upcall (no fallback inside the DLL)",
          "[provider][dll]") {
    tunnel_peer peer;
    provider_dll dll(peer.config());
    WSPDATA data{};
    WSPPROC_TABLE procs{};
    CHECK(dll.startup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &procs) == WSAEINVAL);
    WSPUPCALLTABLE partial = ws2_table();
    partial.lpWPUQueueApc = nullptr;
    CHECK(dll.startup(MAKEWORD(2, 2), &data, nullptr, partial, &procs) == WSAEINVAL);
    CHECK(procs.lpWSPSocket == nullptr);
}

TEST_CASE("lwsp.dll: a configuration error fails WSPStartup with WSASYSNOTREADY and says why", "[provider][dll]") {
    provider_dll dll("port = udp_tunnel\nipv4 = 192.0.2.1\n");  // no tunnel.remote
    WSPDATA data{};
    WSPPROC_TABLE procs{};
    CHECK(dll.startup(MAKEWORD(2, 2), &data, nullptr, ws2_table(), &procs) == WSASYSNOTREADY);
    const std::string why = dll.last_error();
    INFO(why);
    CHECK(why.find("tunnel.remote") != std::string::npos);
}

TEST_CASE("lwsp.dll: WSPStartup brings the stack up from the configuration and TCP runs through ws2's upcalls",
          "[provider][dll]") {
    tunnel_peer peer;
    provider_dll dll(peer.config());
    WSPDATA data{};
    WSPPROC_TABLE p{};
    const WSPUPCALLTABLE up = ws2_table();
    REQUIRE(dll.startup(MAKEWORD(2, 2), &data, nullptr, up, &p) == 0);
    INFO(dll.last_error());
    CHECK(data.wVersion == MAKEWORD(2, 2));
    int err = 0;

    // The configured port carries the stack's frames: a datagram to an
    // on-link address draws an ARP request from 192.0.2.1 at the
    // configured MAC, out through the tunnel to this test's socket.
    {
        SOCKET u = p.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
        REQUIRE(u != INVALID_SOCKET);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(9);
        to.sin_addr.s_addr = htonl(0xc0000202);  // 192.0.2.2
        char byte = 'x';
        WSABUF b{1, &byte};
        DWORD sent = 0;
        REQUIRE(p.lpWSPSendTo(u, &b, 1, &sent, 0, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr,
                              nullptr, &err) == 0);
        const std::vector<unsigned char> arp = peer.next_arp();
        REQUIRE(arp.size() >= 42);
        const unsigned char mac[6] = {0x02, 0x4c, 0x57, 0x53, 0x50, 0x01};
        CHECK(std::memcmp(arp.data() + 6, mac, 6) == 0);  // Ethernet source
        CHECK((arp[20] == 0 && arp[21] == 1));            // an ARP request
        const unsigned char spa[4] = {192, 0, 2, 1}, tpa[4] = {192, 0, 2, 2};
        CHECK(std::memcmp(arp.data() + 28, spa, 4) == 0);  // from 192.0.2.1
        CHECK(std::memcmp(arp.data() + 38, tpa, 4) == 0);  // asking for 192.0.2.2
        REQUIRE(p.lpWSPCloseSocket(u, &err) == 0);
    }

    // Handles come from ws2 (the table's WPUCreateSocketHandle).
    const int created0 = g_handles_created, closed0 = g_handles_closed;
    SOCKET listener = p.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    REQUIRE(listener != INVALID_SOCKET);
    CHECK(g_handles_created == created0 + 1);
    sockaddr_in at = loopback(7000);
    REQUIRE(p.lpWSPBind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at, &err) == 0);
    REQUIRE(p.lpWSPListen(listener, 4, &err) == 0);

    SOCKET client = p.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    REQUIRE(client != INVALID_SOCKET);
    REQUIRE(p.lpWSPConnect(client, reinterpret_cast<sockaddr*>(&at), sizeof at, nullptr, nullptr, nullptr, nullptr,
                           &err) == 0);
    sockaddr_in from{};
    int from_len = sizeof from;
    SOCKET server = p.lpWSPAccept(listener, reinterpret_cast<sockaddr*>(&from), &from_len, nullptr, 0, &err);
    REQUIRE(server != INVALID_SOCKET);
    CHECK(g_handles_created == created0 + 3);

    // An overlapped receive whose completion ws2's WPUSetEvent signals.
    // (MSG_WAITALL is refused with overlapped I/O, as on Windows.)
    WSAEVENT ev = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    REQUIRE(ev != nullptr);
    std::vector<char> got(256 * 1024);
    WSABUF rb{static_cast<ULONG>(got.size()), got.data()};
    WSAOVERLAPPED ov{};
    ov.hEvent = ev;
    DWORD flags = 0, n = 0;
    const int sets_before = g_events_set;
    const int r = p.lpWSPRecv(server, &rb, 1, &n, &flags, &ov, nullptr, nullptr, &err);
    INFO("WSPRecv: " << r << ", error " << err);
    REQUIRE((r == 0 || err == WSA_IO_PENDING));

    // 256 KiB, a pattern, sent in one blocking call.
    std::vector<char> sent(got.size());
    for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i % 251);
    WSABUF sb{static_cast<ULONG>(sent.size()), sent.data()};
    DWORD wrote = 0;
    REQUIRE(p.lpWSPSend(client, &sb, 1, &wrote, 0, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(wrote == sent.size());

    REQUIRE(WaitForSingleObject(ev, 30000) == WAIT_OBJECT_0);
    DWORD done = 0, out_flags = 0;
    REQUIRE(p.lpWSPGetOverlappedResult(server, &ov, &done, FALSE, &out_flags, &err));
    CHECK(done > 0);
    CHECK(g_events_set > sets_before);  // the completion went through ws2's upcall
    // The rest with blocking receives; every byte in order.
    std::size_t have = done;
    while (have < got.size()) {
        WSABUF rest{static_cast<ULONG>(got.size() - have), got.data() + have};
        DWORD f = 0, m = 0;
        REQUIRE(p.lpWSPRecv(server, &rest, 1, &m, &f, nullptr, nullptr, nullptr, &err) == 0);
        REQUIRE(m > 0);
        have += m;
    }
    CHECK(std::memcmp(got.data(), sent.data(), got.size()) == 0);

    // A completion routine runs as an APC queued through ws2's WPUQueueApc,
    // when this thread waits alertably.
    static std::atomic<DWORD> routine_bytes{0};
    routine_bytes = 0;
    WSAOVERLAPPED ov2{};
    char small[5];
    WSABUF rb2{sizeof small, small};
    DWORD flags2 = 0;
    const int r2 = p.lpWSPRecv(
        server, &rb2, 1, &n, &flags2, &ov2, [](DWORD, DWORD bytes, LPWSAOVERLAPPED, DWORD) { routine_bytes = bytes; },
        nullptr, &err);
    REQUIRE((r2 == 0 || err == WSA_IO_PENDING));
    char hello[] = "hello";
    WSABUF hb{5, hello};
    REQUIRE(p.lpWSPSend(client, &hb, 1, &wrote, 0, nullptr, nullptr, nullptr, &err) == 0);
    const auto deadline = GetTickCount64() + 30000;
    while (routine_bytes == 0 && GetTickCount64() < deadline) SleepEx(1000, TRUE);
    CHECK(routine_bytes == 5);
    CHECK(std::memcmp(small, "hello", 5) == 0);
    CHECK(g_apcs_queued >= 1);

    // Graceful close both ways: the client's FIN arrives as end of stream.
    REQUIRE(p.lpWSPCloseSocket(client, &err) == 0);
    char one = 0;
    WSABUF ob{1, &one};
    DWORD flags3 = 0;
    REQUIRE(p.lpWSPRecv(server, &ob, 1, &n, &flags3, nullptr, nullptr, nullptr, &err) == 0);
    CHECK(n == 0);
    REQUIRE(p.lpWSPCloseSocket(server, &err) == 0);
    REQUIRE(p.lpWSPCloseSocket(listener, &err) == 0);
    CHECK(g_handles_closed == closed0 + 3);
    CloseHandle(ev);

    // The last cleanup stops the stack; the next startup brings it up again.
    REQUIRE(p.lpWSPCleanup(&err) == 0);
    CHECK(p.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err) == INVALID_SOCKET);
    CHECK(err == WSANOTINITIALISED);
    WSPPROC_TABLE again{};
    REQUIRE(dll.startup(MAKEWORD(2, 2), &data, nullptr, up, &again) == 0);
    SOCKET u = again.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
    CHECK(u != INVALID_SOCKET);
    REQUIRE(again.lpWSPCleanup(&err) == 0);
}
