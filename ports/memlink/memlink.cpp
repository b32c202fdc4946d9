#include "lwsp/memlink.hpp"

#include <cstring>

namespace lwsp {

memlink::memlink(mac_address mac, std::size_t mtu) : mac_(mac), mtu_(mtu) {}

void memlink::start(link_sink& sink) {
    std::lock_guard<std::mutex> g(mu_);
    sink_ = &sink;
}

void memlink::stop() {
    std::lock_guard<std::mutex> g(mu_);
    sink_ = nullptr;
}

bool memlink::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    frame f;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
    f.reserve(total);
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
        f.insert(f.end(), p, p + parts[i].size);
    }
    std::function<void(const frame&)> hook;
    {
        std::lock_guard<std::mutex> g(mu_);
        hook = hook_;
    }
    if (hook) hook(f);
    {
        std::lock_guard<std::mutex> g(mu_);
        sent_.emplace_back(std::move(f), info);
        ++total_sent_;
    }
    cv_.notify_all();
    return true;
}

bool memlink::inject(const frame& f, const frame_info& info) {
    link_sink* sink;
    {
        std::lock_guard<std::mutex> g(mu_);
        sink = sink_;
    }
    // stop() is called by the stack's detach, which a test does not run
    // concurrently with inject(); the sink outlives this call.
    if (sink == nullptr) return false;
    const frame_part one{f.data(), f.size()};
    sink->deliver_many(&one, 1, &info);
    return true;
}

std::vector<memlink::frame> memlink::take() {
    std::vector<frame> out;
    for (auto& entry : take_with_info()) out.push_back(std::move(entry.first));
    return out;
}

std::vector<std::pair<memlink::frame, frame_info>> memlink::take_with_info() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<std::pair<frame, frame_info>> out(std::make_move_iterator(sent_.begin()),
                                                  std::make_move_iterator(sent_.end()));
    sent_.clear();
    return out;
}

bool memlink::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> g(mu_);
    return cv_.wait_for(g, timeout, [&] { return sent_.size() >= count; });
}

void memlink::set_link_up(bool up) {
    link_sink* sink;
    {
        std::lock_guard<std::mutex> g(mu_);
        sink = sink_;
    }
    if (sink) sink->set_link_up(up);
}

void memlink::on_transmit(std::function<void(const frame&)> hook) {
    std::lock_guard<std::mutex> g(mu_);
    hook_ = std::move(hook);
}

std::size_t memlink::frames_sent() const {
    std::lock_guard<std::mutex> g(mu_);
    return total_sent_;
}

}  // namespace lwsp
