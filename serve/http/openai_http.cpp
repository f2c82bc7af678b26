// See openai_http.h.
#include "serve/http/openai_http.h"

namespace llmfleet::serve {

void send_api_error(http_responder& out, const api_error& e) {
    http_header_list extra;
    if (e.http_status == 429 || e.http_status == 503) {
        extra.emplace_back("retry-after", "1");
    }
    out.respond(e.http_status, "application/json", e.to_json(), extra);
}

std::optional<api_error> check_api_key(const http_request& req, const std::string& api_key) {
    if (api_key.empty() || req.headers.get("authorization") == "Bearer " + api_key) {
        return std::nullopt;
    }
    api_error e;
    e.http_status = 401;
    e.type = "authentication_error";
    e.message = "missing or wrong API key: send the header `Authorization: Bearer <key>`";
    e.code = "invalid_api_key";
    return e;
}

bool authorize(const http_request& req, const std::string& api_key, http_responder& out) {
    if (const auto e = check_api_key(req, api_key)) {
        send_api_error(out, *e);
        return false;
    }
    return true;
}

} // namespace llmfleet::serve
