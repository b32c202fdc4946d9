// input.hpp — reading a fuzzer's input as a stream of small records.
//
// Every harness decodes its input front to back with this reader.  Reading
// past the end is not an error: it yields zeros, so every byte string is a
// valid input and a mutation that cuts a record short still means something
// (the record with its tail zeroed).  Readers and writers (the seed
// generator, make_corpus.cpp) agree on the layout through the record
// definitions in each harness's *_format.hpp; integers are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lwsp::fuzz {

class input {
public:
    input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

    bool empty() const { return pos_ >= n_; }
    std::size_t left() const { return pos_ < n_ ? n_ - pos_ : 0; }

    std::uint8_t u8() { return pos_ < n_ ? p_[pos_++] : 0; }
    std::uint16_t u16() {
        const std::uint16_t lo = u8();
        return static_cast<std::uint16_t>(lo | u8() << 8);
    }
    std::uint32_t u32() {
        const std::uint32_t lo = u16();
        return lo | static_cast<std::uint32_t>(u16()) << 16;
    }
    bool flag() { return (u8() & 1) != 0; }

    // Up to `n` bytes (fewer at the end of the input).
    std::vector<std::uint8_t> bytes(std::size_t n) {
        const std::size_t k = n < left() ? n : left();
        std::vector<std::uint8_t> out(p_ + pos_, p_ + pos_ + k);
        pos_ += k;
        return out;
    }
    // A length byte, then that many bytes.
    std::vector<std::uint8_t> blob8() { return bytes(u8()); }
    // A 16-bit length (capped at `max`), then that many bytes.
    std::vector<std::uint8_t> blob16(std::size_t max) {
        std::size_t n = u16();
        if (n > max) n = max;
        return bytes(n);
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
};

// The writing side, for the seed generator and the harnesses' own tests.
class output {
public:
    output& u8(unsigned v) {
        buf_.push_back(static_cast<std::uint8_t>(v));
        return *this;
    }
    output& u16(unsigned v) { return u8(v & 0xff).u8(v >> 8 & 0xff); }
    output& u32(std::uint32_t v) { return u16(v & 0xffff).u16(v >> 16); }
    output& bytes(const std::vector<std::uint8_t>& b) {
        buf_.insert(buf_.end(), b.begin(), b.end());
        return *this;
    }
    output& blob8(const std::vector<std::uint8_t>& b) {
        u8(static_cast<unsigned>(b.size()));
        return bytes(b);
    }
    output& blob16(const std::vector<std::uint8_t>& b) {
        u16(static_cast<unsigned>(b.size()));
        return bytes(b);
    }
    const std::vector<std::uint8_t>& data() const { return buf_; }

private:
    std::vector<std::uint8_t> buf_;
};

}  // namespace lwsp::fuzz
