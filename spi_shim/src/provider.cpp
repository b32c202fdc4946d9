// Provider-wide state: WSPStartup/WSPCleanup, the entry checks shared by
// every WSP function, handles, the blocking wait, sockaddr conversions.
#include "provider.hpp"

#include <cstring>

#include "lwsp/lwsp.h"
#include "lwsp/upcalls.h"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

namespace {

// The blocking call the current thread is in (nullptr if none).
struct blocking_frame {
    bool canceled = false;
};
LWSP_THREAD_STORAGE blocking_frame* t_frame = nullptr;
LWSP_THREAD_STORAGE bool t_in_hook = false;

const char16_t k_description[] = u"lwsp: Winsock SPI over lwIP (TCP/UDP, IPv4/IPv6)";

// WSPSelect's timeout is 'const struct timeval*' in the SDK and in lwsp's own
// declarations; mingw-w64's ws2spi.h declares it 'const PTIMEVAL' (a const
// pointer to a mutable timeval).  The table entry takes whichever the
// headers declare and forwards to the one WSPSelect.
template <typename Entry>
struct select_entry;
template <typename Timeout>
struct select_entry<int(WSPAPI*)(int, fd_set*, fd_set*, fd_set*, Timeout, LPINT)> {
    static int WSPAPI call(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, Timeout timeout,
                           LPINT lpErrno) {
        return WSPSelect(nfds, readfds, writefds, exceptfds, timeout, lpErrno);
    }
};

void fill_proc_table(WSPPROC_TABLE& t) {
    t.lpWSPAccept = &WSPAccept;
    t.lpWSPAddressToString = &WSPAddressToString;
    t.lpWSPAsyncSelect = &WSPAsyncSelect;
    t.lpWSPBind = &WSPBind;
    t.lpWSPCancelBlockingCall = &WSPCancelBlockingCall;
    t.lpWSPCleanup = &WSPCleanup;
    t.lpWSPCloseSocket = &WSPCloseSocket;
    t.lpWSPConnect = &WSPConnect;
    t.lpWSPDuplicateSocket = &WSPDuplicateSocket;
    t.lpWSPEnumNetworkEvents = &WSPEnumNetworkEvents;
    t.lpWSPEventSelect = &WSPEventSelect;
    t.lpWSPGetOverlappedResult = &WSPGetOverlappedResult;
    t.lpWSPGetPeerName = &WSPGetPeerName;
    t.lpWSPGetSockName = &WSPGetSockName;
    t.lpWSPGetSockOpt = &WSPGetSockOpt;
    t.lpWSPGetQOSByName = &WSPGetQOSByName;
    t.lpWSPIoctl = &WSPIoctl;
    t.lpWSPJoinLeaf = &WSPJoinLeaf;
    t.lpWSPListen = &WSPListen;
    t.lpWSPRecv = &WSPRecv;
    t.lpWSPRecvDisconnect = &WSPRecvDisconnect;
    t.lpWSPRecvFrom = &WSPRecvFrom;
    t.lpWSPSelect = &select_entry<LPWSPSELECT>::call;
    t.lpWSPSend = &WSPSend;
    t.lpWSPSendDisconnect = &WSPSendDisconnect;
    t.lpWSPSendTo = &WSPSendTo;
    t.lpWSPSetSockOpt = &WSPSetSockOpt;
    t.lpWSPShutdown = &WSPShutdown;
    t.lpWSPSocket = &WSPSocket;
    t.lpWSPStringToAddress = &WSPStringToAddress;
}

// How many of the 15 upcalls `t` has.
int upcalls_present(const WSPUPCALLTABLE& t) {
    const void* const members[] = {
        reinterpret_cast<const void*>(t.lpWPUCloseEvent),
        reinterpret_cast<const void*>(t.lpWPUCloseSocketHandle),
        reinterpret_cast<const void*>(t.lpWPUCreateEvent),
        reinterpret_cast<const void*>(t.lpWPUCreateSocketHandle),
        reinterpret_cast<const void*>(t.lpWPUFDIsSet),
        reinterpret_cast<const void*>(t.lpWPUGetProviderPath),
        reinterpret_cast<const void*>(t.lpWPUModifyIFSHandle),
        reinterpret_cast<const void*>(t.lpWPUPostMessage),
        reinterpret_cast<const void*>(t.lpWPUQueryBlockingCallback),
        reinterpret_cast<const void*>(t.lpWPUQuerySocketHandleContext),
        reinterpret_cast<const void*>(t.lpWPUQueueApc),
        reinterpret_cast<const void*>(t.lpWPUResetEvent),
        reinterpret_cast<const void*>(t.lpWPUSetEvent),
        reinterpret_cast<const void*>(t.lpWPUOpenCurrentThread),
        reinterpret_cast<const void*>(t.lpWPUCloseThread),
    };
    int n = 0;
    for (const void* m : members) n += m != nullptr ? 1 : 0;
    return n;
}
constexpr int k_upcall_count = 15;

// ws2's table, its empty members filled from `fill` (lwsp's own upcalls).
WSPUPCALLTABLE with_fallback(const WSPUPCALLTABLE& given, lwsp_upcalls_fill fill) {
    WSPUPCALLTABLE t{};
    fill(&t);
#define LWSP_TAKE(member) \
    if (given.member != nullptr) t.member = given.member
    LWSP_TAKE(lpWPUCloseEvent);
    LWSP_TAKE(lpWPUCloseSocketHandle);
    LWSP_TAKE(lpWPUCreateEvent);
    LWSP_TAKE(lpWPUCreateSocketHandle);
    LWSP_TAKE(lpWPUFDIsSet);
    LWSP_TAKE(lpWPUGetProviderPath);
    LWSP_TAKE(lpWPUModifyIFSHandle);
    LWSP_TAKE(lpWPUPostMessage);
    LWSP_TAKE(lpWPUQueryBlockingCallback);
    LWSP_TAKE(lpWPUQuerySocketHandleContext);
    LWSP_TAKE(lpWPUQueueApc);
    LWSP_TAKE(lpWPUResetEvent);
    LWSP_TAKE(lpWPUSetEvent);
    LWSP_TAKE(lpWPUOpenCurrentThread);
    LWSP_TAKE(lpWPUCloseThread);
#undef LWSP_TAKE
    return t;
}

// Where a table's missing upcalls come from, and how the provider brings a
// stack up when WSPStartup finds none (lwsp_set_fallback_upcalls,
// lwsp_set_provider_bring_up).  Off Windows there is no ws2, so lwsp's own
// upcalls (the lwsp::upcalls library) are the fallback from the start; on
// Windows and CE there is none until the embedder asks.
struct provider_hooks {
    // WSPStartup and WSPCleanup one at a time, so that a bring-up and a
    // tear-down never overlap and two first startups bring up one stack.
    // Taken first, before the provider's lock and the core lock (which the
    // bring-up's stack takes): never while holding either.
    mutex startup_mu;
    bool brought_up LWSP_GUARDED_BY(startup_mu) = false;  // bring_up started the running stack
    mutex mu;                                             // a leaf
#if defined(_WIN32)
    lwsp_upcalls_fill fallback LWSP_GUARDED_BY(mu) = nullptr;
#else
    lwsp_upcalls_fill fallback LWSP_GUARDED_BY(mu) = &lwsp_default_upcalls;
#endif
    int (*bring_up)() LWSP_GUARDED_BY(mu) = nullptr;
    void (*tear_down)() LWSP_GUARDED_BY(mu) = nullptr;
};

provider_hooks& hooks() {
    static auto* const h = new provider_hooks;  // never freed, as provider()
    return *h;
}

}  // namespace

