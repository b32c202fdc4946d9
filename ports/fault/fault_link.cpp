// The fault-injecting decorator.  What and why: lwsp/fault_link.hpp.
#include "lwsp/fault_link.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "lwsp/soft_offload.hpp"

namespace lwsp {

namespace {

constexpr std::size_t eth_len = 14;

link& must(const std::shared_ptr<link>& l) {
    if (!l) throw std::invalid_argument("lwsp fault: no link to wrap");
    return *l;
}

void check(const fault_link::rates& r, fault_link::timing mode, const char* which) {
    auto probability = [&](double p, const char* what) {
        if (!(p >= 0.0 && p <= 1.0))
            throw std::invalid_argument(std::string("lwsp fault: ") + which + "." + what + " must be 0..1");
    };
    probability(r.loss, "loss");
    probability(r.corrupt, "corrupt");
    probability(r.duplicate, "duplicate");
    probability(r.reorder, "reorder");
    if (r.corrupt_bits == 0) throw std::invalid_argument(std::string("lwsp fault: ") + which + ".corrupt_bits is 0");
    if (r.delay.count() < 0 || r.jitter.count() < 0)
        throw std::invalid_argument(std::string("lwsp fault: ") + which + ": negative delay or jitter");
    if (mode == fault_link::timing::deterministic && (r.delay.count() != 0 || r.jitter.count() != 0))
        throw std::invalid_argument(std::string("lwsp fault: ") + which + ": delay and jitter need timing::real_time");
}

// Distinct, fixed salts: the two directions draw independent sequences.
constexpr std::uint64_t salt_to_stack = 0x746f5f737461636bull;    // "to_stack"
constexpr std::uint64_t salt_from_stack = 0x66726f6d5f73746bull;  // "from_stk"

}  // namespace

// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit add and a mixing
// function per draw; plenty for fault decisions, and fully specified.
std::uint64_t fault_link::rng::next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double fault_link::rng::unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

std::uint64_t fault_link::rng::below(std::uint64_t n) { return next() % n; }

fault_link::fault_link(std::shared_ptr<link> inner, const plan& p)
    : owner_(std::move(inner)), inner_(must(owner_)), plan_(p) {
    check(p.to_stack, p.mode, "to_stack");
    check(p.from_stack, p.mode, "from_stack");
    in_.r = p.to_stack;
    in_.gen.state = p.seed ^ salt_to_stack;
    out_.r = p.from_stack;
    out_.gen.state = p.seed ^ salt_from_stack;
}

fault_link::~fault_link() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

void fault_link::start(link_sink& sink) {
    {
        std::lock_guard<std::mutex> g(in_emit_);
        outer_ = &sink;
    }
    if (plan_.mode == timing::real_time && !worker_.joinable()) {
        {
            std::lock_guard<std::mutex> g(mu_);
            stopping_ = false;
        }
        worker_ = std::thread([this] { run(); });
    }
    inner_.start(*this);
}

void fault_link::stop() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
    inner_.stop();
    {
        std::lock_guard<std::mutex> g(in_emit_);
        outer_ = nullptr;
    }
    std::lock_guard<std::mutex> g(mu_);
    in_.held.clear();
    out_.held.clear();
    delayed_.clear();
    in_.delayed_now = out_.delayed_now = 0;
}

link_offloads fault_link::offloads() const {
    link_offloads o = inner_.offloads();
    if (plan_.per_segment) o.tx_tcp_segment_max = 0;  // merged frames would only be cut again
    return o;
}

void fault_link::set_rates(direction d, const rates& r) {
    check(r, plan_.mode, d == direction::to_stack ? "to_stack" : "from_stack");
    std::lock_guard<std::mutex> g(mu_);
    lane_of(d).r = r;
}

fault_link::counters fault_link::stats(direction d) const {
    std::lock_guard<std::mutex> g(mu_);
    return lane_of(d).c;
}

bool fault_link::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    std::vector<std::uint8_t> flat;
    const std::uint8_t* data;
    std::size_t size;
    if (count == 1) {
        data = static_cast<const std::uint8_t*>(parts[0].data);
        size = parts[0].size;
    } else {
        for (std::size_t i = 0; i < count; ++i) {
            const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
            flat.insert(flat.end(), p, p + parts[i].size);
        }
        data = flat.data();
        size = flat.size();
    }
    std::lock_guard<std::mutex> emit(out_emit_);
    std::vector<item> now;
    {
        std::lock_guard<std::mutex> g(mu_);
        take(direction::from_stack, data, size, info, now, clock::now());
    }
    return hand_out(now);
}

