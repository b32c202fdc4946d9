// bench_common.hpp — what every benchmark program shares: argument parsing,
// a clock, percentiles and the result line format.  No socket headers here:
// it is included next to lwsp/ws2spi.h as well as next to POSIX sockets.
//
// Every program prints its measurements as lines
//     RESULT <key> <value>
// on stdout; scripts/bench collects them (bench/report.py aggregates).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace bench {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }

// --key value pairs and bare --flags.
struct args {
    std::map<std::string, std::string> kv;
    std::vector<std::string> positional;
    args(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) == 0) {
                if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
                    kv[a.substr(2)] = argv[++i];
                else
                    kv[a.substr(2)] = "1";
            } else {
                positional.push_back(a);
            }
        }
    }
    std::string str(const std::string& k, const std::string& d) const {
        auto it = kv.find(k);
        return it == kv.end() ? d : it->second;
    }
    std::uint64_t num(const std::string& k, std::uint64_t d) const {
        auto it = kv.find(k);
        return it == kv.end() ? d : std::strtoull(it->second.c_str(), nullptr, 10);
    }
};

inline void result(const std::string& key, double value) {
    std::printf("RESULT %s %.6g\n", key.c_str(), value);
    std::fflush(stdout);
}

// Percentile of unsorted samples (nearest rank); sorts in place.
inline double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

// Request/response samples (microseconds) -> RESULT lines.
inline void report_rtt(const std::string& prefix, std::vector<double> us) {
    result(prefix + ".rtt_p50_us", percentile(us, 50));
    result(prefix + ".rtt_p99_us", percentile(us, 99));
}

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "bench: %s\n", what.c_str());
    std::exit(1);
}

// Ports the kernel server listens on (bench_kernel server).
enum port : std::uint16_t {
    port_sink = 5001,    // reads to EOF, then writes one byte and closes
    port_source = 5002,  // reads an 8-byte big-endian count, writes that many bytes, closes
    port_echo = 5003,    // echoes every byte (TCP_NODELAY)
    port_crr = 5004,     // reads 1 byte, writes 1 byte, waits for EOF, closes
    port_hold = 5005,    // accepts and keeps connections open, idle
    port_greet = 5006,   // like port_hold, but first writes one 1460-byte segment
};

}  // namespace bench