provider_state& provider() {
    // Never destroyed: sockets still open at exit must not run endpoint
    // destructors after the stack is gone.
    static provider_state* p = new provider_state;
    return *p;
}

stack& the_stack() { return *stack::current(); }

bool in_blocking_hook() { return t_in_hook; }

int check_entry() {
    if (!provider().started()) return WSANOTINITIALISED;
    if (t_in_hook) return WSAEINPROGRESS;
    stack* st = stack::current();
    if (st == nullptr || st->stopped()) return WSAENETDOWN;
    return 0;
}

int find_socket(SOCKET s, std::shared_ptr<wsp_socket>& out) {
    provider_state& p = provider();
    provider_config cfg;
    {
        lock_guard g(p.mu);
        if (p.startups == 0) return WSANOTINITIALISED;
        cfg = p.config;
    }
    if (t_in_hook) return WSAEINPROGRESS;
    std::uintptr_t internal = s;
    if (cfg.external_handles) {
        DWORD_PTR ctx = 0;
        int err = 0;
        if (cfg.upcalls.lpWPUQuerySocketHandleContext(s, &ctx, &err) != 0) return WSAENOTSOCK;
        internal = ctx;
    }
    {
        lock_guard g(p.handles_mu);
        out = p.handles.find(internal);
    }
    if (!out || out->handle != s) return WSAENOTSOCK;
    if (out->st->stopped()) return WSAENETDOWN;  // its stack stopped (even if another runs now)
    return 0;
}

