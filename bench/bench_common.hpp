// bench_common.hpp — what every benchmark program shares: argument parsing,
// a clock, percentiles and the result line format.  No socket headers here:
// it is included next to lwsp/ws2spi.h as well as next to POSIX sockets.
//
// Every program prints its measurements as lines
//     RESULT <key> <value>
// on stdout; scripts/bench collects them (bench/report.py aggregates).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
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

// CPU seconds so far: this process (every thread; user + system, which
// includes the kernel's network work done in its system calls) and the
// whole machine (every CPU's non-idle time in /proc/stat: the peer, softirqs
// and everything else).  On an otherwise idle machine the second is the
// cost of a transfer to the system as a whole.
struct cpu_times {
    double process = 0, machine = 0;
    static cpu_times now() {
        cpu_times c;
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        c.process = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
        if (FILE* f = std::fopen("/proc/stat", "r")) {
            unsigned long long v[8] = {};
            if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                            &v[6], &v[7]) == 8) {
                const unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // not idle, not iowait
                c.machine = static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
            }
            std::fclose(f);
        }
        return c;
    }
};

// A bulk transfer measured at steady state, as iperf does: the first
// `warmup` seconds are not counted (slow start, first allocations and page
// faults), the next `seconds` are.  Call add() with every chunk sent or
// received; it returns false once the measured interval is over.  report()
// prints <name> (bit/s), <name>_cpu_s_per_gib (this process) and
// <name>_machine_cpu_s_per_gib (every CPU) for the measured interval.
class steady_meter {
public:
    steady_meter(double warmup, double seconds) : warmup_(warmup), seconds_(seconds), t0_(clock::now()) {}
    bool add(std::uint64_t n) {
        total_ += n;
        const clock::time_point now = clock::now();
        if (!marked_) {
            if (std::chrono::duration<double>(now - t0_).count() < warmup_) return true;
            marked_ = true;
            mark_ = now;
            at_mark_ = total_;
            cpu_mark_ = cpu_times::now();
            return true;
        }
        if (std::chrono::duration<double>(now - mark_).count() < seconds_) return true;
        if (!ended_) {
            ended_ = true;
            end_ = now;
            at_end_ = total_;
            cpu_end_ = cpu_times::now();
        }
        return false;
    }
    bool over() const { return ended_; }
    void report(const std::string& name) const {
        const double t = std::chrono::duration<double>(end_ - mark_).count();
        const double bytes = static_cast<double>(at_end_ - at_mark_);
        const double gib = bytes / (1024.0 * 1024 * 1024);
        result(name, bytes * 8 / t);
        result(name + "_cpu_s_per_gib", (cpu_end_.process - cpu_mark_.process) / gib);
        result(name + "_machine_cpu_s_per_gib", (cpu_end_.machine - cpu_mark_.machine) / gib);
    }

private:
    double warmup_, seconds_;
    clock::time_point t0_, mark_, end_;
    std::uint64_t total_ = 0, at_mark_ = 0, at_end_ = 0;
    bool marked_ = false, ended_ = false;
    cpu_times cpu_mark_, cpu_end_;
};

// Many flows at steady state: run() waits out --warmup, then measures what
// each flow's counter gained over --seconds; report() prints <name>_bps
// (the sum), <name>_jain (Jain's fairness index of the per-flow rates) and
// <name>_machine_cpu_s_per_gib.
class flows_meter {
public:
    explicit flows_meter(const struct args& a)
        : warmup_(std::strtod(a.str("warmup", "1").c_str(), nullptr)),
          seconds_(std::strtod(a.str("seconds", "2").c_str(), nullptr)) {}
    template <class Counters>
    void run(const Counters& counters) {
        std::this_thread::sleep_for(std::chrono::duration<double>(warmup_));
        std::vector<std::uint64_t> from;
        for (const auto& c : counters) from.push_back(c.load());
        const cpu_times c0 = cpu_times::now();
        const clock::time_point t0 = clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds_));
        elapsed_ = seconds_since(t0);
        cpu_ = cpu_times::now().machine - c0.machine;
        rates_.clear();
        std::size_t i = 0;
        for (const auto& c : counters) rates_.push_back(static_cast<double>(c.load() - from[i++]) / elapsed_);
    }
    void report(const std::string& name) const {
        double sum = 0, squares = 0;
        for (double r : rates_) {
            sum += r;
            squares += r * r;
        }
        result(name + "_bps", sum * 8);
        result(name + "_jain", squares > 0 ? sum * sum / (static_cast<double>(rates_.size()) * squares) : 0);
        result(name + "_machine_cpu_s_per_gib", cpu_ / (sum * elapsed_ / (1024.0 * 1024 * 1024)));
    }

private:
    double warmup_, seconds_, elapsed_ = 0, cpu_ = 0;
    std::vector<double> rates_;
};

// `n` bulk flows at once: one thread per flow calls send_chunk(i), which
// returns the bytes it sent, until the meter's interval is over.  The
// caller connects before and ends the flows after.
template <class Send>
flows_meter run_flows(const struct args& a, std::size_t n, Send send_chunk) {
    std::vector<std::atomic<std::uint64_t>> sent(n);
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (std::size_t i = 0; i < n; ++i)
        senders.emplace_back([&, i] {
            while (!stop.load(std::memory_order_relaxed)) sent[i].fetch_add(send_chunk(i), std::memory_order_relaxed);
        });
    flows_meter meter(a);
    meter.run(sent);
    stop = true;
    for (auto& t : senders) t.join();
    return meter;
}

// The meter's interval from --warmup and --seconds (defaults: 1 s, then 2 s).
inline steady_meter meter_from(const struct args& a) {
    const double warmup = std::strtod(a.str("warmup", "1").c_str(), nullptr);
    const double seconds = std::strtod(a.str("seconds", "2").c_str(), nullptr);
    return steady_meter(warmup, seconds);
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
