// Synthetic and trace lengths, and the OpenAI request bodies built from them.
#include "serve/loadgen/workload.h"

#include <algorithm>
#include <array>
#include <random>
#include <string_view>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::loadgen {

namespace {

// Short common words: most BPE vocabularies encode " word" as one token, so N words are about N prompt tokens.
constexpr std::array<std::string_view, 32> chat_words = {"the", "of",   "and", "to",   "in",   "is",   "you",  "that",
                                                         "it",  "he",   "was", "for",  "on",   "are",  "as",   "with",
                                                         "his", "they", "at",  "be",   "this", "have", "from", "or",
                                                         "one", "had",  "by",  "word", "but",  "not",  "what", "all"};

int64_t clip(int64_t value, int64_t max_value) {
    value = std::max<int64_t>(value, 1);
    return max_value > 0 ? std::min(value, max_value) : value;
}

} // namespace

std::vector<request_lengths> synthetic_lengths(int64_t input_len, int64_t output_len, double range_ratio,
                                               size_t n_requests, uint64_t seed) {
    LLMFLEET_CHECK(input_len >= 1 && output_len >= 1, "lengths must be >= 1, got {} / {}", input_len, output_len);
    LLMFLEET_CHECK(range_ratio >= 0 && range_ratio < 1, "range_ratio must be in [0, 1), got {}", range_ratio);
    const auto bounds = [range_ratio](int64_t len) {
        const auto low = static_cast<int64_t>(static_cast<double>(len) * (1 - range_ratio));
        const auto high = static_cast<int64_t>(static_cast<double>(len) * (1 + range_ratio));
        return std::uniform_int_distribution<int64_t>(std::max<int64_t>(low, 1), std::max<int64_t>(high, 1));
    };
    auto input = bounds(input_len);
    auto output = bounds(output_len);
    std::mt19937_64 rng(seed);
    std::vector<request_lengths> out(n_requests);
    for (request_lengths& r : out) {
        r.input_tokens = input(rng);
        r.output_tokens = output(rng);
    }
    return out;
}

std::vector<request_lengths> trace_lengths(std::span<const request_lengths> source, size_t n_requests,
                                           int64_t max_input_tokens, int64_t max_output_tokens) {
    if (source.empty()) {
        throw invalid_input("--dataset trace: the trace holds no requests; hint: check the --trace file");
    }
    std::vector<request_lengths> out(n_requests);
    for (size_t i = 0; i < n_requests; ++i) {
        const request_lengths& s = source[i % source.size()];
        out[i] = {clip(s.input_tokens, max_input_tokens), clip(s.output_tokens, max_output_tokens)};
    }
    return out;
}

std::vector<prepared_request> build_requests(std::span<const request_lengths> lengths,
                                             const request_body_options& options, uint64_t seed) {
    LLMFLEET_CHECK(options.vocab_size >= 1, "vocab_size must be >= 1, got {}", options.vocab_size);
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
    std::uniform_int_distribution<int32_t> token(0, options.vocab_size - 1);
    std::uniform_int_distribution<size_t> word(0, chat_words.size() - 1);
    std::vector<prepared_request> out;
    out.reserve(lengths.size());
    for (const request_lengths& l : lengths) {
        nlohmann::json body = {{"model", options.model}, {"temperature", 0}, {"ignore_eos", options.ignore_eos}};
        if (options.endpoint == api_endpoint::completions) {
            std::vector<int32_t> ids(static_cast<size_t>(l.input_tokens));
            for (int32_t& id : ids) {
                id = token(rng);
            }
            body["prompt"] = std::move(ids);
            body["max_tokens"] = l.output_tokens;
        } else {
            std::string text;
            text.reserve(static_cast<size_t>(l.input_tokens) * 4);
            for (int64_t i = 0; i < l.input_tokens; ++i) {
                if (i > 0) {
                    text += ' ';
                }
                text += chat_words[word(rng)];
            }
            body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", std::move(text)}}});
            body["max_completion_tokens"] = l.output_tokens;
        }
        if (options.stream) {
            body["stream"] = true;
            body["stream_options"] = {{"include_usage", true}};
        }
        out.push_back({l.input_tokens, l.output_tokens, body.dump()});
    }
    return out;
}

} // namespace llmfleet::loadgen
