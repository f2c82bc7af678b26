// Expected failures (bad config or input, missing file, infeasible plan): a closed code enum, an
// exception type for loaders and parsers, and status / result<T> for APIs that return (STYLE.md §5.3).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/check.h"

namespace llmfleet {

enum class status_code {
    ok,
    invalid_argument,   // the caller's input is wrong: the message says which field and the expected form
    not_found,          // a file, model, GPU type or endpoint does not exist
    resource_exhausted, // KV cache full, queue full, availability limit
    unavailable,        // a dependency is down or not built in (e.g. no solver)
    deadline_exceeded,  // a time limit ran out
    internal,           // a bug: an invariant broke
};
std::string_view to_string(status_code code);

// Thrown by loaders and parsers; caught at module or main() boundaries. Add context with with_context().
class error : public std::runtime_error {
public:
    error(status_code code, std::string message) : std::runtime_error(std::move(message)), _code(code) {}
    status_code code() const { return _code; }
    // Returns a copy whose message is "<context>: <message>".
    error with_context(std::string_view context) const;

private:
    status_code _code;
};

// Builders for the most common throw sites: `throw invalid_input("field `x`: expected ..., got ...")`.
error invalid_input(std::string message);
error not_found(std::string message);

class status {
public:
    status() = default;
    status(status_code code, std::string message) : _code(code), _message(std::move(message)) {}
    static status ok() { return status(); }
    bool is_ok() const { return _code == status_code::ok; }
    status_code code() const { return _code; }
    const std::string& message() const { return _message; }

private:
    status_code _code = status_code::ok;
    std::string _message;
};

template <typename T> class result {
public:
    result(T value) : _value(std::move(value)) {}
    result(status failure) : _value(std::move(failure)) {
        LLMFLEET_CHECK(!std::get<status>(_value).is_ok(), "a result built from a status must carry an error");
    }
    bool is_ok() const { return std::holds_alternative<T>(_value); }
    const T& value() const& {
        LLMFLEET_CHECK(is_ok(), "value() on an error result: {}", std::get<status>(_value).message());
        return std::get<T>(_value);
    }
    T&& value() && {
        LLMFLEET_CHECK(is_ok(), "value() on an error result: {}", std::get<status>(_value).message());
        return std::get<T>(std::move(_value));
    }
    const status& error_status() const {
        LLMFLEET_CHECK(!is_ok(), "error_status() on an ok result");
        return std::get<status>(_value);
    }

private:
    std::variant<T, status> _value;
};

} // namespace llmfleet
