// Receive holds (docs/design.md, "Inline receive"): a thread that sends a
// SYN, a FIN or a connection's first data reads the answer itself, and the
// port's own thread is not woken for it.
//
// same_host_link plays a peer on the same host, as the Linux kernel behind
// a TAP device is: its answer is ready inside the write that asked for it.
// Who reads that answer is decided the way a device's readiness decides it:
// a frame that arrives while a thread of the stack's holds the receive side
// (a hold, or a wait in receive_inline) is that thread's to read; one that
// arrives while nobody does wakes the port's thread, which delivers it.
// Linux only: inline receive needs the stack's waker (an eventfd).
#if defined(__linux__)

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "async_call.hpp"
#include "lwsp/platform.hpp"
#include "packet.hpp"
#include "scripted_peer.hpp"
#include "wsp_fixture.hpp"

using namespace lwsp::test;

namespace {

class same_host_link final : public lwsp::link {
public:
    explicit same_host_link(std::shared_ptr<lwsp::memlink> wire)
        : wire_(std::move(wire)), ready_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    ~same_host_link() override { ::close(ready_); }
    same_host_link(const same_host_link&) = delete;
    same_host_link& operator=(const same_host_link&) = delete;

    std::size_t mtu() const override { return wire_->mtu(); }
    lwsp::mac_address mac() const override { return wire_->mac(); }
    void start(lwsp::link_sink& s) override {
        {
            std::lock_guard<std::mutex> g(mu_);
            sink_ = &s;
        }
        wire_->start(s);
        port_ = std::thread([this] { port_main(); });
    }
    void stop() override {
        {
            std::lock_guard<std::mutex> g(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (port_.joinable()) port_.join();
        wire_->stop();
    }
    // Under the core lock.  The wire's on_transmit hook (the peer) answers
    // through arrive() before this returns.
    bool transmit(const lwsp::frame_part* parts, std::size_t count, const lwsp::frame_info& info) override {
        {
            std::lock_guard<std::mutex> g(mu_);
            sent_while_held_.push_back(holds_ > 0);
        }
        return wire_->transmit(parts, count, info);
    }

    bool offers_inline_receive() const override { return true; }
    bool receive_inline(lwsp::platform::waker& wake, std::uint64_t until_ms) override {
        {
            std::unique_lock<std::mutex> g(mu_);
            ++holds_;
            if (gate_closed_) {  // a thread that is slow to run again: deaf to its waker until the gate opens
                ++at_gate_;
                cv_.wait(g, [&] { return !gate_closed_; });
            }
        }
        int timeout = -1;
        if (until_ms != UINT64_MAX) {
            const std::uint64_t now = lwsp::platform::now_ms();
            timeout = until_ms <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(until_ms - now, INT_MAX));
        }
        struct pollfd fds[2] = {{ready_, POLLIN, 0}, {wake.handle(), POLLIN, 0}};
        if (::poll(fds, 2, timeout) > 0 && fds[1].revents != 0) wake.consume();
        deliver_held();
        end_hold();
        return true;
    }
    void hold_receive() override {
        std::lock_guard<std::mutex> g(mu_);
        ++holds_;
        ++holds_taken_;
    }
    void release_receive(bool read) override {
        if (read) deliver_held();
        {
            std::lock_guard<std::mutex> g(mu_);
            ++(read ? released_reading_ : released_only_);
        }
        end_hold();
    }

    // The peer's frames, from inside transmit (the wire's hook).
    void arrive(const bytes& f) {
        std::lock_guard<std::mutex> g(mu_);
        if (holds_ > 0) {
            held_.push_back(f);
            const std::uint64_t one = 1;
            [[maybe_unused]] const ssize_t n = ::write(ready_, &one, sizeof one);
        } else {
            for_port_.push_back(f);
            cv_.notify_all();
        }
    }

    struct counts {
        int holds = 0, holds_taken = 0, released_reading = 0, released_only = 0;
        int by_port = 0, by_holder = 0;
        std::vector<bool> sent_while_held;
    };
    counts snapshot() const {
        std::lock_guard<std::mutex> g(mu_);
        return {holds_, holds_taken_, released_reading_, released_only_, by_port_, by_holder_, sent_while_held_};
    }
    void clear_sent() {
        std::lock_guard<std::mutex> g(mu_);
        sent_while_held_.clear();
    }
    // While closed, a thread that starts an inline wait stops at the gate.
    void close_gate() {
        std::lock_guard<std::mutex> g(mu_);
        gate_closed_ = true;
    }
    void open_gate() {
        {
            std::lock_guard<std::mutex> g(mu_);
            gate_closed_ = false;
        }
        cv_.notify_all();
    }
    int at_gate() const {
        std::lock_guard<std::mutex> g(mu_);
        return at_gate_;
    }

private:
    // The holder reads what arrived for it, including what arrives while
    // it delivers (the stack's answers to answers).
    void deliver_held() {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t n = ::read(ready_, &count, sizeof count);
        for (;;) {
            bytes f;
            lwsp::link_sink* s = nullptr;
            {
                std::lock_guard<std::mutex> g(mu_);
                if (held_.empty()) return;
                f = std::move(held_.front());
                held_.pop_front();
                ++by_holder_;
                s = sink_;
            }
            s->deliver(f.data(), f.size());
        }
    }
    // Level-triggered: what the last holder left unread is the port's.
    void end_hold() {
        std::lock_guard<std::mutex> g(mu_);
        if (--holds_ == 0) {
            for (bytes& f : held_) for_port_.push_back(std::move(f));
            held_.clear();
            cv_.notify_all();
        }
    }
    void port_main() {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return stopping_ || !for_port_.empty(); });
            if (stopping_) return;
            bytes f = std::move(for_port_.front());
            for_port_.pop_front();
            ++by_port_;
            lwsp::link_sink* s = sink_;
            lk.unlock();
            s->deliver(f.data(), f.size());
            lk.lock();
        }
    }

    std::shared_ptr<lwsp::memlink> wire_;
    int ready_;  // readable while frames wait for a holder
    mutable std::mutex mu_;
    std::condition_variable cv_;
    lwsp::link_sink* sink_ = nullptr;
    std::thread port_;
    bool stopping_ = false;
    bool gate_closed_ = false;
    int at_gate_ = 0;
    int holds_ = 0;
    int holds_taken_ = 0, released_reading_ = 0, released_only_ = 0;
    int by_port_ = 0, by_holder_ = 0;
    std::deque<bytes> held_, for_port_;
    std::vector<bool> sent_while_held_;
};

