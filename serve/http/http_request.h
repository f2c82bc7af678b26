// One parsed HTTP request as a handler sees it: method, target split into path and query, headers with
// case-insensitive lookup, the whole body and the peer's address. Plain data: no Beast types leak out.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmfleet::serve {

// Header fields in arrival order; names keep the client's spelling, lookups ignore ASCII case.
class http_headers {
public:
    void add(std::string name, std::string value) { _fields.emplace_back(std::move(name), std::move(value)); }
    // The first field named `name` (any case), or nullptr.
    const std::string* find(std::string_view name) const;
    // The first field named `name`, or `fallback` when absent.
    std::string get(std::string_view name, std::string_view fallback = "") const;
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    const std::vector<std::pair<std::string, std::string>>& fields() const { return _fields; }
    size_t size() const { return _fields.size(); }

private:
    std::vector<std::pair<std::string, std::string>> _fields;
};

// True when a and b are equal ignoring ASCII case (header names, methods in tests).
bool iequals(std::string_view a, std::string_view b);

struct http_request {
    std::string method;         // as sent, e.g. "POST"
    std::string target;         // the request target, e.g. "/v1/models?x=1"
    std::string path;           // target up to '?', e.g. "/v1/models"
    std::string query;          // after '?', without it; empty when absent
    http_headers headers;       //
    std::string body;           // the whole body, at most http_server_options::max_body_bytes
    std::string remote_address; // "ip:port" of the peer
    unsigned version = 11;      // 10 for HTTP/1.0, 11 for HTTP/1.1
};

} // namespace llmfleet::serve
