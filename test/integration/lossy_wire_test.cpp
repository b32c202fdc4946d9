// The lossy-wire matrix (issue 10): lwsp against the Linux kernel's TCP
// over a wire that loses, reorders, duplicates, corrupts and delays frames.
// Each row moves a bulk transfer both ways at once, checked byte for byte
// at both ends, and reports how long it took; the close rows check that a
// graceful close, an abortive close and a linger timeout still end the way
// the close table says when segments are lost.
//
// The wire: where the kernel has sch_netem, netem impairs the kernel's side
// of the TAP device (frames towards lwsp) and fault_link the frames lwsp
// sends.  This project's CI kernel has no sch_netem, so there lwsp's
// tap_link is wrapped in fault_link (real time, both directions): the
// kernel still sees — and answers — a lossy, reordering, duplicating,
// corrupting, delaying wire.  Every row says which in its output.  Every
// frame stays inside the private namespace scripts/netns-run made.
//
// Sizes: each row's default is below; LWSP_LOSSY_MIB=N runs every row at
// N MiB each way.  The issue asks for 64 MiB; lwIP has no SACK and a
// retransmission timeout of 600 ms and more on a LAN (three ticks of its
// TCP timer), so at 10 % loss lwsp sends about 15-30 KiB/s and the loss
// rows default to what fits the test budget (README, "A lossy wire").
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "kernel_peer.hpp"
#include "lwip/priv/tcp_priv.h"  // white box: the stalled row's report reads lwsp's pcbs
#include "lwip/tcp.h"
#include "lwsp/fault_link.hpp"
#include "lwsp/lwsp.h"
#include "lwsp/pcap_link.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/tap_link.hpp"
#include "packet.hpp"  // test/unit/support: frames parsed independently of lwIP

namespace kp = kernel_peer;
using namespace std::chrono_literals;
using lwsp::fault_link;
using steady = std::chrono::steady_clock;

namespace {

const char* k_kernel = "192.0.2.2";
// The longest a transfer may make no progress (see lossy_tap::connect).
constexpr int k_stall_ms = 300000;
// The longest a bulk row may take, below the CTest limit of this binary
// (900 s), so that a row that stops moving fails with what each side was
// doing rather than being killed without a word (row_watchdog).
// LWSP_LOSSY_BUDGET_S=N sets another budget (a short one shows the report).
std::chrono::seconds row_budget() {
    const char* v = std::getenv("LWSP_LOSSY_BUDGET_S");
    return std::chrono::seconds(v ? std::strtoull(v, nullptr, 10) : 600);
}

std::uint8_t pattern_byte(std::uint64_t i, std::uint32_t seed) {
    std::uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull + seed;
    x ^= x >> 29;
    return static_cast<std::uint8_t>(x >> (8 * (i & 7)));
}
void fill_pattern(std::uint8_t* out, std::size_t n, std::uint64_t offset, std::uint32_t seed) {
    for (std::size_t k = 0; k < n; ++k) out[k] = pattern_byte(offset + k, seed);
}

double seconds_since(steady::time_point t0) { return std::chrono::duration<double>(steady::now() - t0).count(); }

// Bytes each way for a row: LWSP_LOSSY_MIB if set (MiB), else `fallback_kib`.
std::size_t row_bytes(std::size_t fallback_kib) {
    const char* v = std::getenv("LWSP_LOSSY_MIB");
    return v ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) << 20 : fallback_kib << 10;
}

