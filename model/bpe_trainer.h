// Deterministic byte-level BPE training (greedy, most frequent pair first), used by make-model to give its
// random-weight models a real tokenizer. Small corpora only: it counts pairs incrementally but picks the best
// pair by a scan over all pairs, O(n_merges · n_distinct_pairs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmfleet::model {

struct bpe_training {
    std::vector<std::pair<std::string, std::string>> merges; // byte-level strings, in rank order
    std::vector<std::string> new_tokens; // byte-level strings of the tokens the merges created, in creation order
};

// `pre_tokens`: the corpus already split by the pre-tokenizer (raw bytes; merges never cross pre-tokens).
// Merges the most frequent adjacent pair (counted over all occurrences), ties broken by the smaller left then
// right symbol id (bytes are 0..255 by value, new tokens 256.. in creation order), until `max_new_tokens` tokens
// exist or the best pair occurs fewer than `min_count` times. A merge whose result already exists as a token
// (reached by another split) is kept as a merge but makes no new token.
bpe_training train_bpe(const std::vector<std::string_view>& pre_tokens, size_t max_new_tokens, int64_t min_count);

} // namespace llmfleet::model
