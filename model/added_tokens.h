// tokenizer.json's "added_tokens" (<|im_start|>, <|eot_id|>, ...): found in the text before BPE and emitted as
// their own ids, as Hugging Face tokenizers does: leftmost-longest matching, normalized=false tokens matched in
// the raw text and normalized=true ones in the normalised text, lstrip/rstrip swallowing neighbouring whitespace,
// single_word refusing matches inside a word.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/normalizer.h"

namespace llmfleet::model {

struct added_token {
    std::string content; // the text, matched verbatim ("<|im_end|>")
    int32_t id = 0;
    bool special = false;     // decode(..., skip_special_tokens=true) drops it
    bool lstrip = false;      // swallow whitespace on its left
    bool rstrip = false;      // swallow whitespace on its right
    bool single_word = false; // match only when not preceded or followed by a word character
    bool normalized = false;  // match in the normalised text (else in the raw text)
};

// A stretch of text: plain (token_id < 0, to be pre-tokenized) or one added token.
struct text_segment {
    std::string_view text;
    int32_t token_id = -1;
};

// Immutable; split() is thread-safe.
class added_vocabulary {
public:
    added_vocabulary() = default;
    // Tokens with normalized=true are matched by their `n`-normalised content. Throws invalid_argument naming
    // `path` ("added_tokens[2]") for an empty content, or a content or an id given twice.
    added_vocabulary(std::vector<added_token> tokens, normalization n, std::string_view path);

    // Appends the segments of `text` (views into it), matching only the tokens whose `normalized` flag equals
    // `normalized`. Whitespace swallowed by lstrip/rstrip belongs to no segment; empty plain segments are omitted.
    void split(std::string_view text, bool normalized, std::vector<text_segment>& out) const;

    const added_token* find(int32_t id) const;
    const added_token* find(std::string_view content) const;
    const std::vector<added_token>& tokens() const { return _tokens; }
    bool empty() const { return _tokens.empty(); }

private:
    // The token (index into _tokens) that matches longest at text[pos], or -1.
    int32_t longest_match(std::string_view text, size_t pos, bool normalized) const;

    std::vector<added_token> _tokens;
    std::vector<std::string> _match_text; // [i] what token i is matched as: its content, normalised if normalized
    struct string_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<int32_t, size_t> _by_id;
    std::unordered_map<std::string, size_t, string_hash, std::equal_to<>> _by_content;
    std::array<std::vector<int32_t>, 256> _by_first_byte; // candidates per first byte, longest first
};

} // namespace llmfleet::model
