// loop_env.cpp — see loop_env.hpp.
#include "loop_env.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <malloc.h>
#if defined(_WIN32)
#include <windows.h>
#include <psapi.h>
#else
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LWSP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LWSP_TEST_SANITIZED 1
#endif
#endif
#ifdef LWSP_TEST_SANITIZED
// The sanitizer runtimes' allocator statistics (declared here: gcc ships no
// allocator_interface.h).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "provider.hpp"  // the handle table (spi_shim/src)

namespace lwsp::upcalls_detail {
// lwsp's test hook (spi_shim/src/upcalls.cpp): thread records alive.
std::size_t live_thread_states();
}  // namespace lwsp::upcalls_detail

namespace lwsp::test {

namespace {

lwsp::stack::options make_options(bool manual) {
    lwsp::stack::options o;
    o.manual_clock = manual;
    return o;
}

template <class T>
sockaddr* sa(T& a) {
    return reinterpret_cast<sockaddr*>(&a);
}

// The loopback address of the family, with `port`.
SOCKADDR_STORAGE loopback(bool v6, std::uint16_t port, int& len) {
    SOCKADDR_STORAGE ss{};
    const std::uint8_t be[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        std::uint8_t one[16] = {};
        one[15] = 1;
        std::memcpy(&a->sin6_addr, one, 16);
        std::memcpy(&a->sin6_port, be, 2);
        len = sizeof(sockaddr_in6);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        const std::uint8_t ip[4] = {127, 0, 0, 1};
        std::memcpy(&a->sin_addr, ip, 4);
        std::memcpy(&a->sin_port, be, 2);
        len = sizeof(sockaddr_in);
    }
    return ss;
}

std::uint16_t port_of(const SOCKADDR_STORAGE& ss) {
    const std::uint8_t* be =
        ss.ss_family == AF_INET6
            ? reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port)
            : reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    return static_cast<std::uint16_t>(be[0] << 8 | be[1]);
}

#if defined(_WIN32)
// The working set (Windows' resident memory).
std::size_t resident_bytes() {
    PROCESS_MEMORY_COUNTERS pmc{};
    pmc.cb = sizeof pmc;
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) return 0;
    return pmc.WorkingSetSize;
}
#else
std::size_t resident_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages_total = 0, pages_resident = 0;
    if (!(f >> pages_total >> pages_resident)) return 0;
    return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}
#endif

std::size_t heap_bytes_in_use() {
#ifdef LWSP_TEST_SANITIZED
    return __sanitizer_get_current_allocated_bytes();
#elif defined(_WIN32)
    // The C runtime's heap, block by block (msvcrt has no running total).
    std::size_t used = 0;
    _HEAPINFO info{};
    while (_heapwalk(&info) == _HEAPOK) {
        if (info._useflag == _USEDENTRY) used += info._size;
    }
    return used;
#else
    return mallinfo2().uordblks;
#endif
}

}  // namespace

bool sanitized_build() {
#ifdef LWSP_TEST_SANITIZED
    return true;
#else
    return false;
#endif
}

resources measure(lwsp::stack& st) {
    resources r;
    // lwIP's block cache keeps freed blocks on purpose (up to
    // options::heap_cache): emptied first, so the heap shows what is in use.
    st.release_heap_cache();
    r.stack = st.stats();
    r.handles = open_handles();
    r.thread_states = lwsp::upcalls_detail::live_thread_states();
    r.heap_in_use = heap_bytes_in_use();
    r.rss = resident_bytes();
    return r;
}

std::string describe(const resources& r) {
    std::ostringstream o;
    o << "tcp pcbs " << r.stack.tcp_pcbs << " (listen " << r.stack.tcp_listen_pcbs << ", time-wait "
      << r.stack.tcp_time_wait_pcbs << "), tcp segments " << r.stack.tcp_segments << ", udp pcbs " << r.stack.udp_pcbs
      << ", pbufs " << r.stack.pbufs << ", lwIP heap " << r.stack.heap_bytes << " B, handles " << r.handles
      << ", thread records " << r.thread_states << ", process heap " << r.heap_in_use << " B, RSS " << r.rss / 1024
      << " KiB";
    return o.str();
}

