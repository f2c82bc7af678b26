// Logging: spdlog to stderr. Level from LLMFLEET_LOG_LEVEL (trace|debug|info|warn|error|off), default info.
// Results go to stdout; logs never do. No logging in hot loops.
#pragma once

#include <spdlog/spdlog.h>

namespace llmfleet {
// Sets up the stderr logger once (thread-safe, idempotent).
void init_logging();
} // namespace llmfleet

#define LLMFLEET_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define LLMFLEET_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define LLMFLEET_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
#define LLMFLEET_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
