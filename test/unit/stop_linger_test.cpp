// stack::stop() while WSPCloseSocket is in its linger wait (found by
// lossy_test.cpp; ASan: heap-use-after-free in tcp_endpoint::on_err).
//
// stop() sets `stopping`, wakes every waiter, then detaches the interfaces;
// netif_remove() aborts the pcbs bound to their addresses, which calls their
// err callbacks.  The closing thread woke first and destroyed its endpoint,
// which — seeing the stack stopping — forgot its pcb without clearing the
// pcb's callbacks; lwIP then called on_err on the freed endpoint.  Endpoints
// now forget a pcb only once stop() has really freed them all
// (stack::pcbs_released); before that they let go of it the normal way.
//
// The test makes the order certain: the connection lives on a second
// interface, and the first interface's link does not finish stopping until
// the closing thread has returned.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "async_call.hpp"
#include "wsp_fixture.hpp"

using namespace lwsp::test;
using namespace std::chrono_literals;

namespace {

// A link whose stop() waits (bounded) until `open` is set: it holds stop()
// between the removal of one interface and the next.
class gate_link final : public lwsp::link {
public:
    gate_link(std::shared_ptr<lwsp::link> inner, std::shared_ptr<std::atomic<bool>> open)
        : inner_(std::move(inner)), open_(std::move(open)) {}
    std::size_t mtu() const override { return inner_->mtu(); }
    lwsp::mac_address mac() const override { return inner_->mac(); }
    void start(lwsp::link_sink& sink) override { inner_->start(sink); }
    bool transmit(const lwsp::frame_part* parts, std::size_t count, const lwsp::frame_info& info) override {
        return inner_->transmit(parts, count, info);
    }
    void stop() override {
        eventually([this] { return open_->load(); }, 5000ms);
        inner_->stop();
    }

private:
    std::shared_ptr<lwsp::link> inner_;
    std::shared_ptr<std::atomic<bool>> open_;
};

}  // namespace

TEST_CASE("stack::stop() while WSPCloseSocket lingers: the endpoint lets go of its pcb cleanly",
          "[close][linger][regression]") {
    auto closer_returned = std::make_shared<std::atomic<bool>>(false);
    wsp_env env(true, nullptr, [closer_returned](std::shared_ptr<lwsp::memlink> m) {
        return std::make_shared<gate_link>(std::move(m), closer_returned);
    });
    // A second interface, detached after the gated one; the connection
    // lives on it.
    const endpoint_config stack2{mac_addr::parse("02:00:00:00:00:03"), ip_addr::parse("198.51.100.1")};
    const endpoint_config peer2{mac_addr::parse("02:00:00:00:00:04"), ip_addr::parse("198.51.100.2")};
    auto wire2 = std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:03"));
    lwsp::interface_config cfg;
    cfg.ipv4 = lwsp::ipv4_config{*lwsp::ipv4_address::parse("198.51.100.1"),
                                 *lwsp::ipv4_address::parse("255.255.255.0"), *lwsp::ipv4_address::parse("0.0.0.0")};
    cfg.default_route = false;
    env.st.attach(wire2, cfg);
    scripted_peer peer(peer2, stack2, [&wire2](const bytes& f) { wire2->inject(f); });
    peer.announce();

    SOCKET lst = env.listener(80);
    tcp_script conn(peer, 40000, 80);
    conn.send_syn();
    bool established = false;
    for (const bytes& f : wire2->take()) {
        const parsed_frame pf = parse_frame(f);
        if (pf.tcp && pf.tcp->has(tcp_syn | tcp_ack) && conn.accept(pf)) {
            conn.send_ack();
            established = true;
        }
    }
    REQUIRE(established);
    int err = 0;
    SOCKET s = env.p.lpWSPAccept(lst, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE(s != INVALID_SOCKET);
    REQUIRE(env.send(s, "never acknowledged") == 18);
    REQUIRE(env.set_linger(s, 1, 30) == 0);

    async_call<int> closer([&] {
        const int r = env.close(s);
        closer_returned->store(true);
        return r;
    });
    REQUIRE(eventually([&] { return !env.handle_valid(s); }));  // close is in its linger wait
    env.st.stop();                                              // crashes here while the bug is there
    REQUIRE(closer.wait());
    CHECK(closer_returned->load());
}
