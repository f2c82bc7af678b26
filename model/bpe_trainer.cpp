// See bpe_trainer.h. Words are the distinct pre-tokens with their counts; a pair's count is the sum over the
// words holding it. After each merge only the words that held the pair are recounted.
#include "model/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/check.h"
#include "model/bpe.h"

namespace llmfleet::model {

namespace {

struct word {
    std::vector<int32_t> symbols;
    int64_t count = 0;
    int64_t last_merge = -1; // the merge step that last recounted it (dedupes the pair → words lists)
};

uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

} // namespace

bpe_training train_bpe(const std::vector<std::string_view>& pre_tokens, size_t max_new_tokens, int64_t min_count) {
    LLMFLEET_CHECK(min_count >= 1, "min_count must be >= 1, got {}", min_count);
    std::vector<std::string> symbol_bytes; // symbol id → raw bytes
    for (int b = 0; b < 256; ++b) {
        symbol_bytes.emplace_back(1, static_cast<char>(b));
    }
    std::unordered_map<std::string, int32_t> symbol_ids;
    for (int32_t b = 0; b < 256; ++b) {
        symbol_ids.emplace(symbol_bytes[static_cast<size_t>(b)], b);
    }

    std::map<std::string_view, int64_t> distinct; // ordered: the word order, hence everything below, is fixed
    for (std::string_view p : pre_tokens) {
        ++distinct[p];
    }
    std::vector<word> words;
    for (const auto& [text, count] : distinct) {
        word w;
        for (char c : text) {
            w.symbols.push_back(static_cast<uint8_t>(c));
        }
        w.count = count;
        words.push_back(std::move(w));
    }

    std::unordered_map<uint64_t, int64_t> pair_counts;
    std::unordered_map<uint64_t, std::vector<int32_t>> pair_words; // may hold stale or repeated word indices
    const auto add_pairs = [&](int32_t wi, int64_t sign) {
        const word& w = words[static_cast<size_t>(wi)];
        for (size_t i = 0; i + 1 < w.symbols.size(); ++i) {
            const uint64_t k = key(w.symbols[i], w.symbols[i + 1]);
            int64_t& c = pair_counts[k];
            c += sign * w.count;
            if (c == 0) {
                pair_counts.erase(k);
            }
            if (sign > 0) {
                pair_words[k].push_back(wi);
            }
        }
    };
    for (size_t wi = 0; wi < words.size(); ++wi) {
        add_pairs(static_cast<int32_t>(wi), +1);
    }

    bpe_training out;
    for (int64_t step = 0; out.new_tokens.size() < max_new_tokens; ++step) {
        uint64_t best = 0;
        int64_t best_count = 0;
        for (const auto& [k, c] : pair_counts) {
            if (c > best_count || (c == best_count && k < best)) {
                best = k;
                best_count = c;
            }
        }
        if (best_count < min_count) {
            break;
        }
        const auto left = static_cast<int32_t>(best >> 32), right = static_cast<int32_t>(best & 0xFFFFFFFFu);
        const std::string merged = symbol_bytes[static_cast<size_t>(left)] + symbol_bytes[static_cast<size_t>(right)];
        auto [it, is_new] = symbol_ids.emplace(merged, static_cast<int32_t>(symbol_bytes.size()));
        if (is_new) {
            symbol_bytes.push_back(merged);
            out.new_tokens.push_back(byte_level_encode(merged));
        }
        const int32_t merged_id = it->second;
        out.merges.emplace_back(byte_level_encode(symbol_bytes[static_cast<size_t>(left)]),
                                byte_level_encode(symbol_bytes[static_cast<size_t>(right)]));
        const std::vector<int32_t> holders = std::move(pair_words[best]);
        pair_words.erase(best);
        for (int32_t wi : holders) {
            word& w = words[static_cast<size_t>(wi)];
            if (w.last_merge == step) {
                continue;
            }
            w.last_merge = step;
            add_pairs(wi, -1);
            std::vector<int32_t> merged_symbols;
            for (size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == left && w.symbols[i + 1] == right) {
                    merged_symbols.push_back(merged_id);
                    ++i;
                } else {
                    merged_symbols.push_back(w.symbols[i]);
                }
            }
            w.symbols = std::move(merged_symbols);
            add_pairs(wi, +1);
        }
        LLMFLEET_CHECK(!pair_counts.contains(best), "pair still counted after merging it");
    }
    return out;
}

} // namespace llmfleet::model
