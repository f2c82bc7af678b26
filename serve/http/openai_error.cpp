// api_error's JSON body and the one table from llmfleet's status codes to OpenAI errors (openai_request.h).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "serve/http/openai_request.h"

namespace llmfleet::serve {

namespace {

nlohmann::ordered_json string_or_null(const std::string& s) {
    return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

} // namespace

std::string api_error::to_json() const {
    nlohmann::ordered_json body = {
        {"error",
         {{"message", message}, {"type", type}, {"param", string_or_null(param)}, {"code", string_or_null(code)}}}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); // keys in OpenAI's order
}

api_error invalid_request(std::string message, std::string param, std::string code) {
    return api_error{400, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}

api_error to_api_error(status_code code, std::string_view message) {
    const std::string text(message);
    switch (code) {
    case status_code::invalid_argument:
        // engine::add_request's refusal of a prompt that fills the context: "... but the context is N tokens".
        return invalid_request(text, "",
                               text.find("the context is") != std::string::npos ? "context_length_exceeded" : "");
    case status_code::not_found:
        return api_error{404, "not_found_error", text, "", ""};
    case status_code::resource_exhausted:
        return api_error{429, "rate_limit_exceeded", text, "", "rate_limit_exceeded"};
    case status_code::unavailable:
        return api_error{503, "server_error", text, "", "service_unavailable"};
    case status_code::deadline_exceeded:
        return api_error{504, "server_error", text, "", "timeout"};
    case status_code::internal:
        return api_error{500, "server_error", text, "", ""};
    case status_code::ok:
        break;
    }
    LLMFLEET_FAIL("to_api_error: status_code {} is not an error (message: {})", to_string(code), text);
}

api_error to_api_error(const error& e) {
    return to_api_error(e.code(), e.what());
}

api_error to_api_error(const status& s) {
    return to_api_error(s.code(), s.message());
}

} // namespace llmfleet::serve