void fault_link::deliver(const void* frame, std::size_t size) {
    const frame_part one{frame, size};
    deliver_many(&one, 1, nullptr);
}

void fault_link::deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) {
    std::lock_guard<std::mutex> emit(in_emit_);
    std::vector<item> now;
    {
        std::lock_guard<std::mutex> g(mu_);
        const clock::time_point t = clock::now();
        for (std::size_t i = 0; i < count; ++i)
            take(direction::to_stack, static_cast<const std::uint8_t*>(frames[i].data), frames[i].size,
                 info ? info[i] : frame_info{}, now, t);
    }
    hand_in(now);
}

void fault_link::set_link_up(bool up) {
    std::lock_guard<std::mutex> emit(in_emit_);
    if (outer_) outer_->set_link_up(up);
}

void fault_link::take(direction d, const std::uint8_t* data, std::size_t size, const frame_info& info,
                      std::vector<item>& now_out, clock::time_point now) {
    if (plan_.per_segment && info.gso_size != 0) {
        std::vector<frame_bytes> segments;
        if (to_wire_frames(data, size, info, segments)) {
            ++lane_of(d).c.cut;
            for (frame_bytes& s : segments) one(d, item{std::move(s), frame_info{}}, now_out, now);
            return;
        }
        // Metadata that does not fit the frame: impaired as it is; the
        // receiver judges it.
    }
    one(d, item{std::vector<std::uint8_t>(data, data + size), info}, now_out, now);
}

void fault_link::one(direction d, item it, std::vector<item>& now_out, clock::time_point now) {
    lane& l = lane_of(d);
    ++l.c.frames;
    // Always the same draws in the same order, whatever the rates: changing
    // one rate does not shift the decisions of the others.
    const double u_loss = l.gen.unit();
    const double u_corrupt = l.gen.unit();
    const double u_duplicate = l.gen.unit();
    const double u_reorder = l.gen.unit();
    const double u_jitter = l.gen.unit();

    if (u_loss < l.r.loss) {
        ++l.c.lost;
        return;
    }
    std::vector<item> out;
    if (u_corrupt < l.r.corrupt) {
        if (!corrupt(l, it, out)) {
            ++l.c.lost;  // cannot be made a wire frame: it never arrives
            return;
        }
    } else {
        out.push_back(std::move(it));
    }
    if (u_duplicate < l.r.duplicate) {
        ++l.c.duplicated;
        const std::size_t n = out.size();
        for (std::size_t i = 0; i < n; ++i) out.push_back(out[i]);
    }
    std::chrono::microseconds delay = l.r.delay;
    if (l.r.jitter.count() != 0) {
        const double shift = (2.0 * u_jitter - 1.0) * static_cast<double>(l.r.jitter.count());
        delay =
            std::max(std::chrono::microseconds(0), delay + std::chrono::microseconds(static_cast<std::int64_t>(shift)));
    }
    if (u_reorder < l.r.reorder && l.r.reorder_gap != 0 && l.held.size() + out.size() <= plan_.queue_limit) {
        ++l.c.reordered;
        for (item& o : out) l.held.push_back({std::move(o), l.r.reorder_gap, now + plan_.reorder_hold, delay});
        if (plan_.mode == timing::real_time) wake_.notify_one();
        return;
    }
    const std::size_t n = out.size();
    for (item& o : out) pass(d, std::move(o), delay, now_out, now);
    overtaken(d, n, now_out, now);
}

bool fault_link::corrupt(lane& l, item& it, std::vector<item>& out) {
    if (!it.info.plain()) {
        std::vector<frame_bytes> wire;
        if (!to_wire_frames(it.data.data(), it.data.size(), it.info, wire)) return false;
        ++l.c.made_plain;
        if (it.info.gso_size != 0) ++l.c.cut;
        for (frame_bytes& f : wire) out.push_back(item{std::move(f), frame_info{}});
    } else {
        out.push_back(std::move(it));
    }
    std::vector<std::uint8_t>& victim = out[l.gen.below(out.size())].data;
    const std::size_t from = victim.size() > eth_len ? eth_len : 0;
    const std::uint64_t span = (victim.size() - from) * 8;
    if (span == 0) return true;
    std::vector<std::uint64_t> flipped;
    const std::uint64_t bits = std::min<std::uint64_t>(l.r.corrupt_bits, span);
    while (flipped.size() < bits) {  // distinct bits: two flips of one bit would cancel
        const std::uint64_t b = l.gen.below(span);
        if (std::find(flipped.begin(), flipped.end(), b) != flipped.end()) continue;
        flipped.push_back(b);
        victim[from + b / 8] ^= static_cast<std::uint8_t>(1u << (b % 8));
    }
    ++l.c.corrupted;
    return true;
}

