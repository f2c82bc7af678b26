// parse_endpoint: the URL forms of http_endpoint.h.
#include "serve/http/http_endpoint.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/text.h"

namespace llmfleet::serve {

std::string http_endpoint::to_string() const {
    if (host.find(':') != std::string::npos) {
        return fmt::format("[{}]:{}", host, port);
    }
    return fmt::format("{}:{}", host, port);
}

http_endpoint parse_endpoint(std::string_view url) {
    const std::string_view original = url;
    const auto bad = [&](std::string_view why) {
        return invalid_input(
            fmt::format("endpoint `{}`: {}; expected http://HOST:PORT (e.g. http://127.0.0.1:8001)", original, why));
    };
    url = trim(url);
    if (url.starts_with("https://")) {
        throw bad("https is not supported (engines and the router speak plain HTTP)");
    }
    if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else if (url.find("://") != std::string_view::npos) {
        throw bad("unknown scheme");
    }
    if (url.ends_with('/')) {
        url.remove_suffix(1);
    }
    if (url.find('/') != std::string_view::npos) {
        throw bad("a path is not allowed");
    }
    http_endpoint endpoint;
    std::string_view port_text;
    if (url.starts_with('[')) {
        const size_t close = url.find(']');
        if (close == std::string_view::npos || close + 1 >= url.size() || url[close + 1] != ':') {
            throw bad("an IPv6 address needs the form [ADDRESS]:PORT");
        }
        endpoint.host = std::string(url.substr(1, close - 1));
        port_text = url.substr(close + 2);
    } else {
        const size_t colon = url.rfind(':');
        if (colon == std::string_view::npos) {
            throw bad("the port is missing");
        }
        endpoint.host = std::string(url.substr(0, colon));
        port_text = url.substr(colon + 1);
        if (endpoint.host.find(':') != std::string::npos) {
            throw bad("an IPv6 address needs brackets");
        }
    }
    if (endpoint.host.empty()) {
        throw bad("the host is missing");
    }
    int64_t port = 0;
    try {
        port = parse_int(port_text, "port");
    } catch (const error&) {
        throw bad(fmt::format("the port `{}` is not a number", port_text));
    }
    if (port < 1 || port > 65535) {
        throw bad(fmt::format("the port {} is outside 1..65535", port));
    }
    endpoint.port = static_cast<uint16_t>(port);
    return endpoint;
}

} // namespace llmfleet::serve
