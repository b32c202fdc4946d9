// lwsp/fault_link.hpp — a link that wraps a link and impairs the frames
// crossing it, both ways, by a seeded plan: loss, corruption (bit flips),
// duplication, reordering, delay with jitter.  The role `tc netem` plays on
// Linux, inside the process: it needs no kernel module (this project's CI
// kernel has no sch_netem), runs on every platform lwsp targets, and with
// the same seed makes the same decisions.  Links wrap links, as pcap_link.
//
// Plugging in: wrap the real port, attach the wrapper (which shares
// ownership of the link it wraps, the stack that of the wrapper):
//     lwsp::fault_link::plan p;
//     p.seed = 7;
//     p.mode = lwsp::fault_link::timing::real_time;
//     p.to_stack.loss = p.from_stack.loss = 0.01;
//     st.attach(std::make_shared<lwsp::fault_link>(lwsp::tap_link::open(o), p), cfg);
//
// Each direction has its own rates (`to_stack`: frames the wrapped link
// delivers; `from_stack`: frames the stack transmits), its own counters and
// its own pseudo-random sequence (seed and direction; a generator defined
// here, not the standard library's distributions, so the sequence is the
// same on every platform).  Every frame draws the same five numbers in the
// same order, so the same seed and the same frames give the same decisions.
// A frame goes through, in this order:
//   loss       dropped;
//   corrupt    `corrupt_bits` bits flipped at random positions after the
//              Ethernet header (a flipped MAC address is a loss, not a test
//              of the stack).  One flipped bit is always caught by the
//              Internet checksum: the receiver drops the frame, as after a
//              loss.  With more, the damage can cancel out in the sum and
//              reach the application — as on a wire whose CRC failed to
//              catch it — so end-to-end transfers that must arrive intact
//              use 1 (the default);
//   duplicate  handed on twice;
//   reorder    held back until `reorder_gap` later frames have been handed
//              on (in real time also until `reorder_hold` has passed,
//              whichever comes first), then handed on after them;
//   delay      real time only: handed on `delay` ± a uniform `jitter`
//              later.  Like netem, jitter reorders frames sent closer
//              together than it.
//
// Offloaded frames (frame_info not plain) — corruption modelled honestly:
//  * a frame whose checksums are partial or verified never crossed a wire
//    as such.  One chosen for corruption is first made what a wire would
//    carry — checksums completed, a frame standing for several segments
//    cut into them (lwsp/soft_offload.hpp) — and one of those plain frames
//    is corrupted, so the receiver verifies the damage as it would after a
//    wire.  Frames that are not corrupted keep their metadata.
//  * `per_segment` (on by default): a frame standing for several TCP
//    segments (gso_size) is cut into them before anything else, so each
//    impairment hits one wire frame and a loss rate means what it means on
//    a wire.  The link then announces no TCP segmentation to the stack (a
//    merged frame would only be cut again); checksum offload stays.
//
// Timing:
//  * deterministic (the default, for unit tests): no thread, no time.
//    Frames leave inside the call that brought them (transmit(), or the
//    wrapped link's delivery), held-back frames when later frames have
//    overtaken them or at flush().  delay and jitter must be zero.  The same
//    seed and the same frames give the same output, frame for frame.
//  * real_time: a thread of the link's own hands on delayed frames at their
//    time and held-back frames whose hold expired.  Frames waiting at once
//    per direction are bounded (`queue_limit`, like netem's `limit`);
//    beyond it they are dropped and counted.
//
// Threading: the link contract's rules.  transmit() (under the core lock)
// never waits for time and never calls into the stack.  Frames towards the
// stack are handed over from the wrapped link's thread or from the fault
// link's thread, never from inside transmit().  The wrapped link's
// transmit() is called from inside transmit() or from the fault link's
// thread, never by two threads at once.  stop() joins the thread and drops
// whatever was still held or delayed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "lwsp/link.hpp"

namespace lwsp {

class fault_link final : public link, private link_sink {
public:
    enum class direction { to_stack, from_stack };
    enum class timing { deterministic, real_time };

    // Impairments of one direction; probabilities per frame, 0 to 1.
    struct rates {
        double loss = 0;
        double corrupt = 0;
        unsigned corrupt_bits = 1;
        double duplicate = 0;
        double reorder = 0;
        unsigned reorder_gap = 3;
        std::chrono::microseconds delay{0};   // real_time only
        std::chrono::microseconds jitter{0};  // real_time only
    };