std::string size_text(std::size_t bytes) {
    char buf[32];
    if (bytes >= (1u << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    else
        std::snprintf(buf, sizeof buf, "%zu KiB", bytes >> 10);
    return buf;
}

// Whether this kernel can run netem on the TAP device (probed by adding
// and removing a do-nothing netem qdisc).
bool netem_works(const std::string& dev) {
    if (std::system(("tc qdisc add dev " + dev + " root netem delay 0ms >/dev/null 2>&1").c_str()) != 0) return false;
    return std::system(("tc qdisc del dev " + dev + " root >/dev/null 2>&1").c_str()) == 0;
}

// One row of the matrix: the impairment, for fault_link and as netem
// arguments for the kernel's side.
struct impairment {
    const char* name;
    fault_link::rates rates;
    const char* netem;
};

// lwsp on lwsp0 through fault_link (and, when netem works, netem on the
// kernel's side), the WSP provider on top.  An observer between the stack
// and the fault link notes the RSTs lwsp sends, as sent.
struct lossy_tap {
    lwsp::stack st;
    std::shared_ptr<fault_link> fault;
    WSPPROC_TABLE p{};
    bool with_netem = false;
    std::string dev;
    mutable std::mutex mu;
    // RSTs lwsp sent on the connection under test (to the kernel's port
    // that connect() used), and how many it sent for any other: rows run one
    // after another in one namespace, so segments the kernel retransmits on
    // an earlier row's connection reach this row's stack, which has no such
    // connection and answers them with RST, as it must.
    std::atomic<std::uint16_t> kernel_port{0};
    std::vector<steady::time_point> rst_sent;
    std::size_t other_rst = 0;

    lossy_tap(const impairment& imp, std::uint64_t seed) {
        const char* d = std::getenv("LWSP_TAP");
        REQUIRE(d != nullptr);  // set by scripts/netns-run
        dev = d;
        with_netem = netem_works(dev);
        fault_link::plan plan;
        plan.seed = seed;
        plan.mode = fault_link::timing::real_time;
        plan.from_stack = imp.rates;
        if (with_netem) {
            REQUIRE(std::system(("tc qdisc add dev " + dev + " root netem " + imp.netem).c_str()) == 0);
        } else {
            plan.to_stack = imp.rates;
        }
        std::printf("lossy wire, %s: %s\n", imp.name,
                    with_netem ? "netem on the kernel's side of lwsp0 (frames to lwsp), fault_link on lwsp's (frames "
                                 "from lwsp)"
                               : "this kernel has no sch_netem: lwsp's tap_link is wrapped in fault_link, which "
                                 "impairs both directions (the kernel's TCP sees the same lossy wire)");
        lwsp::tap_link::options o;
        o.name = dev;
        fault = std::make_shared<fault_link>(lwsp::tap_link::open(o), plan);
        // LWSP_LOSSY_PCAP=PREFIX keeps what lwsp sent (before the
        // impairment) and received (after it) in PREFIX.<seed>.pcap, one
        // file per row, for a look at a slow or failed row.
        const char* pcap = std::getenv("LWSP_LOSSY_PCAP");
        auto observed = std::make_shared<lwsp::pcap_link>(
            fault, pcap ? std::string(pcap) + "." + std::to_string(seed) + ".pcap" : std::string("/dev/null"),
            [this](lwsp::pcap_link::direction dir, const std::uint8_t* f, std::size_t n) {
                if (dir != lwsp::pcap_link::direction::out) return;
                const lwsp::test::parsed_frame pf = lwsp::test::parse_frame(f, n);
                if (pf.tcp && pf.tcp->has(lwsp::test::tcp_rst)) {
                    std::lock_guard<std::mutex> g(mu);
                    if (pf.tcp->dport == kernel_port.load())
                        rst_sent.push_back(steady::now());
                    else
                        ++other_rst;
                }
            });
        lwsp::interface_config cfg;
        cfg.ipv4 =
            lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                              *lwsp::ipv4_address::parse("0.0.0.0")};
        st.attach(observed, cfg);
        WSPDATA data{};
        REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &p) == 0);
    }
    ~lossy_tap() {
        int err = 0;
        p.lpWSPCleanup(&err);
        st.stop();
        if (with_netem) std::system(("tc qdisc del dev " + dev + " root >/dev/null 2>&1").c_str());
    }

    // lwsp's view of its connections (lwIP's pcbs) and of the socket under
    // test, for a row that stalls: which side's window or timer holds it.
    std::string lwsp_side(SOCKET sock) {
        std::string out;
        {
            auto lk = st.lock();
            for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
                char line[400];
                std::snprintf(line, sizeof line,
                              "  lwsp's pcb %u > %u: state %d, rcv_nxt %u, rcv_wnd %u, rcv_ann_wnd %u, "
                              "rcv_ann_right_edge %u, ooseq %s, refused %s, snd_nxt %u, lastack %u, snd_wnd %u, "
                              "unacked %s, unsent %s, rtime %d, nrtx %u, persist_backoff %u\n",
                              pcb->local_port, pcb->remote_port, static_cast<int>(pcb->state),
                              static_cast<unsigned>(pcb->rcv_nxt), static_cast<unsigned>(pcb->rcv_wnd),
                              static_cast<unsigned>(pcb->rcv_ann_wnd), static_cast<unsigned>(pcb->rcv_ann_right_edge),
#if TCP_QUEUE_OOSEQ
                              pcb->ooseq != nullptr ? "yes" : "no",
#else
                              "off",
#endif
                              pcb->refused_data != nullptr ? "yes" : "no", static_cast<unsigned>(pcb->snd_nxt),
                              static_cast<unsigned>(pcb->lastack), static_cast<unsigned>(pcb->snd_wnd),
                              pcb->unacked != nullptr ? "yes" : "no", pcb->unsent != nullptr ? "yes" : "no",
                              static_cast<int>(pcb->rtime), static_cast<unsigned>(pcb->nrtx),
                              static_cast<unsigned>(pcb->persist_backoff));
                out += line;
            }
        }
        u_long readable = 0;
        DWORD ret = 0;
        int err = 0;
        if (p.lpWSPIoctl(sock, FIONREAD, nullptr, 0, &readable, sizeof readable, &ret, nullptr, nullptr, nullptr,
                         &err) == 0)
            out += "  lwsp's socket: " + std::to_string(readable) + " bytes readable (FIONREAD)\n";
        else
            out += "  lwsp's socket: FIONREAD failed, " + std::to_string(err) + "\n";
        return out;
    }

    std::string counters() const {
        std::string s;
        for (auto d : {fault_link::direction::from_stack, fault_link::direction::to_stack}) {
            const fault_link::counters c = fault->stats(d);
            s += d == fault_link::direction::from_stack ? "  frames from lwsp: " : "  frames to lwsp:   ";
            s += std::to_string(c.frames) + ", lost " + std::to_string(c.lost) + ", corrupted " +
                 std::to_string(c.corrupted) + ", duplicated " + std::to_string(c.duplicated) + ", reordered " +
                 std::to_string(c.reordered) + ", delayed " + std::to_string(c.delayed) + ", cut from merged " +
                 std::to_string(c.cut) + "\n";
        }
        std::lock_guard<std::mutex> g(mu);
        if (other_rst != 0)
            s += "  RSTs lwsp sent on connections of earlier rows (the kernel retransmitting to a stack that is "
                 "gone): " +
                 std::to_string(other_rst) + "\n";
        return s;
    }

    // A connected socket to the kernel's `port`, and the kernel's end.
    SOCKET connect(std::uint16_t port, int& kfd, int& lfd, int rcvbuf = 0) {
        lfd = kp::listen_tcp(k_kernel, port, rcvbuf);
        REQUIRE(lfd >= 0);
        kernel_port = port;
        int err = 0;
        SOCKET s = p.lpWSPSocket(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0, &err);
        REQUIRE(s != INVALID_SOCKET);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, lwsp::ipv4_address::parse(k_kernel)->bytes.data(), 4);
        const std::uint8_t be[2] = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
        std::memcpy(&to.sin_port, be, 2);
        // lwIP retries a lost SYN; the kernel one a lost SYN-ACK.
        REQUIRE(p.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&to), sizeof to, nullptr, nullptr, nullptr, nullptr,
                               &err) == 0);
        kfd = kp::accept_one(lfd, 60000);
        REQUIRE(kfd >= 0);
        // A stalled transfer fails the row instead of hanging it.  Not
        // sooner: the kernel's retransmission timeout backs off up to 120 s
        // (no RTT sample from a retransmitted segment without timestamps,
        // which lwIP does not send), and a row at 10 % loss meets gaps of
        // tens of seconds.
        const DWORD limit_ms = k_stall_ms;
        REQUIRE(p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&limit_ms), sizeof limit_ms,
                                  &err) == 0);
        REQUIRE(p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_SNDTIMEO, reinterpret_cast<const char*>(&limit_ms), sizeof limit_ms,
                                  &err) == 0);
        return s;
    }
    int send_all(SOCKET s, const void* data, std::size_t n) {
        WSABUF b{static_cast<u_long>(n), static_cast<char*>(const_cast<void*>(data))};
        DWORD sent = 0;
        int err = 0;
        if (p.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) != 0) return err;
        return sent == n ? 0 : -1;
    }
    long recv(SOCKET s, void* buf, std::size_t n) {
        WSABUF b{static_cast<u_long>(n), static_cast<char*>(buf)};
        DWORD got = 0, flags = 0;
        int err = 0;
        if (p.lpWSPRecv(s, &b, 1, &got, &flags, nullptr, nullptr, nullptr, &err) != 0) return -err;
        return static_cast<long>(got);
    }
    int set_linger(SOCKET s, u_short on, u_short secs) {
        struct linger l {
            on, secs
        };
        int err = 0;
        return p.lpWSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l, &err) == 0
                   ? 0
                   : err;
    }
    int set_nonblocking(SOCKET s, bool on) {
        u_long v = on ? 1 : 0;
        DWORD ret = 0;
        int err = 0;
        return p.lpWSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
    }
    int close(SOCKET s) {
        int err = 0;
        return p.lpWSPCloseSocket(s, &err) == 0 ? 0 : err;
    }
};