SOCKET register_socket(const std::shared_ptr<wsp_socket>& sock, int& err) {
    provider_state& p = provider();
    std::uintptr_t h;
    {
        lock_guard g(p.handles_mu);
        h = p.handles.insert(sock);
    }
    if (h == 0) {
        err = WSAEMFILE;
        return INVALID_SOCKET;
    }
    sock->table_handle = h;
    sock->handle = static_cast<SOCKET>(h);
    const provider_config cfg = p.settings();
    if (cfg.external_handles) {
        int uerr = 0;
        const SOCKET ext = cfg.upcalls.lpWPUCreateSocketHandle(cfg.catalog_entry, h, &uerr);
        if (ext == INVALID_SOCKET) {
            lock_guard g(p.handles_mu);
            p.handles.remove(h);
            err = uerr != 0 ? uerr : WSAENOBUFS;
            return INVALID_SOCKET;
        }
        sock->handle = ext;
    }
    return sock->handle;
}

void unregister_socket(wsp_socket& sock) {
    provider_state& p = provider();
    std::shared_ptr<wsp_socket> removed;  // released after the lock
    {
        lock_guard g(p.handles_mu);
        removed = p.handles.remove(sock.table_handle);
    }
    if (!removed) return;
    const provider_config cfg = p.settings();
    if (cfg.external_handles) {
        int err = 0;
        cfg.upcalls.lpWPUCloseSocketHandle(sock.handle, &err);
    }
}

std::optional<millis> deadline_after(stack& st, DWORD timeout_ms) {
    if (timeout_ms == 0) return std::nullopt;
    return st.now() + millis(timeout_ms);
}

int block_on(core_lock& lk, wsp_socket& sock, const std::function<bool()>& ready, DWORD timeout_ms,
             bool watch_progress) {
    return block_on(
        lk, *sock.st, sock.cv, [&sock]() LWSP_REQUIRES(sock.st->core()) { return sock.closing; }, ready,
        deadline_after(*sock.st, timeout_ms), watch_progress);
}

// Not analysed: it releases and retakes the caller's core lock (`lk`, a
// reference the analysis cannot tie to st.core()) around the blocking hook;
// the lock is held again whenever it returns, as REQUIRES says.
int block_on(core_lock& lk, stack& st, platform::condvar& cv, const std::function<bool()>& interrupted,
             const std::function<bool()>& ready, std::optional<millis> deadline,
             bool watch_progress) LWSP_NO_THREAD_SAFETY_ANALYSIS {
    LPBLOCKINGCALLBACK hook = nullptr;
    DWORD_PTR hook_ctx = 0;
    const provider_config cfg = provider().settings();
    if (cfg.upcalls.lpWPUQueryBlockingCallback != nullptr) {
        lk.unlock();
        int err = 0;
        if (cfg.upcalls.lpWPUQueryBlockingCallback(cfg.catalog_entry, &hook, &hook_ctx, &err) != 0) hook = nullptr;
        lk.lock();
    }
    blocking_frame frame;
    blocking_frame* const outer = t_frame;
    t_frame = &frame;
    int result = 0;
    for (;;) {
        if (interrupted() || frame.canceled) {
            result = WSAEINTR;
            break;
        }
        if (ready()) break;
        if (hook != nullptr) {
            // The application's blocking hook runs without the core lock;
            // calls it makes into the provider fail WSAEINPROGRESS, except
            // WSPCancelBlockingCall.
            lk.unlock();
            t_in_hook = true;
            const BOOL keep_going = hook(hook_ctx);
            t_in_hook = false;
            lk.lock();
            if (!keep_going) frame.canceled = true;
            if (interrupted() || frame.canceled) {
                result = WSAEINTR;
                break;
            }
            if (ready()) break;
        }
        std::optional<millis> step = deadline;
        if (hook != nullptr && !st.manual_clock()) {
            const millis tick = st.now() + millis(100);  // run the hook every 100 ms
            if (!step || tick < *step) step = tick;
        }
        // `interrupted` first: a closed socket has no endpoint for ready() to look at.
        auto pred = [&] { return interrupted() || frame.canceled || ready(); };
        const stack::wait_status ws =
            watch_progress ? st.wait_progress(lk, cv, pred, step) : st.wait(lk, cv, pred, step);
        if (interrupted() || frame.canceled) continue;  // reported at the top of the loop
        if (ws == stack::wait_status::stopped) {
            result = ready() ? 0 : WSAENETDOWN;
            break;
        }
        if (ws == stack::wait_status::timed_out && deadline && st.now() >= *deadline) {
            result = ready() ? 0 : WSAETIMEDOUT;
            break;
        }
    }
    t_frame = outer;
    return result;
}