    struct plan {
        std::uint64_t seed = 1;
        rates to_stack;
        rates from_stack;
        timing mode = timing::deterministic;
        bool per_segment = true;
        std::chrono::microseconds reorder_hold{10000};  // real_time: longest a held-back frame waits
        std::size_t queue_limit = 10000;                // real_time: frames held or delayed per direction
    };

    // What one direction did.  A frame cut into segments counts as its
    // segments from `frames` on.
    struct counters {
        std::uint64_t frames = 0;  // frames that came in
        std::uint64_t lost = 0;
        std::uint64_t corrupted = 0;
        std::uint64_t duplicated = 0;
        std::uint64_t reordered = 0;   // held back
        std::uint64_t delayed = 0;     // put in the delay queue
        std::uint64_t cut = 0;         // frames standing for several segments, cut into them
        std::uint64_t made_plain = 0;  // offloaded frames made plain to be corrupted
        std::uint64_t overflow = 0;    // dropped: queue_limit reached
        std::uint64_t passed = 0;      // frames handed on, duplicates included
        std::uint64_t refused = 0;     // of those, frames the wrapped link refused (from_stack)
    };

    // Throws std::invalid_argument for a null link, a probability outside
    // 0..1, corrupt_bits 0, or a delay in deterministic mode.
    fault_link(std::shared_ptr<link> inner, const plan& p);
    ~fault_link() override;

    std::size_t mtu() const override { return inner_.mtu(); }
    mac_address mac() const override { return inner_.mac(); }
    void start(link_sink& sink) override;
    link_offloads offloads() const override;
    bool transmit(const frame_part* parts, std::size_t count, const frame_info& info) override;
    void stop() override;

    // New rates for one direction, from the next frame on (any thread;
    // validated as in the constructor).
    void set_rates(direction d, const rates& r);
    counters stats(direction d) const;
    // Hands on at once every frame held back or delayed, oldest first.
    // Call it without the core lock: frames towards the stack take it, and
    // frames from the stack reach the wrapped link's transmit() outside it
    // (memlink allows that; a device port may not care either).
    void flush();

private:
    struct item {
        std::vector<std::uint8_t> data;
        frame_info info;
    };
    struct held_item {
        item it;
        unsigned left;  // frames still to overtake it
        std::chrono::steady_clock::time_point deadline;
        std::chrono::microseconds delay;
    };
    // A generator of our own: the same sequence on every platform.
    struct rng {
        std::uint64_t state;
        std::uint64_t next();
        double unit();                         // [0, 1)
        std::uint64_t below(std::uint64_t n);  // [0, n), n > 0
    };
    struct lane {
        rates r;
        rng gen;
        counters c;
        std::deque<held_item> held;
        std::size_t delayed_now = 0;  // in the delay queue
    };
    using clock = std::chrono::steady_clock;

    void deliver(const void* frame, std::size_t size) override;
    void deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) override;
    void set_link_up(bool up) override;

    lane& lane_of(direction d) { return d == direction::to_stack ? in_ : out_; }
    const lane& lane_of(direction d) const { return d == direction::to_stack ? in_ : out_; }
    // Under mu_: one frame as it came in; frames to hand on now are
    // appended to `now_out`.
    void take(direction d, const std::uint8_t* data, std::size_t size, const frame_info& info,
              std::vector<item>& now_out, clock::time_point now);
    void one(direction d, item it, std::vector<item>& now_out, clock::time_point now);
    bool corrupt(lane& l, item& it, std::vector<item>& out);
    void pass(direction d, item it, std::chrono::microseconds delay, std::vector<item>& now_out, clock::time_point now);
    void overtaken(direction d, std::size_t frames, std::vector<item>& now_out, clock::time_point now);
    // Under mu_: everything due by `now` (all of it if `all`), oldest first.
    void collect_due(direction d, clock::time_point now, bool all, std::vector<item>& out);
    bool hand_out(std::vector<item>& frames);  // out_emit_ held; false if the link refused one
    void hand_in(std::vector<item>& frames);   // in_emit_ held
    void release(bool all);
    void run();

    std::shared_ptr<link> owner_;
    link& inner_;
    const plan plan_;
    link_sink* outer_ = nullptr;

    // Lock order: in_emit_ → (the stack's core lock) → out_emit_ → mu_.
    std::mutex in_emit_;     // one hand-over towards the stack at a time, in order
    std::mutex out_emit_;    // one call of the wrapped link's transmit() at a time
    mutable std::mutex mu_;  // decisions, queues, counters
    std::condition_variable wake_;
    lane in_, out_;
    // Delayed frames by due time (then arrival), each with its direction.
    std::map<std::pair<clock::time_point, std::uint64_t>, std::pair<direction, item>> delayed_;
    std::uint64_t order_ = 0;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace lwsp
