// libFuzzer target: any bytes as the body of /v1/completions, /v1/chat/completions, /tokenize and /detokenize, and
// through the router's scan of the routing fields. Each parse returns a request or an api_error and never throws,
// crashes or overflows the stack; an error's body is valid JSON, and a parsed request resolves max_tokens without
// throwing.
// Build: CXX=clang++ cmake -S . -B build-fuzz -DLLMFLEET_FUZZ=ON && cmake --build build-fuzz --target
// fuzz_openai_request Run:   build-fuzz/bin/fuzz_openai_request -max_total_time=120
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "serve/http/openai_request.h"
#include "serve/http/openai_route_scan.h"

namespace {

using namespace llmfleet::serve;

void check_error(const api_error& e) {
    if (e.http_status != 400 || e.message.empty()) {
        std::abort(); // every parse failure is the client's: a 400 with a message
    }
    const nlohmann::json body = nlohmann::json::parse(e.to_json(), nullptr, false);
    if (body.is_discarded() || !body["error"]["message"].is_string()) {
        std::abort();
    }
}

template <typename T> void check(const api_result<T>& r) {
    if (const auto* e = std::get_if<api_error>(&r)) {
        check_error(*e);
    }
}

void check_options(const generation_options& o) {
    const auto resolved = resolve_max_tokens(o, 4096, 100);
    if (const auto* e = std::get_if<api_error>(&resolved)) {
        check_error(*e);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto completion = parse_completion_request(body);
    check(completion);
    if (const auto* r = std::get_if<completion_request>(&completion)) {
        check_options(r->options);
    }
    const auto chat = parse_chat_request(body);
    check(chat);
    if (const auto* r = std::get_if<chat_request>(&chat)) {
        check_options(r->options);
    }
    check(parse_tokenize_request(body));
    check(parse_detokenize_request(body));
    const auto completion_scan = scan_route_fields(body, false, true);
    check(completion_scan);
    const auto chat_scan = scan_route_fields(body, true, false);
    check(chat_scan);
    return 0;
}