std::size_t open_handles() { return lwsp::wsp::provider().handles.size(); }

loop_env::loop_env(bool manual_clock) : st(make_options(manual_clock)) {
    WSPDATA data{};
    const int r = WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &p);
    if (r != 0) throw std::runtime_error("WSPStartup failed: " + std::to_string(r));
}

loop_env::~loop_env() {
    int err = 0;
    p.lpWSPCleanup(&err);  // WSANOTINITIALISED if a watchdog already cleaned up
    st.stop();
}

void loop_env::advance(lwsp::millis d) {
    while (d.count() > 0) {
        const lwsp::millis step = d < lwsp::millis(250) ? d : lwsp::millis(250);
        st.advance_time(step);
        d -= step;
    }
}

SOCKET loop_env::socket(bool v6, int& err) {
    err = 0;
    return p.lpWSPSocket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
}

int loop_env::bind(SOCKET s, bool v6, std::uint16_t port) {
    int len = 0, err = 0;
    SOCKADDR_STORAGE a = loopback(v6, port, len);
    return p.lpWSPBind(s, sa(a), len, &err) == 0 ? 0 : err;
}

int loop_env::listen(SOCKET s, int backlog) {
    int err = 0;
    return p.lpWSPListen(s, backlog, &err) == 0 ? 0 : err;
}

int loop_env::connect(SOCKET s, bool v6, std::uint16_t port) {
    int len = 0, err = 0;
    SOCKADDR_STORAGE a = loopback(v6, port, len);
    return p.lpWSPConnect(s, sa(a), len, nullptr, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
}

SOCKET loop_env::accept(SOCKET lst, int& err, std::uint16_t* peer_port) {
    SOCKADDR_STORAGE from{};
    int len = sizeof from;
    err = 0;
    const SOCKET s = p.lpWSPAccept(lst, sa(from), &len, nullptr, 0, &err);
    if (s != INVALID_SOCKET && peer_port != nullptr) *peer_port = port_of(from);
    return s;
}

long loop_env::send(SOCKET s, const void* data, std::size_t n, DWORD flags) {
    WSABUF b{static_cast<u_long>(n), static_cast<char*>(const_cast<void*>(data))};
    DWORD sent = 0;
    int err = 0;
    if (p.lpWSPSend(s, &b, 1, &sent, flags, nullptr, nullptr, nullptr, &err) != 0) return -err;
    return static_cast<long>(sent);
}

long loop_env::recv(SOCKET s, void* data, std::size_t n, DWORD flags) {
    WSABUF b{static_cast<u_long>(n), static_cast<char*>(data)};
    DWORD got = 0;
    int err = 0;
    if (p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0) return -err;
    return static_cast<long>(got);
}

int loop_env::close(SOCKET s) {
    int err = 0;
    return p.lpWSPCloseSocket(s, &err) == 0 ? 0 : err;
}

int loop_env::shutdown(SOCKET s, int how) {
    int err = 0;
    return p.lpWSPShutdown(s, how, &err) == 0 ? 0 : err;
}

int loop_env::set_linger(SOCKET s, bool on, u_short seconds) {
    struct linger l {
        static_cast<u_short>(on ? 1 : 0), seconds
    };
    int err = 0;
    return p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) == 0 ? 0
                                                                                                               : err;
}

int loop_env::set_dontlinger(SOCKET s) { return set_int(s, SOL_SOCKET, SO_DONTLINGER, 1); }

int loop_env::set_int(SOCKET s, int level, int name, int value) {
    int err = 0;
    return p.lpWSPSetSockOpt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value, &err) == 0 ? 0 : err;
}

