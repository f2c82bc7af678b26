// The engine: the C++ API that servers and the CLI drive. add_request() queues a prompt with its
// sampling parameters; each step() schedules one batch (continuous batching, chunked prefill, preemption),
// runs the model runner, samples, and returns the new tokens of every request that got one. abort() drops a
// request. Single-threaded: the caller owns the loop (the OpenAI server runs it on its engine thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/thread_pool.h"
#include "engine/block_manager.h"
#include "engine/model_runner.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "model/tokenizer.h"

namespace llmfleet::engine {

struct engine_config {
    scheduler_config scheduling;
    int32_t max_model_len = 0; // 0 → max_position_embeddings, capped to what the KV pool holds
    bool enable_prefix_caching = true;
    uint64_t seed = 0;             // seeds requests that give no seed of their own
    int32_t n_sampler_threads = 0; // 0 → default_thread_count()
};

enum class finish_reason { none, stop, length, abort };
std::string_view to_string(finish_reason reason);

struct request_options {
    bool return_logits = false; // each output carries the raw logits each new token was sampled from
};

struct request_output {
    int64_t request_id = 0;
    std::vector<int32_t> new_token_ids;
    std::vector<sample_result> new_samples; // parallel to new_token_ids; logprobs filled when requested
    std::vector<float> new_logits;          // [new tokens, vocab] f32 when return_logits
    std::string new_text; // detokenised text of the new tokens (with a tokenizer; special tokens skipped).
                          // Text that may begin a stop string or an unfinished UTF-8 character is held
                          // back until it is resolved, and flushed when the request finishes.
    bool finished = false;
    finish_reason reason = finish_reason::none;
    int32_t stop_token_id = -1; // the eos / stop token that ended it (reason stop), else −1
    std::string stop_string;    // the stop string that ended it (reason stop), else empty
    std::string error;          // why the engine failed this request (reason abort, no new token), else empty
    int32_t n_prompt_tokens = 0;
    int32_t n_cached_tokens = 0; // prompt tokens served from the prefix cache
    int32_t n_generated = 0;     // total so far
};

struct engine_stats {
    int64_t n_steps = 0;
    int64_t n_prefill_tokens = 0; // computed prompt (and recomputed) tokens
    int64_t n_decode_tokens = 0;  // sampled tokens
    int64_t n_preemptions = 0;
    prefix_cache_stats prefix_cache;
    int32_t n_running = 0, n_waiting = 0;
    int32_t kv_blocks_free = 0, kv_blocks_total = 0;
};

// not thread-safe: one thread calls every method.
class engine {
public:
    // tokenizer: optional; needed for text output and stop strings (prompts are token ids either way).
    engine(engine_config config, std::unique_ptr<model_runner> runner,
           std::shared_ptr<const model::tokenizer> tokenizer = nullptr, const clock_source* clock = nullptr);
    ~engine();

    const model::model_config& model_config() const { return _runner->config(); }
    int32_t max_model_len() const { return _max_model_len; }
    model_runner& runner() { return *_runner; }
    const model::tokenizer* tokenizer() const { return _tokenizer.get(); }

    // Queues a request; returns its id. Throws llmfleet::error (invalid_argument: bad ids, empty prompt, a
    // prompt as long as the context (which the KV pool may limit), bad sampling parameters).
    int64_t add_request(std::vector<int32_t> prompt, const sampling_params& params, request_options options = {});
    // One scheduling step. Returns an output for every request that produced tokens or finished; the
    // reference stays valid until the next step() (the outputs' storage is reused).
    const std::vector<request_output>& step();
    // Finishes a waiting or running request (reason abort); false when the id is unknown or already done.
    bool abort(int64_t request_id);
    bool has_unfinished() const { return _scheduler.has_unfinished(); }
    engine_stats stats() const;

private:
    struct request;
    void build_batch(const scheduler_output& plan);
    void forward_device_sampled(const scheduler_output& plan);                    // a runner that samples on the device
    void sample_all(const scheduler_output& plan);                                // fills _outputs
    void detokenize(request& req, int32_t token, request_output& out);            // text and stop strings
    void fail_request(request& req, const std::string& why, request_output& out); // finishes it (abort)

    engine_config _config;
    std::unique_ptr<model_runner> _runner;
    std::shared_ptr<const model::tokenizer> _tokenizer;
    steady_clock_source _steady_clock;
    const clock_source& _clock;
    block_manager _blocks;
    scheduler _scheduler;
    thread_pool _pool; // parallel sampling over sequences
    int32_t _max_model_len = 0;
    std::vector<int32_t> _eos_ids;
    int64_t _next_id = 0;
    std::unordered_map<int64_t, std::unique_ptr<request>> _requests;
    forward_batch _batch;
    std::vector<float> _logits; // [n_logits, vocab]
    // With a device-sampling runner: each logits row's device parameters (nullopt: sampled here) and token.
    std::vector<std::optional<kernels::ref::sampling_row>> _device_rows; // [n_logits]; empty: all sampled here
    std::vector<int32_t> _device_tokens;                                 // [n_logits]
    std::vector<request*> _sampling;         // this step's sampling requests, in logits-row order
    std::vector<sample_result> _samples;     // [_sampling.size()]
    std::vector<std::string> _sample_errors; // [_sampling.size()] empty, or why that row could not be sampled
    std::vector<request_output> _outputs;
    engine_stats _stats;
};

} // namespace llmfleet::engine