// Runs `on_expiry` on its own thread if finish() has not been called
// within `budget`: a wait on a condition with a deadline, not a sleep.
class row_watchdog {
public:
    row_watchdog(std::chrono::seconds budget, std::function<void()> on_expiry)
        : thread_([this, budget, on_expiry = std::move(on_expiry)] {
              std::unique_lock<std::mutex> g(mu_);
              if (cv_.wait_for(g, budget, [this] { return finished_; })) return;
              expired_ = true;
              g.unlock();
              on_expiry();
          }) {}
    row_watchdog(const row_watchdog&) = delete;
    row_watchdog& operator=(const row_watchdog&) = delete;
    ~row_watchdog() { finish(); }
    // Stops the clock; true if the budget ran out first.
    bool finish() {
        {
            std::lock_guard<std::mutex> g(mu_);
            finished_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
        return expired_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool finished_ = false;
    bool expired_ = false;
    std::thread thread_;
};

// `total` bytes lwsp → kernel and kernel → lwsp at the same time, every
// byte checked at the receiving end; then a graceful close that the kernel
// reads as end of stream.
void both_ways(const impairment& imp, std::uint64_t seed, std::size_t total) {
    lossy_tap env(imp, seed);
    int kfd = -1, lfd = -1;
    const auto t0 = steady::now();
    SOCKET s = env.connect(5101, kfd, lfd);

    std::atomic<int> send_err{0};
    std::thread lwsp_sender([&] {
        std::vector<std::uint8_t> chunk(256 * 1024);
        for (std::size_t off = 0; off < total && send_err == 0; off += chunk.size()) {
            const std::size_t n = std::min(chunk.size(), total - off);
            fill_pattern(chunk.data(), n, off, 1);
            send_err = env.send_all(s, chunk.data(), n);
        }
    });
    std::atomic<bool> kernel_wrote{false};
    std::thread kernel_writer([&] {
        std::vector<std::uint8_t> chunk(1 << 20);
        bool ok = true;
        for (std::size_t off = 0; off < total && ok; off += chunk.size()) {
            const std::size_t n = std::min(chunk.size(), total - off);
            fill_pattern(chunk.data(), n, off, 2);
            ok = kp::write_all(kfd, chunk.data(), n, k_stall_ms);
        }
        kernel_wrote = ok;
    });
    std::atomic<std::size_t> up{0}, down{0};
    std::size_t up_bad = 0;
    double up_took = 0;
    // Past the row's budget: say where each side stands, then unblock every
    // thread (the kernel's end shut down, lwsp's socket closed with a reset:
    // its blocked calls return WSAEINTR) so the row fails with this report.
    std::string stalled;
    const std::chrono::seconds budget = row_budget();
    row_watchdog watchdog(budget, [&] {
        stalled = "the row made no end within " + std::to_string(budget.count()) + " s: lwsp to kernel " +
                  std::to_string(up.load()) + " of " + std::to_string(total) + " bytes, kernel to lwsp " +
                  std::to_string(down.load()) + "\n" + env.counters() + "  the kernel's end: " + kp::tcp_state_of(kfd) +
                  "\n" + env.lwsp_side(s);
        std::printf("%s", stalled.c_str());
        std::fflush(stdout);
        kp::shutdown_both(kfd);
        env.set_linger(s, 1, 0);
        env.close(s);
    });
    std::thread kernel_reader([&] {
        while (up < total) {
            const kp::read_result r = kp::read_some(kfd, 1 << 20, k_stall_ms);
            if (r.data.empty()) break;
            for (std::size_t k = 0; k < r.data.size(); ++k)
                up_bad += static_cast<std::uint8_t>(r.data[k]) != pattern_byte(up + k, 1);
            up += r.data.size();  // only this thread writes it
        }
        up_took = seconds_since(t0);
    });
    std::vector<std::uint8_t> buf(256 * 1024);
    std::size_t down_bad = 0;
    long last = 0;
    while (down < total) {
        last = env.recv(s, buf.data(), buf.size());
        if (last <= 0) break;
        for (long k = 0; k < last; ++k)
            down_bad += buf[static_cast<std::size_t>(k)] != pattern_byte(down + static_cast<std::size_t>(k), 2);
        down += static_cast<std::size_t>(last);
    }
    const double down_took = seconds_since(t0);
    lwsp_sender.join();
    kernel_writer.join();
    kernel_reader.join();
    const double took = seconds_since(t0);
    const unsigned kernel_retransmits = kp::retransmits_of(kfd);
    const int closed = env.close(s);  // graceful: the kernel reads end of stream
    const kp::read_result end = kp::read_to_end(kfd, 0, k_stall_ms);
    if (watchdog.finish()) {
        FAIL_CHECK(stalled);
        kp::close_fd(kfd);
        kp::close_fd(lfd);
        return;
    }
    CHECK(closed == 0);
    char times[160];
    std::snprintf(times, sizeof times, " each way at once in %.1f s (lwsp to kernel %.1f s, kernel to lwsp %.1f s)",
                  took, up_took, down_took);
    const std::string report = std::string(imp.name) + ": " + size_text(total) + times + ", seed " +
                               std::to_string(seed) + "\n" + env.counters() +
                               "  kernel retransmissions: " + std::to_string(kernel_retransmits) + "\n";
    std::printf("%s", report.c_str());
    WARN(report);
    CHECK(send_err == 0);
    CHECK(kernel_wrote);
    CHECK(up.load() == total);
    CHECK(up_bad == 0);
    INFO("last WSPRecv result " << last);
    CHECK(down.load() == total);
    CHECK(down_bad == 0);
    CHECK(end.eof);
    kp::close_fd(kfd);
    kp::close_fd(lfd);
}

impairment loss(const char* name, double rate, const char* netem) {
    impairment i{name, {}, netem};
    i.rates.loss = rate;
    return i;
}

// The close rows run under this loss (both directions).
const impairment k_close_loss = loss("10 % loss", 0.10, "loss 10%");

// After lwsp's RST the kernel reads ECONNRESET.  If the RST was lost, the
// kernel learns at its next send: lwsp answers a segment for a connection
// it no longer has with RST.  Returns the kernel's read, after a poke if
// needed, and says which happened.
kp::read_result kernel_sees_reset(int kfd, std::size_t keep, bool& poked) {
    poked = false;
    kp::read_result r = kp::read_to_end(kfd, keep, 5000);
    if (r.timed_out) {
        poked = true;
        kp::write_all(kfd, "x");  // fails only if the RST arrived in the meantime: the read tells
        kp::read_result again = kp::read_to_end(kfd, keep, k_stall_ms);
        again.data = r.data + again.data;
        r = again;
    }
    return r;
}

}  // namespace

// ---- the matrix: bulk both ways --------------------------------------------------

TEST_CASE("lossy wire: 1 % loss, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    both_ways(loss("1 % loss", 0.01, "loss 1%"), 101, row_bytes(32 * 1024));
}

TEST_CASE("lossy wire: 5 % loss, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    both_ways(loss("5 % loss", 0.05, "loss 5%"), 105, row_bytes(2 * 1024));
}

TEST_CASE("lossy wire: 10 % loss, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    both_ways(loss("10 % loss", 0.10, "loss 10%"), 110, row_bytes(512));
}

TEST_CASE("lossy wire: reordering, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    impairment i{"reordering (5 % held back behind 3 frames)", {}, "delay 1ms reorder 95%"};
    i.rates.reorder = 0.05;
    i.rates.reorder_gap = 3;
    both_ways(i, 120, row_bytes(64 * 1024));
}

TEST_CASE("lossy wire: duplication, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    impairment i{"duplication (5 %)", {}, "duplicate 5%"};
    i.rates.duplicate = 0.05;
    both_ways(i, 130, row_bytes(64 * 1024));
}

TEST_CASE("lossy wire: corruption, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    impairment i{"corruption (1 %, one bit)", {}, "corrupt 1%"};
    i.rates.corrupt = 0.01;
    both_ways(i, 140, row_bytes(16 * 1024));
}

TEST_CASE("lossy wire: delay with jitter, a bulk transfer both ways arrives intact", "[integration][lossy]") {
    impairment i{"delay 5 ms, jitter 2 ms", {}, "delay 5ms 2ms"};
    i.rates.delay = 5ms;
    i.rates.jitter = 2ms;
    both_ways(i, 150, row_bytes(64 * 1024));
}

// ---- the close rows under loss -------------------------------------------------------

TEST_CASE("lossy wire: graceful close under 10 % loss, the kernel reads every byte and then end of stream",
          "[integration][lossy][close]") {
    lossy_tap env(k_close_loss, 201);
    int kfd = -1, lfd = -1;
    SOCKET s = env.connect(5102, kfd, lfd);
    const std::size_t n = 64 * 1024;
    std::vector<std::uint8_t> data(n);
    fill_pattern(data.data(), n, 0, 3);
    REQUIRE(env.send_all(s, data.data(), n) == 0);
    const auto t0 = steady::now();
    REQUIRE(env.close(s) == 0);  // SO_DONTLINGER: returns at once, lwIP finishes the disconnect
    CHECK(seconds_since(t0) < 1.0);
    const kp::read_result got = kp::read_to_end(kfd, n, k_stall_ms);
    INFO(env.counters());
    CHECK(got.data.size() == n);
    CHECK(std::memcmp(got.data.data(), data.data(), std::min(n, got.data.size())) == 0);
    CHECK(got.eof);
    CHECK(got.error == 0);
    std::lock_guard<std::mutex> g(env.mu);
    CHECK(env.rst_sent.empty());
    kp::close_fd(kfd);
    kp::close_fd(lfd);
}

TEST_CASE("lossy wire: abortive close (SO_LINGER 0) under 10 % loss, the kernel reads ECONNRESET",
          "[integration][lossy][close]") {
    lossy_tap env(k_close_loss, 202);
    int kfd = -1, lfd = -1;
    SOCKET s = env.connect(5103, kfd, lfd);
    REQUIRE(env.send_all(s, "abc", 3) == 0);
    REQUIRE(env.set_linger(s, 1, 0) == 0);
    const auto t0 = steady::now();
    REQUIRE(env.close(s) == 0);
    {
        std::lock_guard<std::mutex> g(env.mu);
        REQUIRE_FALSE(env.rst_sent.empty());  // inside close, before it returned
        CHECK(env.rst_sent[0] >= t0);
    }
    bool poked = false;
    const kp::read_result r = kernel_sees_reset(kfd, 100, poked);
    const std::string how =
        poked ? "the RST was lost; lwsp reset the connection again when the kernel sent" : "the RST arrived";
    std::printf("abortive close under 10 %% loss: %s\n", how.c_str());
    INFO(how << "\n" << env.counters());
    CHECK(r.error == ECONNRESET);
    CHECK_FALSE(r.eof);
    kp::close_fd(kfd);
    kp::close_fd(lfd);
}

TEST_CASE("lossy wire: linger timeout under 10 % loss, close resets at the deadline", "[integration][lossy][close]") {
    lossy_tap env(k_close_loss, 203);
    int kfd = -1, lfd = -1;
    SOCKET s = env.connect(5104, kfd, lfd, 4096);  // small buffer, never read: the window closes
    REQUIRE(env.set_nonblocking(s, true) == 0);
    // Fill lwsp's send buffer: more than the kernel will ever take.
    std::vector<std::uint8_t> chunk(16384);
    fill_pattern(chunk.data(), chunk.size(), 0, 5);
    std::size_t queued = 0;
    int err = 0;
    for (;;) {
        WSABUF b{static_cast<u_long>(chunk.size()), reinterpret_cast<char*>(chunk.data())};
        DWORD sent = 0;
        if (env.p.lpWSPSend(s, &b, 1, &sent, 0, nullptr, nullptr, nullptr, &err) != 0) break;
        queued += sent;
    }
    REQUIRE(err == WSAEWOULDBLOCK);
    REQUIRE(queued > 64 * 1024);
    REQUIRE(env.set_nonblocking(s, false) == 0);
    REQUIRE(env.set_linger(s, 1, 2) == 0);
    const auto t0 = steady::now();
    REQUIRE(env.close(s) == 0);
    const double waited = seconds_since(t0);
    CHECK(waited >= 1.9);  // it lingered until the deadline …
    CHECK(waited < 10.0);
    {
        std::lock_guard<std::mutex> g(env.mu);
        REQUIRE_FALSE(env.rst_sent.empty());  // … and reset then, not before
        const double at = std::chrono::duration<double>(env.rst_sent[0] - t0).count();
        CHECK(at >= 1.9);
        CHECK(at <= waited);
    }
    bool poked = false;
    const kp::read_result r = kernel_sees_reset(kfd, 1 << 24, poked);
    const std::string how =
        poked ? "the RST was lost; lwsp reset the connection again when the kernel sent" : "the RST arrived";
    std::printf("linger timeout under 10 %% loss: close waited %.2f s; %s\n", waited, how.c_str());
    INFO(how << "\n" << env.counters());
    CHECK(r.error == ECONNRESET);
    kp::close_fd(kfd);
    kp::close_fd(lfd);
}
