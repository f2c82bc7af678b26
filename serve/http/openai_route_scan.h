// What a proxy needs from a completion or chat request, read in one SAX pass without building a JSON tree: the
// model, stream, max_tokens / max_completion_tokens, n, and the prompt's size (token ids counted, text bytes
// summed). The pass still rejects what is not JSON (syntax, ill-formed UTF-8, nesting deeper than max_json_depth)
// and these fields' wrong types, with the engine's error wording; every other field is the engine's to check.
// The router uses it on every request: a full parse_completion_request costs about 3× as much.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/http/openai_request.h"

namespace llmfleet::serve {

struct route_fields {
    std::string model;
    bool stream = false;
    std::optional<int64_t> max_tokens; // max_tokens, else max_completion_tokens; absent or null → nullopt
    int64_t n = 1;
    int64_t n_prompts = 0;          // completions: prompts in the request (a string or an id list counts 1)
    int64_t n_prompt_ids = 0;       // token ids sent as prompts (exact token counts)
    int64_t n_text_bytes = 0;       // bytes of text prompts (completions) or of message contents (chat)
    int64_t n_messages = 0;         // chat: messages
    std::vector<std::string> texts; // the texts themselves, when asked for (exact counting with a tokenizer)
};

// `chat`: /v1/chat/completions (messages) rather than /v1/completions (prompt). A 400 api_error for a body that is
// not a JSON object, and for model / stream / max_tokens / max_completion_tokens / n / prompt / messages of the
// wrong type (param names the field).
api_result<route_fields> scan_route_fields(std::string_view body, bool chat, bool keep_texts);

} // namespace llmfleet::serve
