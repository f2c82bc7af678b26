// The sampler: turns one sequence's logits row into a token, applying the OpenAI/vLLM sampling
// parameters. Per-sequence state (the seeded RNG and the token counts the penalties need) lives in a
// sequence_sampler, so a sequence samples the same tokens whether it runs alone or in a batch.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/ref/sampling.h"

namespace llmfleet::engine {

struct sampling_params {
    double temperature = 1.0; // ≥ 0, finite; 0 → greedy (argmax; ties → lowest id)
    int32_t top_k = 0;        // ≤ 0 or ≥ vocab → off; else keep the k most likely tokens (ties → lowest ids)
    double top_p = 1.0;       // (0, 1]; keep the smallest set whose probability mass ≥ top_p
    double min_p = 0.0;       // [0, 1]; drop tokens with p < min_p · p_max
    double presence_penalty = 0.0;   // [-2, 2]; subtracted once from each token already generated
    double frequency_penalty = 0.0;  // [-2, 2]; subtracted × count of each token already generated
    double repetition_penalty = 1.0; // > 0, finite; HF/CTRL rule on prompt and generated tokens
    std::optional<uint64_t> seed;    // set → reproducible per request, independent of batching
    int32_t max_tokens = 16;         // ≥ 1: generated tokens at most
    int32_t min_tokens = 0;          // [0, max_tokens]: eos and stop token ids are masked until this many are generated
    bool ignore_eos = false;         // keep generating past eos (stop_token_ids still stop); the sampler ignores it
    std::vector<int32_t> stop_token_ids; // each in [0, vocab)
    std::vector<std::string> stop;       // stop strings, each non-empty; matched on detokenised text by the engine
    bool include_stop_str_in_output = false;
    int32_t logprobs = -1; // < 0 → none; n ≥ 0 → the sampled token's logprob plus the top n (n ≤ 20)

    // Greedy decoding of exactly n_tokens tokens (eos does not stop it): benchmarks and consistency tests.
    static sampling_params fixed_length_greedy(int32_t n_tokens) {
        sampling_params p;
        p.temperature = 0;
        p.max_tokens = n_tokens;
        p.ignore_eos = true;
        return p;
    }

    // Throws llmfleet::error (invalid_argument) naming the field, its value and the allowed range, e.g.
    // "sampling: top_p must be in (0, 1], got 1.5". top_k accepts every value.
    void validate(int64_t vocab_size) const;
};

struct token_logprob {
    int32_t token = 0;
    float logprob = 0; // natural log of the probability under the raw logits (before any sampling transform)
};

struct sample_result {
    int32_t token = 0;
    float logprob = 0;              // the sampled token's raw logprob; filled only when logprobs ≥ 0
    std::vector<token_logprob> top; // the top min(logprobs, vocab) tokens by raw logprob, most likely first
};

namespace detail {
// A token and its score (a logit, or an unnormalised probability): the sampler's top-k / top-n scratch.
struct scored_token {
    float value = 0;
    int32_t token = 0;
};
} // namespace detail

// One sequence's sampling state. not thread-safe: one sequence is sampled by one thread at a time;
// distinct sequence_samplers may be used from different threads concurrently.
//
// sample() follows vLLM's order:
//   1. logprobs (if requested): log_softmax of the raw logits, untouched by steps 2-5;
//   2. while n_generated < min_tokens: eos_token_ids and stop_token_ids → -inf;
//   3. repetition_penalty on prompt ∪ generated tokens (logit > 0 → / penalty, else × penalty), then
//      logit -= frequency_penalty · count + presence_penalty · (count > 0) on generated tokens;
//   4. temperature 0 → argmax (ties → lowest id); no RNG draw;
//   5. else p ∝ exp((logit - max) / temperature), then top-k, then top-p on the distribution renormalised
//      over the top-k set, then min-p (all three keep a prefix of the order "p descending, id ascending"), then
//      one inverse-CDF draw from the kept set with u = (rng() >> 11) · 2^-53 from the sequence's mt19937_64.
//
// Reproducibility: a seeded request's RNG is seeded with params.seed alone and is consumed exactly once
// per non-greedy sample, and no step reads another sequence's state, so a seeded request gives identical
// tokens regardless of batch composition, batch order or thread count. Nothing uses std:: distributions
// (whose output differs between libstdc++ and libc++), and exp() is computed by the sampler's own
// polynomial (plain IEEE float ops), so the tokens do not depend on the C++ or math library either.
// Tokens whose probability is below ~1e-38 of the most likely token's are never sampled (exp underflows).
//
// NaN or +inf logits, or a row with every logit -inf after step 2, are bugs upstream: LLMFLEET_CHECK aborts.
class sequence_sampler {
public:
    // prompt: the prompt ids (for repetition_penalty), each ≥ 0. unseeded_seed seeds the RNG when
    // params.seed is unset (the engine derives it from its own seed and the request id).
    // note: params must have passed params.validate(vocab_size).
    sequence_sampler(sampling_params params, std::span<const int32_t> prompt, uint64_t unseeded_seed);