struct same_host_env {
    std::shared_ptr<same_host_link> dev;
    wsp_env env;
    // The peer answers through the device, not by injecting at once.
    scripted_peer peer;
    tcp_script conn;

    same_host_env()
        : env(true, nullptr,
              [this](std::shared_ptr<lwsp::memlink> wire) {
                  dev = std::make_shared<same_host_link>(std::move(wire));
                  return dev;
              }),
          peer(env.peer4.self(), env.peer4.stack(), [this](const bytes& f) { dev->arrive(f); }),
          conn(peer, 7000, 40000) {
        env.peer4.announce();  // no ARP before the SYN
        // A peer's TCP on the same host: a SYN is answered with SYN-ACK, a
        // FIN with its ACK, inside the write.
        env.link.on_transmit([this](const lwsp::memlink::frame& raw) {
            const parsed_frame f = parse_frame(raw);
            if (!f.tcp || !conn.accept(f)) return;
            if (f.tcp->has(tcp_syn))
                conn.send_syn_ack();
            else if (f.tcp->has(tcp_fin))
                conn.send_ack();
        });
    }

    SOCKET connect() {
        dev->clear_sent();  // what the interface sent as it came up
        SOCKET s = env.socket();
        int err = 0;
        sockaddr_in local = wsp_env::addr4("192.0.2.1", conn.remote_port());
        REQUIRE(env.p.lpWSPBind(s, reinterpret_cast<sockaddr*>(&local), sizeof local, &err) == 0);
        sockaddr_in a = wsp_env::addr4("192.0.2.2", conn.local_port());
        REQUIRE(env.p.lpWSPConnect(s, reinterpret_cast<sockaddr*>(&a), sizeof a, nullptr, nullptr, nullptr, nullptr,
                                   &err) == 0);
        return s;
    }
};

}  // namespace

