// Helpers shared by the communicator tests (threads, MPI, NCCL): the code and message of a thrown error, a
// substring check, a clock, and values whose float sum depends on the order of summation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "common/error.h"

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

} // namespace llmfleet::parallel
