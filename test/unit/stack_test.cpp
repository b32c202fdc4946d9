// The stack core: one stack per process, the injected clock and lwIP's
// timers, waiting and stopping, loopback with no port, pcb clean-up.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "async_call.hpp"
#include "lwip/pbuf.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwsp/memlink.hpp"
#include "lwsp/stack.hpp"
#include "raw_echo.hpp"

using namespace std::chrono_literals;
using lwsp::millis;
using lwsp::test::blocked;
using lwsp::test::stays_false;

namespace {

lwsp::stack::options manual(std::uint64_t start = 0) {
    lwsp::stack::options o;
    o.manual_clock = true;
    o.manual_clock_start = start;
    return o;
}

struct timer_probe {
    int fired = 0;
    u32_t fired_at = 0;
    lwsp::platform::condvar* cv = nullptr;  // notified when the timer fires
    static void cb(void* arg) {
        auto* self = static_cast<timer_probe*>(arg);
        ++self->fired;
        self->fired_at = sys_now();
        if (self->cv) self->cv->notify_all();
    }
};

}  // namespace

TEST_CASE("only one stack may exist in a process", "[stack]") {
    lwsp::stack first(manual());
    REQUIRE(lwsp::stack::current() == &first);
    REQUIRE_THROWS_AS(lwsp::stack(manual()), std::logic_error);
    REQUIRE(lwsp::stack::current() == &first);
}

TEST_CASE("a second stack in the same process starts cleanly after the first", "[stack]") {
    { lwsp::stack first(manual(5000)); }
    REQUIRE(lwsp::stack::current() == nullptr);
    lwsp::stack second(manual(0));
    timer_probe probe;
    {
        auto lk = second.lock();
        sys_timeout(100, timer_probe::cb, &probe);
    }
    second.advance_time(100ms);
    REQUIRE(probe.fired == 1);
    REQUIRE(probe.fired_at == 100);
}