TEST_CASE("a thread that sends a SYN or a FIN reads the answer itself, and the port's thread is not woken for it",
          "[inline][hold]") {
    same_host_env h;

    const SOCKET s = h.connect();  // blocking: the SYN-ACK completes it
    same_host_link::counts c = h.dev->snapshot();
    REQUIRE(!c.sent_while_held.empty());
    CHECK(c.sent_while_held.front());  // the SYN went out held
    CHECK(c.by_port == 0);             // the SYN-ACK was the connecting thread's
    CHECK(c.by_holder >= 1);
    CHECK(c.holds == 0);  // nothing held once the call returned
    CHECK(c.holds_taken >= 1);

    // A graceful close returns at once; its FIN's ACK is read on the way out.
    h.dev->clear_sent();
    const int holder_reads = c.by_holder;
    REQUIRE(h.env.close(s) == 0);
    c = h.dev->snapshot();
    REQUIRE(!c.sent_while_held.empty());
    CHECK(c.sent_while_held.front());  // the FIN went out held
    CHECK(c.by_port == 0);
    CHECK(c.by_holder == holder_reads + 1);  // the ACK of the FIN
    CHECK(c.released_reading >= 1);
    CHECK(c.holds == 0);
    CHECK(h.conn.fin_received());
}

TEST_CASE("a connection's first data send holds for the quick ACK, later sends take no hold", "[inline][hold]") {
    same_host_env h;
    const SOCKET s = h.connect();
    // The peer acknowledges every data segment at once (quick-ack mode).
    h.env.link.on_transmit([&](const lwsp::memlink::frame& raw) {
        const parsed_frame f = parse_frame(raw);
        if (f.tcp && h.conn.accept(f) && !f.tcp->payload.empty()) h.conn.send_ack();
    });
    same_host_link::counts before = h.dev->snapshot();
    h.dev->clear_sent();
    REQUIRE(h.env.send(s, "first") == 5);
    same_host_link::counts c = h.dev->snapshot();
    REQUIRE(c.sent_while_held.size() == 1);
    CHECK(c.sent_while_held.front());
    CHECK(c.by_port == before.by_port);          // the ACK was the sender's to read
    CHECK(c.by_holder == before.by_holder + 1);  // and it read it before WSPSend returned
    CHECK(c.holds == 0);

    // Later ACKs are delayed or ride on replies: no hold, whatever comes is
    // the port's thread's.
    before = c;
    h.dev->clear_sent();
    REQUIRE(h.env.send(s, "second") == 6);
    REQUIRE(eventually([&] { return h.dev->snapshot().by_port == before.by_port + 1; }));
    c = h.dev->snapshot();
    REQUIRE(c.sent_while_held.size() == 1);
    CHECK_FALSE(c.sent_while_held.front());
    CHECK(c.holds_taken == before.holds_taken);
    CHECK(c.by_holder == before.by_holder);
    CHECK(h.conn.received_string() == "firstsecond");
}

TEST_CASE(
    "a WSPRecv blocked when the stack stops fails WSAENETDOWN, even when it runs again only after every pcb is gone",
    "[inline][stop]") {
    same_host_env h;
    const SOCKET s = h.connect();
    h.dev->close_gate();
    std::atomic<bool> done{false};
    std::atomic<int> rc{0}, err{0};
    std::atomic<DWORD> got{0xffffffff};
    std::thread reader([&] {
        char buf[16];
        WSABUF b{sizeof buf, buf};
        DWORD n = 0xffffffff, flags = 0;
        int e = 0;
        rc = h.env.p.lpWSPRecv(s, &b, 1, &n, &flags, nullptr, nullptr, nullptr, &e);
        err = e;
        got = n;
        done = true;
    });
    REQUIRE(eventually([&] { return h.dev->at_gate() == 1; }));
    // stop() runs to its end (every pcb abandoned) while the reader has
    // not run again.
    const std::size_t sent_before_stop = h.env.link.frames_sent();
    h.env.st.stop();
    CHECK_FALSE(done.load());
    h.dev->open_gate();
    reader.join();
    CHECK(rc == SOCKET_ERROR);
    CHECK(err == WSAENETDOWN);                            // not WSAECONNABORTED, the abandoned pcb's ERR_ABRT
    CHECK(got == 0xffffffff);                             // no count reported
    CHECK(h.env.link.frames_sent() == sent_before_stop);  // stop sends nothing: no RST, no FIN
    CHECK_FALSE(h.conn.rst_received());
}

#endif  // __linux__
