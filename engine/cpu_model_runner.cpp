// See cpu_model_runner.h.
#include "engine/cpu_model_runner.h"

#include <fmt/core.h>

#include <filesystem>

#include "common/error.h"
#include "common/log.h"

namespace llmfleet::engine {

cpu_model_runner::cpu_model_runner(const std::string& model_dir, cpu_runner_options options)
    : _shard(model_dir,
             parallel::make_rank_layout(parallel::parallel_config{}, model::load_config(model_dir), /*rank=*/0),
             options, /*tp_comm=*/nullptr) {}

std::string cpu_model_runner::describe() const {
    return fmt::format("backend cpu (f32, OpenBLAS), {}", _shard.describe());
}

void cpu_model_runner::forward(const forward_batch& batch, std::span<float> logits) {
    const model::model_config& c = _shard.config();
    const auto n_logits = static_cast<int64_t>(batch.logits_indices.size());
    LLMFLEET_CHECK(static_cast<int64_t>(logits.size()) == n_logits * c.vocab_size,
                   "logits buffer has {} floats, expected {} × {}", logits.size(), n_logits, c.vocab_size);
    _x.resize(static_cast<size_t>(batch.n_tokens() * c.hidden_size));
    _shard.embed(batch.token_ids, _x.data());
    _shard.layers(batch, _x.data());
    _shard.logits(_x.data(), batch.logits_indices, logits.data());
}

int64_t kv_blocks_for_budget(const cpu_engine_options& options, int64_t block_bytes) {
    if (options.kv_cache_gib <= 0 || options.block_size <= 0) {
        throw invalid_input(fmt::format("--kv-cache-gib {} and --block-size {} must be positive", options.kv_cache_gib,
                                        options.block_size));
    }
    const auto n_blocks = static_cast<int64_t>(options.kv_cache_gib * static_cast<double>(1LL << 30)) / block_bytes;
    if (n_blocks < 1) {
        throw error(status_code::resource_exhausted,
                    fmt::format("--kv-cache-gib {} holds no KV block of {} bytes ({} tokens); raise --kv-cache-gib",
                                options.kv_cache_gib, block_bytes, options.block_size));
    }
    return n_blocks;
}

std::shared_ptr<const model::tokenizer> load_optional_tokenizer(const std::string& model_dir) {
    if (std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json")) {
        return std::make_shared<const model::tokenizer>(model::tokenizer::load(model_dir));
    }
    LLMFLEET_LOG_INFO("{}: no tokenizer.json; prompts must be token ids and outputs have no text", model_dir);
    return nullptr;
}

std::unique_ptr<engine> make_cpu_engine(const cpu_engine_options& options, const clock_source* clock) {
    const model::model_config config = model::load_config(options.model_dir);
    const int64_t n_blocks = kv_blocks_for_budget(options, kv_bytes_per_token(config, 4) * options.block_size);
    auto runner = std::make_unique<cpu_model_runner>(
        options.model_dir, cpu_runner_options{n_blocks, options.block_size, options.n_threads});
    return std::make_unique<engine>(options.engine, std::move(runner), load_optional_tokenizer(options.model_dir),
                                    clock);
}

} // namespace llmfleet::engine