int from_sockaddr(const struct sockaddr* name, int namelen, int family, sock_address& out) {
    const int need =
        family == AF_INET6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
    if (name == nullptr || namelen < need) return WSAEFAULT;
    if (name->sa_family != AF_INET && name->sa_family != AF_INET6) return WSAEAFNOSUPPORT;
    if (name->sa_family != family) return WSAEFAULT;
    out = sock_address{};
    if (family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(name);
        out.v6 = false;
        std::memcpy(out.ip.data(), &in->sin_addr, 4);
        out.port = static_cast<std::uint16_t>((reinterpret_cast<const std::uint8_t*>(&in->sin_port)[0] << 8) |
                                              reinterpret_cast<const std::uint8_t*>(&in->sin_port)[1]);
    } else {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(name);
        out.v6 = true;
        std::memcpy(out.ip.data(), &in6->sin6_addr, 16);
        out.port = static_cast<std::uint16_t>((reinterpret_cast<const std::uint8_t*>(&in6->sin6_port)[0] << 8) |
                                              reinterpret_cast<const std::uint8_t*>(&in6->sin6_port)[1]);
        out.scope_id = in6->sin6_scope_id;
    }
    return 0;
}

int to_sockaddr(const sock_address& a, struct sockaddr* name, LPINT namelen) {
    const int need = a.v6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
    if (name == nullptr || namelen == nullptr || *namelen < need) return WSAEFAULT;
    std::memset(name, 0, static_cast<std::size_t>(need));
    const std::uint8_t port_be[2] = {static_cast<std::uint8_t>(a.port >> 8), static_cast<std::uint8_t>(a.port)};
    if (a.v6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(name);
        in6->sin6_family = AF_INET6;
        std::memcpy(&in6->sin6_port, port_be, 2);
        std::memcpy(&in6->sin6_addr, a.ip.data(), 16);
        in6->sin6_scope_id = a.scope_id;
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(name);
        in->sin_family = AF_INET;
        std::memcpy(&in->sin_port, port_be, 2);
        std::memcpy(&in->sin_addr, a.ip.data(), 4);
    }
    *namelen = need;
    return 0;
}

// ---- entry points -----------------------------------------------------------

int WSPAPI WSPCleanup(LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    provider_hooks& hk = hooks();
    lock_guard serial(hk.startup_mu);
    provider_state& p = provider();
    bool last;
    {
        lock_guard g(p.mu);
        if (p.startups == 0) return fail(lpErrno, WSANOTINITIALISED);
        if (t_in_hook) return fail(lpErrno, WSAEINPROGRESS);
        last = --p.startups == 0;
    }
    if (!last) return 0;
    // The last cleanup closes every socket still open, as closesocket would,
    // except that a lingering close does not wait.
    std::vector<std::uintptr_t> open;
    {
        lock_guard g(p.handles_mu);
        open = p.handles.all();
    }
    for (std::uintptr_t h : open) {
        std::shared_ptr<wsp_socket> sock;
        {
            lock_guard g(p.handles_mu);
            sock = p.handles.find(h);
        }
        if (!sock) continue;
        wsp_socket& so = *sock;
        core_lock lk(*so.st);
        close_socket(lk, so, false);
    }
    // A stack the provider brought up itself goes down with the last
    // cleanup (the next WSPStartup brings it up again).
    if (!hk.brought_up) return 0;
    hk.brought_up = false;
    void (*tear_down)() = nullptr;
    {
        lock_guard g(hk.mu);
        tear_down = hk.tear_down;
    }
    if (tear_down != nullptr) tear_down();  // under startup_mu: no startup meanwhile
    return 0;
}

