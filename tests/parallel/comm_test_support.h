// Helpers shared by the communicator tests (threads, MPI, NCCL): the code and message of a thrown error, a
// substring check, a clock, and values whose float sum depends on the order of summation.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "parallel/communicator.h"

namespace llmfleet::parallel {

// The error f throws: its code and message (code ok and "(no error)" when it throws none).
inline std::pair<status_code, std::string> error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const error& e) {
        return {e.code(), e.what()};
    }
    return {status_code::ok, "(no error)"};
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Values whose float sum depends on the order: (1e8 - 1e8) + 1 is 1 but (1 - 1e8) + 1e8 is 0.
inline float order_sensitive(int32_t rank, int64_t i) {
    static const float pattern[] = {1e8f, -1e8f, 1.0f, 0.75f, 3e7f, -0.5f};
    return pattern[(rank + i) % 6] * static_cast<float>(1 + i % 3);
}

// On every rank of c: all_gather of `bytes` per rank (out of place and in place) puts each rank's block at its
// offset, and broadcast from every root delivers the root's bytes.
inline void check_all_gather_and_broadcast(communicator& c, int64_t bytes) {
    const int32_t n_ranks = c.size();
    std::vector<uint8_t> in(bytes), out(bytes * n_ranks, 0xee);
    for (int64_t i = 0; i < bytes; ++i) {
        in[i] = static_cast<uint8_t>(c.rank() * 31 + i);
    }
    c.all_gather(in.data(), out.data(), bytes);
    for (int32_t q = 0; q < n_ranks; ++q) {
        for (int64_t i = 0; i < bytes; ++i) {
            ASSERT_EQ(out[q * bytes + i], static_cast<uint8_t>(q * 31 + i)) << "block " << q << " byte " << i;
        }
    }
    std::vector<uint8_t> gathered(bytes * n_ranks, 0); // in place: the input is this rank's block of out
    std::copy(in.begin(), in.end(), gathered.begin() + c.rank() * bytes);
    c.all_gather(gathered.data() + c.rank() * bytes, gathered.data(), bytes);
    ASSERT_EQ(gathered, out);
    for (int32_t root = 0; root < n_ranks; ++root) {
        std::vector<uint8_t> buf(bytes, static_cast<uint8_t>(c.rank()));
        if (c.rank() == root) {
            for (int64_t i = 0; i < bytes; ++i) {
                buf[i] = static_cast<uint8_t>(100 + root + i);
            }
        }
        c.broadcast(buf.data(), bytes, root);
        for (int64_t i = 0; i < bytes; ++i) {
            ASSERT_EQ(buf[i], static_cast<uint8_t>(100 + root + i)) << "root " << root << " byte " << i;
        }
    }
}

} // namespace llmfleet::parallel
