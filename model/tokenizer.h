// A Hugging Face tokenizer.json for byte-level BPE: Qwen2, Llama-3, GPT-2 and tiktoken-derived files. Text →
// ids: added tokens split out, NFC (when the file asks), regex pre-tokenizer, BPE merges by rank, then the
// post-processor's special tokens (Llama-3's <|begin_of_text|>). Ids → text: byte-level decoding, exact bytes.
// Loading is a separate, explicit call: a model whose prompts arrive as token ids needs no tokenizer.json.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/added_tokens.h"
#include "model/bpe.h"
#include "model/normalizer.h"
#include "model/pretokenizer.h"

namespace llmfleet::model {

// What tokenizer.json says, checked component by component (tokenizer_json.cpp builds it).
struct tokenizer_spec {
    normalization normalizer = normalization::none;
    std::vector<pretokenizer_step> pretokenizer;
    std::vector<bpe_vocab_entry> vocab;
    std::vector<std::pair<std::string, std::string>> merges; // rank order
    bool ignore_merges = false;
    std::vector<added_token> added_tokens;
    std::vector<int32_t> prefix_ids; // post-processor, single sequence: ids before the text (add_special_tokens)
    std::vector<int32_t> suffix_ids; // ... and after it
};

// Token ids must be below this: storage is per id up to the largest, so a stray huge id in a file must not
// allocate gigabytes. Real vocabularies stay under 300k.
inline constexpr int64_t max_token_id = (int64_t{1} << 22) - 1;

// Throws invalid_argument with the JSON path ("pre_tokenizer.pretokenizers[0].behavior: ..."); an unsupported
// component is refused naming it and the supported ones.
tokenizer_spec parse_tokenizer_json(std::string_view json_text);

// Immutable after loading; every method is thread-safe (encode's pre-token cache is behind mutexes), so one
// instance can be shared by all threads. Move-only.
class tokenizer {
public:
    // `model_dir_or_file`: a directory holding tokenizer.json, or the file itself. Throws not_found when it is
    // missing, invalid_argument naming the file and the JSON path when it is malformed or unsupported.
    static tokenizer load(const std::string& model_dir_or_file);
    // `origin` names the text in errors ("/models/qwen/tokenizer.json").
    static tokenizer from_json(std::string_view json_text, std::string_view origin);
    explicit tokenizer(tokenizer_spec spec);

    tokenizer(tokenizer&&) noexcept = default;
    tokenizer& operator=(tokenizer&&) noexcept = default;

    // Any bytes (ill-formed UTF-8 too: such bytes are encoded as their byte tokens). Added tokens in the text are
    // always recognised; add_special_tokens adds the post-processor's tokens around the text (Llama-3's BOS).
    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
    // The exact bytes the ids stand for (decode(encode(x, false)) == x without a normaliser, NFC(x) with one), so
    // the result can be ill-formed UTF-8 when the ids split a character; Hugging Face would print U+FFFD there.
    // Throws invalid_argument for an id outside [0, vocab_size()) or one that no token has.
    std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
    // Appends the bytes of one id (nothing for a special token when skip_special_tokens); throws like decode().
    void append_bytes(int32_t id, bool skip_special_tokens, std::string& out) const;

    int64_t vocab_size() const { return static_cast<int64_t>(_entries.size()); } // max id + 1, added tokens too
    // An added token's content or a vocabulary token in its byte-level form ("Ġthe").
    std::optional<int32_t> token_to_id(std::string_view token) const;
    // The inverse of token_to_id; throws invalid_argument like decode().
    std::string_view id_to_token(int32_t id) const;
    bool is_special(int32_t id) const; // an added token marked special; false for any other id
    normalization normalizer() const { return _normalizer; }
    // One line for startup logs: "byte-level BPE: 151665 ids (22 added, 3 special), 151387 merges, NFC, 1 regex (JIT)".
    std::string describe() const;

private:
    enum class id_kind : uint8_t { none, vocab, added, special };
    struct id_entry {
        id_kind kind = id_kind::none;
        uint32_t added_index = 0; // into _added.tokens() for added and special
    };
    const id_entry& entry(int32_t id) const; // throws for ids outside the vocabulary or in a gap

    bpe_model _model;
    added_vocabulary _added;
    bool _has_normalized_added = false; // any added token with normalized=true
    pretokenizer _pretokenizer;
    normalization _normalizer = normalization::none;
    std::vector<int32_t> _prefix_ids;
    std::vector<int32_t> _suffix_ids;
    std::vector<id_entry> _entries; // [vocab_size()]
};

} // namespace llmfleet::model
