// The C bring-up API (lwsp/lwsp.h): start, WSPStartup, stop, start again.
#include <catch2/catch.hpp>

#include "lwsp/lwsp.h"
#include "lwsp/memlink.hpp"
#include "lwsp/c_link.h"

TEST_CASE("lwsp_start and lwsp_stop bring the provider up and down and up again", "[capi]") {
    lwsp_options manual{};
    manual.manual_clock = 1;
    REQUIRE(lwsp_start(&manual) == 0);
    CHECK(lwsp_start(&manual) == -1);  // one stack per process

    lwsp_link handle{std::make_shared<lwsp::memlink>(*lwsp::mac_address::parse("02:00:00:00:00:01"))};
    lwsp_interface_config cfg{"192.0.2.1", "255.255.255.0", nullptr, "2001:db8::1", 1};
    char error[128] = "";
    const int id = lwsp_attach(&handle, &cfg, error, sizeof error);
    INFO(error);
    CHECK(id > 0);
    lwsp_interface_config bad{"192.0.2", nullptr, nullptr, nullptr, 0};
    CHECK(lwsp_attach(&handle, &bad, error, sizeof error) == -1);
    CHECK(std::string(error).find("IPv4") != std::string::npos);

    WSPDATA data{};
    WSPPROC_TABLE procs{};
    REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &procs) == 0);
    int err = 0;
    SOCKET s = procs.lpWSPSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0, &err);
    REQUIRE(s != INVALID_SOCKET);
    CHECK(lwsp_advance_time(1000) == 0);

    lwsp_stop();
    CHECK(procs.lpWSPCloseSocket(s, &err) == SOCKET_ERROR);
    CHECK(err == WSAENETDOWN);
    CHECK(procs.lpWSPCleanup(&err) == 0);
    CHECK(lwsp_advance_time(1) == -1);  // no stack

    REQUIRE(lwsp_start(nullptr) == 0);  // a steady-clock stack this time
    REQUIRE(WSPStartup(MAKEWORD(2, 2), &data, nullptr, WSPUPCALLTABLE{}, &procs) == 0);
    s = procs.lpWSPSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, 0, &err);
    CHECK(s != INVALID_SOCKET);
    CHECK(procs.lpWSPCloseSocket(s, &err) == 0);
    CHECK(procs.lpWSPCleanup(&err) == 0);
    lwsp_stop();
}