TEST_CASE("the manual clock stands still and fires each timer at its exact time", "[stack][clock]") {
    lwsp::stack st(manual(1000));
    REQUIRE(st.now() == 1000ms);
    timer_probe probe;
    {
        auto lk = st.lock();
        REQUIRE(sys_now() == 1000);
        sys_timeout(1500, timer_probe::cb, &probe);
    }
    // Real time passes; stack time does not (a clock that followed real time
    // would move within this bound; the manual one never depends on it).
    REQUIRE(stays_false([&] { return st.now() != 1000ms; }));
    REQUIRE(st.now() == 1000ms);
    st.advance_time(1499ms);
    REQUIRE(probe.fired == 0);
    st.advance_time(1ms);
    REQUIRE(probe.fired == 1);
    REQUIRE(probe.fired_at == 2500);
    // One big step still fires a timer inside it at its own time.
    {
        auto lk = st.lock();
        sys_timeout(300, timer_probe::cb, &probe);
    }
    st.advance_time(10'000ms);
    REQUIRE(probe.fired == 2);
    REQUIRE(probe.fired_at == 2800);
    REQUIRE(st.now() == 12'500ms);
}

TEST_CASE("advance_time is refused on a steady-clock stack", "[stack][clock]") {
    lwsp::stack st;
    REQUIRE_FALSE(st.manual_clock());
    REQUIRE_THROWS_AS(st.advance_time(1ms), std::logic_error);
}

TEST_CASE("the steady clock runs lwIP timers on the driver thread", "[stack][clock]") {
    lwsp::stack st;
    timer_probe probe;
    lwsp::platform::condvar cv;
    probe.cv = &cv;
    auto lk = st.lock();
    const millis start = st.now();
    sys_timeout(30, timer_probe::cb, &probe);
    auto status = st.wait(
        lk, cv, [&] { return probe.fired == 1; }, start + 5000ms);
    REQUIRE(status == lwsp::stack::wait_status::ready);
    REQUIRE(probe.fired_at >= start.count() + 30);
}

TEST_CASE("wait times out exactly at a manual-clock deadline", "[stack][clock]") {
    lwsp::stack st(manual());
    lwsp::platform::condvar cv;
    std::atomic<int> result{-1};
    const millis deadline = st.now() + 1000ms;
    std::thread waiter([&] {
        auto lk = st.lock();
        auto s = st.wait(
            lk, cv, [] { return false; }, deadline);
        result = static_cast<int>(s);
    });
    CHECK(blocked(st, 1, [&] { return result != -1; }));
    st.advance_time(999ms);  // wakes the waiter: it re-checks its deadline
    CHECK(stays_false([&] { return result != -1; }));
    REQUIRE(result == -1);  // one millisecond early: still waiting
    st.advance_time(1ms);
    waiter.join();
    REQUIRE(result == static_cast<int>(lwsp::stack::wait_status::timed_out));
    REQUIRE(st.now() == 1000ms);
}

TEST_CASE("stopping the stack wakes every waiter", "[stack]") {
    lwsp::stack st(manual());
    lwsp::platform::condvar cv1, cv2;
    std::atomic<int> woken{0};
    std::atomic<int> stopped_status{0};
    auto block = [&](lwsp::platform::condvar& cv) {
        auto lk = st.lock();
        if (st.wait(lk, cv, [] { return false; }) == lwsp::stack::wait_status::stopped) ++stopped_status;
        ++woken;
    };
    std::thread a(block, std::ref(cv1)), b(block, std::ref(cv1)), c(block, std::ref(cv2));
    CHECK(blocked(st, 3, [&] { return woken != 0; }));  // all three wait
    REQUIRE(woken == 0);
    st.stop();
    a.join();
    b.join();
    c.join();
    REQUIRE(stopped_status == 3);
    REQUIRE(st.stopped());
}

TEST_CASE("loopback carries TCP between two pcbs of one stack with no port", "[stack][loopback]") {
    lwsp::stack st;  // steady clock: the driver thread drains the loopback queue
    lwsp::platform::condvar cv;
    lwsp::test::raw_echo_server server;
    server.notify = &cv;
    for (const char* addr : {"127.0.0.1", "::1"}) {
        INFO("address " << addr);
        lwsp::test::raw_client client;
        client.notify = &cv;
        auto lk = st.lock();
        if (server.listener == nullptr) REQUIRE(server.listen(7));
        REQUIRE(client.connect(addr, 7));
        REQUIRE(st.wait(
                    lk, cv, [&] { return client.connected; }, st.now() + 5000ms) == lwsp::stack::wait_status::ready);
        REQUIRE(client.send("hello, loopback"));
        REQUIRE(st.wait(
                    lk, cv, [&] { return client.received.size() == 15; }, st.now() + 5000ms) ==
                lwsp::stack::wait_status::ready);
        REQUIRE(client.received == "hello, loopback");
        client.close();
        REQUIRE(st.wait(
                    lk, cv, [&] { return server.peer_closed; }, st.now() + 5000ms) == lwsp::stack::wait_status::ready);
        server.peer_closed = false;
    }
    REQUIRE(server.accepted == 2);
}

TEST_CASE("stop releases every pcb and the memory behind it", "[stack][leak]") {
    lwsp::stack st;
    const std::size_t heap_before = st.stats().heap_bytes;
    lwsp::platform::condvar cv;
    lwsp::test::raw_echo_server server;
    lwsp::test::raw_client client;
    server.notify = client.notify = &cv;
    {
        auto lk = st.lock();
        REQUIRE(server.listen(9));
        REQUIRE(client.connect("127.0.0.1", 9));
        REQUIRE(st.wait(
                    lk, cv, [&] { return client.connected && server.conn; }, st.now() + 5000ms) ==
                lwsp::stack::wait_status::ready);
        REQUIRE(client.send("queued"));
        struct udp_pcb* u = udp_new();
        REQUIRE(u != nullptr);
        REQUIRE(udp_bind(u, IP_ANY_TYPE, 5353) == ERR_OK);
    }
    auto live = st.stats();
    REQUIRE(live.tcp_listen_pcbs == 1);
    REQUIRE(live.tcp_pcbs == 3);  // listener, client, accepted
    REQUIRE(live.udp_pcbs == 1);
    REQUIRE(live.heap_bytes > heap_before);
    st.stop();
    auto after = st.stats();
    REQUIRE(after.tcp_pcbs == 0);
    REQUIRE(after.udp_pcbs == 0);
    REQUIRE(after.heap_bytes == heap_before);
    // The err callbacks told both ends that their connection is gone.
    REQUIRE(client.error == ERR_ABRT);
    REQUIRE(server.conn == nullptr);
}

TEST_CASE("attach rejects a link it cannot drive", "[stack]") {
    lwsp::stack st(manual());
    auto tiny = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"), 100);
    REQUIRE_THROWS_AS(st.attach(tiny, {}), std::invalid_argument);
    REQUIRE_THROWS_AS(st.attach(nullptr, {}), std::invalid_argument);
    auto ok = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"));
    lwsp::interface_config cfg;
    cfg.ipv6 = {*lwsp::ipv6_address::parse("2001:db8::1"), *lwsp::ipv6_address::parse("2001:db8::2"),
                *lwsp::ipv6_address::parse("2001:db8::3")};
    REQUIRE_THROWS_AS(st.attach(ok, cfg), std::invalid_argument);
}

TEST_CASE("the stack keeps an attached link alive, whatever order the application drops things in",
          "[stack][regression]") {
    // The README's bring-up used to declare the stack before the link: at
    // scope exit the link died first and ~stack() stopped it (use after
    // free).  The stack now shares ownership of what it attaches.
    std::weak_ptr<lwsp::memlink> watch;
    {
        lwsp::stack st(manual());
        {
            auto link = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"));
            watch = link;
            lwsp::interface_config cfg;
            cfg.ipv4 =
                lwsp::ipv4_config{*lwsp::ipv4_address::parse("192.0.2.1"), *lwsp::ipv4_address::parse("255.255.255.0"),
                                  *lwsp::ipv4_address::parse("0.0.0.0")};
            st.attach(link, cfg);
        }  // the application's reference is gone
        auto link = watch.lock();
        REQUIRE(link);
        // Still the stack's working link: it answers an ARP request through it.
        link->take();
        std::vector<std::uint8_t> arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0,   2, 0x08, 0x06,
                                         0,    1,    0x08, 0,    6,    4,    0, 1, 2, 0, 0,   0, 0,    2,
                                         192,  0,    2,    2,    0,    0,    0, 0, 0, 0, 192, 0, 2,    1};
        REQUIRE(link->inject(arp));
        CHECK(link->take().size() == 1);
        link.reset();
        CHECK_FALSE(watch.expired());
    }  // ~stack(): stops the link, then lets it go
    CHECK(watch.expired());
}

TEST_CASE("addresses parse and print", "[stack][address]") {
    REQUIRE(lwsp::ipv4_address::parse("192.0.2.1")->to_string() == "192.0.2.1");
    REQUIRE_FALSE(lwsp::ipv4_address::parse("192.0.2"));
    REQUIRE_FALSE(lwsp::ipv4_address::parse("300.0.0.1"));
    REQUIRE(lwsp::ipv6_address::parse("2001:db8::1")->to_string() == "2001:db8::1");
    REQUIRE_FALSE(lwsp::ipv6_address::parse("2001:db8:::1"));
    // Trailing or embedded garbage (lwIP's parser stops at it and accepts
    // the prefix): refused.
    CHECK_FALSE(lwsp::ipv6_address::parse("2001:db8::g"));
    CHECK_FALSE(lwsp::ipv6_address::parse("2001:db8::1 "));
    CHECK_FALSE(lwsp::ipv6_address::parse("fe80::1%eth0"));
    CHECK_FALSE(lwsp::ipv6_address::parse(""));
    REQUIRE(lwsp::mac_address::parse("02:00:5e:00:53:01")->to_string() == "02:00:5e:00:53:01");
    REQUIRE_FALSE(lwsp::mac_address::parse("02:00:5e:00:53"));
}

TEST_CASE("after stop a new stack may start while the stopped one still exists", "[stack]") {
    lwsp::stack first(manual());
    first.stop();
    REQUIRE(lwsp::stack::current() == nullptr);
    lwsp::stack second(manual(0));
    REQUIRE(lwsp::stack::current() == &second);
    REQUIRE(first.stopped());
    REQUIRE_FALSE(second.stopped());
    timer_probe probe;
    {
        auto lk = second.lock();
        sys_timeout(10, timer_probe::cb, &probe);
    }
    second.advance_time(10ms);
    REQUIRE(probe.fired == 1);
}

TEST_CASE("lwIP's freed blocks are kept for reuse up to options::heap_cache, and none after stop") {
    for (const std::size_t cache : {std::size_t{0}, std::size_t{1} << 20}) {
        lwsp::stack::options o;
        o.heap_cache = cache;
        lwsp::stack st(o);
        const std::size_t heap_before = st.stats().heap_bytes;
        {
            lwsp::core_lock lk(st);
            std::vector<struct pbuf*> held;
            for (int i = 0; i < 8; ++i) held.push_back(pbuf_alloc(PBUF_RAW, 16000, PBUF_RAM));
            for (struct pbuf* p : held) {
                REQUIRE(p != nullptr);
                pbuf_free(p);
            }
        }
        const std::size_t cached = st.stats().heap_cached_bytes;
        INFO("heap_cache " << cache);
        if (cache == 0) {
            CHECK(cached == 0);
        } else {
            CHECK(cached >= 8 * 16000);
            CHECK(cached <= cache);
        }
        CHECK(st.stats().heap_bytes == heap_before);  // cached blocks are not lwIP memory in use
        st.release_heap_cache();
        CHECK(st.stats().heap_cached_bytes == 0);
        st.stop();
        CHECK(st.stats().heap_cached_bytes == 0);
    }
}
