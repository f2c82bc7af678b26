// Byte-level BPE, the `model` of a GPT-2 / Qwen2 / Llama-3 tokenizer.json: the vocabulary, the merges ranked by
// their order in the file, and the merge loop that turns one pre-token (raw bytes) into token ids. The tokenizer
// (tokenizer.h) runs the normaliser, added tokens and pre-tokenizer around it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llmfleet::model {

// GPT-2's reversible byte ↔ character map: printable Latin-1 bytes stand for themselves, the other 68 bytes
// for U+0100.. in byte order (so ' ' is 'Ġ' U+0120, '\n' is 'Ċ' U+010A). Vocabulary strings use these characters.
std::string_view byte_level_char(uint8_t byte); // UTF-8 of the character standing for `byte`
std::string byte_level_encode(std::string_view bytes);
// Appends the bytes that `token` stands for; false (and `out` unchanged) when a character is not a byte-level one.
bool byte_level_decode(std::string_view token, std::string& out);
// The 256 byte-level characters in GPT-2's vocabulary order (printable bytes first), as UTF-8.
std::vector<std::string> byte_level_alphabet();

struct bpe_vocab_entry {
    std::string token; // byte-level form, as in tokenizer.json ("Ġthe")
    int32_t id = 0;
};

// Immutable after construction; encode() is thread-safe (its pre-token cache is sharded behind mutexes).
class bpe_model {
public:
    // `merges` in rank order (rank = index). Throws invalid_argument naming `path` ("model.merges[3]") when a
    // merge names a token that is not in the vocabulary, when a merged pair is not in it, when two tokens share
    // an id, or when one of the 256 byte tokens is missing (byte-level BPE must be able to encode any byte).
    bpe_model(const std::vector<bpe_vocab_entry>& vocab, const std::vector<std::pair<std::string, std::string>>& merges,
              bool ignore_merges, std::string_view path);
    ~bpe_model();
    bpe_model(bpe_model&&) noexcept;
    bpe_model& operator=(bpe_model&&) noexcept;

    // Appends the ids of one pre-token given as raw bytes (any bytes, valid UTF-8 or not). (thread-safe)
    void encode(std::string_view piece, std::vector<int32_t>& out) const;

    int64_t max_id() const { return static_cast<int64_t>(_tokens.size()) - 1; }
    bool has_id(int32_t id) const {
        return id >= 0 && static_cast<size_t>(id) < _tokens.size() && _present[static_cast<size_t>(id)];
    }
    // note: call only if has_id(id).
    const std::string& token(int32_t id) const { return _tokens[static_cast<size_t>(id)]; }
    const std::string& token_bytes(int32_t id) const { return _bytes[static_cast<size_t>(id)]; }
    const int32_t* find(std::string_view token) const; // byte-level form → id, nullptr when absent
    size_t n_merges() const { return _merges.size(); }

private:
    struct merge_result {
        int32_t rank;
        int32_t id; // the merged token
    };
    struct piece_cache;
    struct string_hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using string_map = std::unordered_map<std::string, int32_t, string_hash, std::equal_to<>>;

    void merge(std::string_view piece, std::vector<int32_t>& out) const;
    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }

    std::vector<std::string> _tokens; // [max id + 1] byte-level strings; "" where no token has the id
    std::vector<std::string> _bytes;  // [max id + 1] the raw bytes each token stands for
    std::vector<bool> _present;       // [max id + 1]
    string_map _ids;                  // byte-level string → id
    string_map _ids_by_bytes;         // raw bytes → id (ignore_merges looks whole pre-tokens up here)
    std::unordered_map<uint64_t, merge_result> _merges; // (left id << 32 | right id) → rank and merged id
    std::array<int32_t, 256> _byte_ids{};               // byte → id of its single-byte token
    bool _ignore_merges = false; // Llama-3: a pre-token that is itself in the vocabulary skips the merges
    std::unique_ptr<piece_cache> _cache;
};

} // namespace llmfleet::model
