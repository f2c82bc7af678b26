// Test helpers for the tokenizer suites: a small tokenizer.json built from the 256 byte tokens plus hand-chosen
// tokens and merges, so each test states exactly the vocabulary its expectations depend on.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/bpe.h"
#include "model/tokenizer.h"

namespace llmfleet::model::test {

// ids 0..255: the byte tokens in GPT-2 order; then `extra` (byte-level strings) from 256 on, in order.
inline nlohmann::ordered_json small_tokenizer_json(const std::vector<std::string>& extra,
                                                   const std::vector<std::string>& merges) {
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    int id = 0;
    for (const std::string& c : byte_level_alphabet()) {
        vocab[c] = id++;
    }
    for (const std::string& t : extra) {
        vocab[t] = id++;
    }
    const nlohmann::ordered_json byte_level = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
    return {{"version", "1.0"},
            {"added_tokens", nlohmann::ordered_json::array()},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", R"( ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                byte_level}}}},
            {"post_processor", byte_level},
            {"decoder", byte_level},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"ignore_merges", false},
              {"vocab", vocab},
              {"merges", merges}}}};
}

inline tokenizer make_tokenizer(const nlohmann::ordered_json& j) {
    return tokenizer::from_json(j.dump(), "test tokenizer.json");
}

// The id of a token given as its text (byte-level encoded here), e.g. id_of(t, " the").
inline int32_t id_of(const tokenizer& t, const std::string& text) {
    const auto id = t.token_to_id(byte_level_encode(text));
    return id ? *id : -1;
}

} // namespace llmfleet::model::test