    // Samples from logits [vocab] (f32, not modified) and records the sampled token as generated.
    // eos_token_ids are masked while fewer than min_tokens tokens have been generated.
    // No heap allocation once the scratch buffers have grown to the vocab size, except result.top.
    // Throws llmfleet::error (internal) for a row that cannot be sampled (NaN, +inf, or everything −inf after
    // masking): the engine fails that request only.
    sample_result sample(std::span<const float> logits, std::span<const int32_t> eos_token_ids);

    // This sample as a row for a backend that samples on the device (kernels/ref/sampling.h), or nullopt when it
    // needs this host sampler: logprobs, any penalty, or the min_tokens mask still on. A request's path depends
    // only on its own parameters and progress, never on the batch. The device draws u from (seed, n_generated)
    // instead of this sampler's mt19937_64, so non-greedy tokens differ from the host path (greedy ones do not),
    // and a seeded request is still reproducible.
    std::optional<kernels::ref::sampling_row> device_row(std::span<const int32_t> eos_token_ids) const;
    // Records a token sampled elsewhere (on the device, from device_row()) as generated.
    void accept(int32_t token) { record(token); }

    // Applies steps 2 and 3 above (min_tokens mask, penalties) to logits [vocab] in place, exactly as the
    // next sample() would. For tests and for callers that want the processed logits; changes no state.
    void process_logits(std::span<float> logits, std::span<const int32_t> eos_token_ids) const;

    const sampling_params& params() const { return _params; }
    int32_t n_generated() const { return _n_generated; }

private:
    struct token_count {
        int32_t token = 0;
        int32_t count = 0;
    };

    bool masks_stops(std::span<const int32_t> eos_token_ids) const;
    bool penalizes() const;
    int32_t sample_top_k(float max_logit);
    int32_t sample_full(float max_logit);
    void fill_logprobs(std::span<const float> logits, float max_logit, sample_result& result);
    void record(int32_t token);
    void mark_seen(int32_t token);

    sampling_params _params;
    uint64_t _seed = 0; // params.seed, or the engine's unseeded_seed
    std::mt19937_64 _rng;
    // Penalty state, kept only when the matching penalty is on:
    std::vector<uint64_t> _seen_bits;           // bit t set ⇔ token t is in prompt ∪ generated (repetition)
    int32_t _seen_max = -1;                     // the largest token in _seen_bits, checked against the vocab
    std::vector<token_count> _generated_counts; // sorted by token (frequency / presence)
    int32_t _n_generated = 0;
    // Scratch, reused between calls (sized on first use):
    std::vector<float> _work;               // [vocab] f32: processed logits, then unnormalised probabilities in [0, 1]
    std::vector<double> _block_mass;        // [ceil(vocab / 256)] sum of _work over each block of 256 tokens
    std::vector<int32_t> _cand;             // [vocab] token ids: the top-p boundary bucket, or the large-k top-k pool
    std::vector<detail::scored_token> _top; // [≤ max(top_k, logprobs, 1024)] top-k / top-n / top-p candidates
};

} // namespace llmfleet::engine
