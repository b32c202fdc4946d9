#include "lwsp/pcap_link.hpp"

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace lwsp {

namespace {

template <class T>
void put(std::FILE* f, T v) {
    std::fwrite(&v, sizeof v, 1, f);  // pcap headers are in the writer's byte order
}

}  // namespace

namespace {
link& must(const std::shared_ptr<link>& l) {
    if (!l) throw std::invalid_argument("lwsp pcap: no link to wrap");
    return *l;
}
}  // namespace

pcap_link::pcap_link(std::shared_ptr<link> inner, const std::string& path, observer obs)
    : owner_(std::move(inner)), inner_(must(owner_)), obs_(std::move(obs)) {
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) throw std::runtime_error("lwsp pcap: cannot create " + path + ": " + std::strerror(errno));
    put<std::uint32_t>(file_, 0xa1b2c3d4);  // magic: microsecond timestamps
    put<std::uint16_t>(file_, 2);
    put<std::uint16_t>(file_, 4);
    put<std::int32_t>(file_, 0);
    put<std::uint32_t>(file_, 0);
    put<std::uint32_t>(file_, 262144);  // snaplen
    put<std::uint32_t>(file_, 1);       // LINKTYPE_ETHERNET
    std::fflush(file_);
}

pcap_link::~pcap_link() {
    std::lock_guard<std::mutex> g(mu_);
    if (file_) std::fclose(file_);
}

void pcap_link::start(link_sink& sink) {
    outer_ = &sink;
    inner_.start(*this);
}

void pcap_link::stop() {
    inner_.stop();
    outer_ = nullptr;
    std::lock_guard<std::mutex> g(mu_);
    if (file_) std::fflush(file_);
}

bool pcap_link::transmit(const frame_part* parts, std::size_t count, const frame_info& info) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += parts[i].size;
    std::vector<std::uint8_t> flat;
    flat.reserve(total);
    for (std::size_t i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::uint8_t*>(parts[i].data);
        flat.insert(flat.end(), p, p + parts[i].size);
    }
    record(direction::out, flat.data(), flat.size());
    return inner_.transmit(parts, count, info);
}

void pcap_link::deliver(const void* frame, std::size_t size) {
    record(direction::in, static_cast<const std::uint8_t*>(frame), size);
    if (outer_) outer_->deliver(frame, size);
}

void pcap_link::deliver_many(const frame_part* frames, std::size_t count, const frame_info* info) {
    for (std::size_t i = 0; i < count; ++i)
        record(direction::in, static_cast<const std::uint8_t*>(frames[i].data), frames[i].size);
    if (outer_) outer_->deliver_many(frames, count, info);
}

void pcap_link::set_link_up(bool up) {
    if (outer_) outer_->set_link_up(up);
}

void pcap_link::record(direction d, const std::uint8_t* data, std::size_t size) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    {
        std::lock_guard<std::mutex> g(mu_);
        if (file_) {
            put<std::uint32_t>(file_, static_cast<std::uint32_t>(us / 1000000));
            put<std::uint32_t>(file_, static_cast<std::uint32_t>(us % 1000000));
            put<std::uint32_t>(file_, static_cast<std::uint32_t>(size));
            put<std::uint32_t>(file_, static_cast<std::uint32_t>(size));
            std::fwrite(data, 1, size, file_);
        }
        ++frames_;
    }
    if (obs_) obs_(d, data, size);
}

std::uint64_t pcap_link::frames_recorded() const {
    std::lock_guard<std::mutex> g(mu_);
    return frames_;
}

}  // namespace lwsp
