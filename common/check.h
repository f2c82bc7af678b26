// Invariant checks that stay on in release builds (STYLE.md §5.1). For bugs, never for user input:
// user input gets llmfleet::error / status with a message that names the field.
#pragma once

#include <fmt/core.h>

namespace llmfleet::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* func, const std::string& msg);
} // namespace llmfleet::detail

#define LLMFLEET_CHECK(cond, ...)                                                                                      \
    do {                                                                                                               \
        if (!(cond)) [[unlikely]] {                                                                                    \
            ::llmfleet::detail::check_failed(#cond, __FILE__, __LINE__, __func__, ::fmt::format(__VA_ARGS__));         \
        }                                                                                                              \
    } while (0)

#define LLMFLEET_FAIL(...)                                                                                             \
    ::llmfleet::detail::check_failed("LLMFLEET_FAIL", __FILE__, __LINE__, __func__, ::fmt::format(__VA_ARGS__))
