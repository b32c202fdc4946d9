// lwsp/fifo.hpp, the queue of requests, received pbufs and accepted
// connections: order through interleaved pushes and pops, erase from the
// middle, swap, and elements released when popped.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "lwsp/fifo.hpp"

using lwsp::detail::fifo;

TEST_CASE("fifo: interleaved pushes and pops come out in order") {
    fifo<int> q;
    CHECK(q.empty());
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 200; ++round) {
        for (int k = 0; k < round % 7 + 1; ++k) q.push_back(next_in++);
        for (int k = 0; k < round % 5 + 1 && !q.empty(); ++k) {
            REQUIRE(q.front() == next_out++);
            q.pop_front();
        }
        REQUIRE(q.size() == static_cast<std::size_t>(next_in - next_out));
        if (!q.empty()) REQUIRE(q[q.size() - 1] == next_in - 1);
    }
    while (!q.empty()) {
        REQUIRE(q.front() == next_out++);
        q.pop_front();
    }
    CHECK(next_out == next_in);
}

TEST_CASE("fifo: erase from the middle keeps the order of the rest, swap exchanges whole queues") {
    fifo<int> q;
    for (int i = 0; i < 6; ++i) q.push_back(i);
    q.pop_front();  // 1 2 3 4 5
    for (auto it = q.begin(); it != q.end();) it = (*it % 2 == 0) ? q.erase(it) : it + 1;
    std::vector<int> left(q.begin(), q.end());
    CHECK(left == std::vector<int>{1, 3, 5});
    fifo<int> other;
    other.swap(q);
    CHECK(q.empty());
    CHECK(other.size() == 3);
    CHECK(other.front() == 1);
    for (auto it = other.begin(); it != other.end();) it = other.erase(it);
    CHECK(other.empty());
    other.push_back(7);
    CHECK(other.front() == 7);
}

TEST_CASE("fifo: a popped element is released at once") {
    fifo<std::shared_ptr<int>> q;
    auto a = std::make_shared<int>(1);
    q.push_back(a);
    q.push_back(std::make_shared<int>(2));
    CHECK(a.use_count() == 2);
    q.pop_front();
    CHECK(a.use_count() == 1);  // not kept alive by the consumed slot
    q.clear();
    CHECK(q.empty());
}
