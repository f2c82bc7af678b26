// Where an HTTP server listens (host and port), parsed from the URL forms users type on command lines and in
// config files. Shared by the client, the router's pool configuration and the load generator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmfleet::serve {

struct http_endpoint {
    std::string host; // name or address literal (IPv6 without brackets)
    uint16_t port = 0;
    std::string to_string() const; // "host:port" ("[v6]:port")
    bool operator==(const http_endpoint&) const = default;
};

// Accepts "http://host:port", "http://host:port/", "host:port" and "[v6]:port" (https is refused: the router
// and engines speak plain HTTP on a private network). Throws llmfleet::error(invalid_argument) naming the
// text and the expected form.
http_endpoint parse_endpoint(std::string_view url);

} // namespace llmfleet::serve
