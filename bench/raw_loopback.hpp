// raw_loopback.hpp — the raw-API half of the shim-cost benchmark, and lwIP
// facts the memory benchmark reports.  Implemented in raw_loopback.cpp, the
// only translation unit of bench_lwsp that includes lwIP's headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lwsp {
class stack;
}

namespace bench {

// Moves `bytes` from one raw-API pcb to another over lwIP's loopback
// interface (127.0.0.1:port) of `st`, the same way the WSP half does
// (copying writes, tcp_recved as data is consumed).  Returns the seconds
// from the first write to the last byte received, or a negative value on
// failure.
double raw_loopback_transfer(lwsp::stack& st, std::uint64_t bytes, std::uint16_t port);

std::size_t raw_tcp_pcb_size();  // sizeof(struct tcp_pcb) in this lwIP build
std::size_t raw_tcp_mss();       // TCP_MSS

}  // namespace bench