void fault_link::pass(direction d, item it, std::chrono::microseconds delay, std::vector<item>& now_out,
                      clock::time_point now) {
    if (delay.count() == 0) {
        now_out.push_back(std::move(it));
        return;
    }
    lane& l = lane_of(d);
    if (l.delayed_now >= plan_.queue_limit) {
        ++l.c.overflow;
        return;
    }
    ++l.c.delayed;
    ++l.delayed_now;
    delayed_.emplace(std::make_pair(now + delay, order_++), std::make_pair(d, std::move(it)));
    wake_.notify_one();
}

void fault_link::overtaken(direction d, std::size_t frames, std::vector<item>& now_out, clock::time_point now) {
    lane& l = lane_of(d);
    for (auto h = l.held.begin(); h != l.held.end();) {
        h->left -= static_cast<unsigned>(std::min<std::size_t>(h->left, frames));
        if (h->left != 0) {
            ++h;
            continue;
        }
        pass(d, std::move(h->it), h->delay, now_out, now);
        h = l.held.erase(h);
    }
}

void fault_link::collect_due(direction d, clock::time_point now, bool all, std::vector<item>& out) {
    lane& l = lane_of(d);
    for (auto it = delayed_.begin(); it != delayed_.end() && (all || it->first.first <= now);) {
        if (it->second.first != d) {
            ++it;
            continue;
        }
        out.push_back(std::move(it->second.second));
        --l.delayed_now;
        it = delayed_.erase(it);
    }
    for (auto h = l.held.begin(); h != l.held.end();) {
        if (!all && (plan_.mode != timing::real_time || h->deadline > now)) {
            ++h;
            continue;
        }
        pass(d, std::move(h->it), all ? std::chrono::microseconds(0) : h->delay, out, now);
        h = l.held.erase(h);
    }
}

bool fault_link::hand_out(std::vector<item>& frames) {
    if (frames.empty()) return true;
    std::uint64_t refused = 0;
    for (item& f : frames) {
        const frame_part p{f.data.data(), f.data.size()};
        if (!inner_.transmit(&p, 1, f.info)) ++refused;
    }
    std::lock_guard<std::mutex> g(mu_);
    out_.c.passed += frames.size();
    out_.c.refused += refused;
    return refused == 0;
}

void fault_link::hand_in(std::vector<item>& frames) {
    if (frames.empty() || outer_ == nullptr) return;
    std::vector<frame_part> parts;
    std::vector<frame_info> infos;
    parts.reserve(frames.size());
    infos.reserve(frames.size());
    for (item& f : frames) {
        parts.push_back({f.data.data(), f.data.size()});
        infos.push_back(f.info);
    }
    outer_->deliver_many(parts.data(), parts.size(), infos.data());
    std::lock_guard<std::mutex> g(mu_);
    in_.c.passed += frames.size();
}

void fault_link::release(bool all) {
    {
        std::lock_guard<std::mutex> emit(out_emit_);
        std::vector<item> due;
        {
            std::lock_guard<std::mutex> g(mu_);
            collect_due(direction::from_stack, clock::now(), all, due);
        }
        hand_out(due);
    }
    std::lock_guard<std::mutex> emit(in_emit_);
    std::vector<item> due;
    {
        std::lock_guard<std::mutex> g(mu_);
        collect_due(direction::to_stack, clock::now(), all, due);
    }
    hand_in(due);
}

void fault_link::flush() { release(true); }

void fault_link::run() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stopping_) {
        clock::time_point next = clock::time_point::max();
        if (!delayed_.empty()) next = delayed_.begin()->first.first;
        for (const lane* l : {&in_, &out_})
            for (const held_item& h : l->held) next = std::min(next, h.deadline);
        if (next == clock::time_point::max()) {
            wake_.wait(lk);
            continue;
        }
        if (next > clock::now()) {
            wake_.wait_until(lk, next);
            continue;
        }
        lk.unlock();
        release(false);
        lk.lock();
    }
}

}  // namespace lwsp
