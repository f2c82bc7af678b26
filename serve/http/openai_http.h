// Where the OpenAI protocol meets the HTTP server: sending an api_error as its status and JSON body (429 with
// retry-after), and the API-key check. Shared by the engine server and the router, so both answer alike.
#pragma once

#include <optional>
#include <string>

#include "serve/http/http_server.h"
#include "serve/http/openai_request.h"

namespace llmfleet::serve {

// Responds with e.http_status and e.to_json(); a 429 or 503 carries `retry-after: 1`.
void send_api_error(http_responder& out, const api_error& e);

// A 401 authentication_error unless `api_key` is empty or the request sends `Authorization: Bearer <api_key>`.
std::optional<api_error> check_api_key(const http_request& req, const std::string& api_key);

// check_api_key, sending the 401 itself; true when the request may go on.
bool authorize(const http_request& req, const std::string& api_key, http_responder& out);

} // namespace llmfleet::serve
