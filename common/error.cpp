// Error types and the invariant-check failure handler.
#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace llmfleet {

std::string_view to_string(status_code code) {
    switch (code) {
    case status_code::ok:
        return "ok";
    case status_code::invalid_argument:
        return "invalid_argument";
    case status_code::not_found:
        return "not_found";
    case status_code::resource_exhausted:
        return "resource_exhausted";
    case status_code::unavailable:
        return "unavailable";
    case status_code::deadline_exceeded:
        return "deadline_exceeded";
    case status_code::internal:
        return "internal";
    }
    return "unknown";
}

error error::with_context(std::string_view context) const {
    return error(_code, fmt::format("{}: {}", context, what()));
}

error invalid_input(std::string message) {
    return error(status_code::invalid_argument, std::move(message));
}
error not_found(std::string message) {
    return error(status_code::not_found, std::move(message));
}

namespace detail {
void check_failed(const char* expr, const char* file, int line, const char* func, const std::string& msg) {
    std::fprintf(stderr, "llmfleet: internal check failed: %s\n  at %s:%d in %s()\n  %s\n", expr, file, line, func,
                 msg.c_str());
    std::fflush(stderr);
    std::abort();
}
} // namespace detail

} // namespace llmfleet
