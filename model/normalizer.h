// Text normalisation before pre-tokenization: tokenizer.json's "normalizer", of which byte-level tokenizers use
// at most NFC (Qwen2 does; Llama-3, GPT-2 and tiktoken-derived files have none). NFC comes from ICU.
#pragma once

#include <string>
#include <string_view>

namespace llmfleet::model {

enum class normalization { none, nfc };
std::string_view to_string(normalization n); // "none", "NFC"

// Returns `text` normalised: a view of `text` itself when nothing changes (always for none, and for ASCII or
// already-NFC text), else a view of `storage`. Ill-formed UTF-8 bytes are kept as they are; the valid stretches
// between them are normalised one by one. (thread-safe)
std::string_view normalize(normalization n, std::string_view text, std::string& storage);

} // namespace llmfleet::model