int WSPAPI WSPCancelBlockingCall(LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    if (!provider().started()) return fail(lpErrno, WSANOTINITIALISED);
    // Winsock 2 calls are preemptive: the only blocking call a thread can
    // cancel is its own, from inside its blocking hook.
    if (t_frame == nullptr || !t_in_hook) return fail(lpErrno, WSAEINVAL);
    t_frame->canceled = true;
    return 0;
}

}  // namespace lwsp::wsp

// ---- C API ------------------------------------------------------------------

extern "C" int WSPAPI WSPStartup(WORD wVersionRequested, LPWSPDATA lpWSPData, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                 WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable) {
    using namespace lwsp::wsp;
    if (lpWSPData == nullptr || lpProcTable == nullptr) return WSAEFAULT;
    constexpr WORD highest = 0x0202;  // MAKEWORD(2, 2)
    const unsigned major = LOBYTE(wVersionRequested), minor = HIBYTE(wVersionRequested);
    lpWSPData->wHighVersion = highest;
    lpWSPData->wVersion = (major > 2 || (major == 2 && minor >= 2)) ? highest : wVersionRequested;
    std::size_t i = 0;
    for (; k_description[i] != 0 && i < WSPDESCRIPTION_LEN; ++i)
        lpWSPData->szDescription[i] = static_cast<WCHAR>(k_description[i]);
    lpWSPData->szDescription[i] = 0;
    if (major < 2) {
        lpWSPData->wVersion = highest;
        return WSAVERNOTSUPPORTED;
    }
    // The upcall table: complete (ws2's), or completed from the fallback
    // when there is one; a table with missing upcalls and no fallback is
    // the caller's error, never silently patched.
    lwsp_upcalls_fill fallback = nullptr;
    int (*bring_up)() = nullptr;
    {
        provider_hooks& h = hooks();
        lwsp::lock_guard g(h.mu);
        fallback = h.fallback;
        bring_up = h.bring_up;
    }
    if (upcalls_present(UpcallTable) != k_upcall_count && fallback == nullptr) return WSAEINVAL;
    provider_hooks& hk = hooks();
    lwsp::lock_guard serial(hk.startup_mu);
    provider_state& p = provider();
    lwsp::stack* st = lwsp::stack::current();
    if ((st == nullptr || st->stopped()) && !p.started() && bring_up != nullptr) {
        // The provider DLL's bring-up: start the stack and attach its port
        // from the provider's configuration.  No provider lock held: the
        // new stack takes its core lock, which close paths hold while they
        // take the provider's lock.
        if (bring_up() != 0) return WSASYSNOTREADY;
        hk.brought_up = true;
        st = lwsp::stack::current();
    }
    if (st == nullptr || st->stopped()) return WSASYSNOTREADY;
    lwsp::lock_guard g(p.mu);
    if (p.startups == 0) {
        p.config.upcalls = fallback != nullptr ? with_fallback(UpcallTable, fallback) : UpcallTable;
        p.config.external_handles = UpcallTable.lpWPUCreateSocketHandle != nullptr &&
                                    UpcallTable.lpWPUQuerySocketHandleContext != nullptr &&
                                    UpcallTable.lpWPUCloseSocketHandle != nullptr;
        p.config.catalog_entry = lpProtocolInfo ? lpProtocolInfo->dwCatalogEntryId : 0;
    }
    ++p.startups;
    fill_proc_table(*lpProcTable);
    return 0;
}

extern "C" void lwsp_set_fallback_upcalls(lwsp_upcalls_fill fill) {
    auto& h = lwsp::wsp::hooks();
    lwsp::lock_guard g(h.mu);
    h.fallback = fill;
}

extern "C" void lwsp_set_provider_bring_up(int (*bring_up)(void), void (*tear_down)(void)) {
    auto& h = lwsp::wsp::hooks();
    lwsp::lock_guard g(h.mu);
    h.bring_up = bring_up;
    h.tear_down = tear_down;
}