int loop_env::get_int(SOCKET s, int level, int name, int& value) {
    int len = sizeof value, err = 0;
    return p.lpWSPGetSockOpt(s, level, name, reinterpret_cast<char*>(&value), &len, &err) == 0 ? 0 : err;
}

int loop_env::set_nonblocking(SOCKET s, bool on) {
    u_long v = on ? 1 : 0;
    DWORD ret = 0;
    int err = 0;
    return p.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
}

int loop_env::bytes_readable(SOCKET s, u_long& n) {
    DWORD ret = 0;
    int err = 0;
    return p.lpWSPIoctl(s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
}

int loop_env::local_port(SOCKET s, std::uint16_t& port) {
    SOCKADDR_STORAGE a{};
    int len = sizeof a, err = 0;
    if (p.lpWSPGetSockName(s, sa(a), &len, &err) != 0) return err;
    port = port_of(a);
    return 0;
}

int loop_env::peer_port(SOCKET s, std::uint16_t& port) {
    SOCKADDR_STORAGE a{};
    int len = sizeof a, err = 0;
    if (p.lpWSPGetPeerName(s, sa(a), &len, &err) != 0) return err;
    port = port_of(a);
    return 0;
}

void fill_pattern(std::uint8_t* out, std::size_t n, std::uint64_t offset, std::uint64_t seed) {
    for (std::size_t k = 0; k < n; ++k) out[k] = pattern_byte(offset + k, seed);
}

std::size_t check_pattern(const std::uint8_t* data, std::size_t n, std::uint64_t offset, std::uint64_t seed) {
    for (std::size_t k = 0; k < n; ++k)
        if (data[k] != pattern_byte(offset + k, seed)) return k;
    return n;
}

std::uint64_t seed_from_env(const char* name) {
    if (const char* v = std::getenv(name); v != nullptr && *v != 0) return std::strtoull(v, nullptr, 0);
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32 | rd()) & 0xffffffffffffull;  // short enough to type
}

std::uint64_t number_from_env(const char* name, std::uint64_t fallback) {
    if (const char* v = std::getenv(name); v != nullptr && *v != 0) return std::strtoull(v, nullptr, 0);
    return fallback;
}

stall_watchdog::stall_watchdog(std::chrono::milliseconds limit, std::function<void()> on_stall)
    : limit_(limit), on_stall_(std::move(on_stall)) {
    thread_ = std::thread([this] {
        std::unique_lock<std::mutex> lk(mu_);
        std::uint64_t seen = ticks_.load();
        auto last = std::chrono::steady_clock::now();
        while (!stop_) {
            cv_.wait_for(lk, std::chrono::milliseconds(100));
            const std::uint64_t now_ticks = ticks_.load();
            const auto now = std::chrono::steady_clock::now();
            if (now_ticks != seen) {
                seen = now_ticks;
                last = now;
            } else if (!stop_ && now - last >= limit_) {
                fired_.store(true);
                lk.unlock();
                on_stall_();
                return;
            }
        }
    });
}

stall_watchdog::~stall_watchdog() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void stall_watchdog::progress() { ticks_.fetch_add(1); }

clock_ticker::clock_ticker(lwsp::stack& st, std::chrono::milliseconds step) : st_(st) {
    thread_ = std::thread([this, step] {
        std::unique_lock<std::mutex> lk(mu_);
        auto last = std::chrono::steady_clock::now();
        while (!stop_) {
            cv_.wait_for(lk, step);
            const auto now = std::chrono::steady_clock::now();
            const auto elapsed = std::chrono::duration_cast<lwsp::millis>(now - last);
            if (elapsed.count() == 0) continue;
            last += elapsed;
            lk.unlock();
            st_.advance_time(elapsed);
            lk.lock();
        }
    });
}

clock_ticker::~clock_ticker() { stop(); }

void clock_ticker::stop() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace lwsp::test
