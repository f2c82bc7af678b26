// Helpers shared by the test suites.
#pragma once

#include <functional>
#include <string>

#include "common/error.h"

namespace llmfleet::test {

// The message of the llmfleet::error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace llmfleet::test
