// Streaming detokenisation: ids arrive one at a time during generation and each push() returns the text that is
// now complete. Byte-level tokens can end inside a UTF-8 character (an emoji is often split over 2–4 tokens),
// so an incomplete character at the end is held back until the bytes that complete it arrive.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/tokenizer.h"

namespace llmfleet::model {

// Bytes at the end of `text` that begin a well-formed UTF-8 character but do not finish it (0..3).
size_t utf8_incomplete_tail(std::string_view text);
// `bytes` with each ill-formed UTF-8 sequence replaced by U+FFFD (one per maximal ill-formed subpart, as
// WHATWG/ICU do): for output that must be valid UTF-8, such as JSON.
std::string to_valid_utf8(std::string_view bytes);

// One per generated sequence; not thread-safe (one thread feeds it). The tokenizer must outlive it.
// The concatenation of every push() and the final flush() equals tokenizer.decode(all ids): bytes that can never
// become a valid character (ill-formed UTF-8) are passed on as they are, not held back.
class stream_decoder {
public:
    explicit stream_decoder(const tokenizer& tok, bool skip_special_tokens = false)
        : _tokenizer(&tok), _skip_special_tokens(skip_special_tokens) {}

    // The newly complete text after `id` (possibly empty). Throws invalid_argument for an id decode() refuses.
    std::string push(int32_t id);
    // Whatever is held back (an unfinished character at the end of the stream), then starts afresh.
    std::string flush();
    size_t n_pending_bytes() const { return _pending.size(); }

private:
    const tokenizer* _tokenizer;
    bool _skip_special_tokens;
    std::string _pending; // an incomplete UTF-8 character, at most 3 bytes
};

} // namespace llmfleet::model
