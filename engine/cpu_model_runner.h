// The CPU backend on one device: the whole model as one cpu_shard (weights converted to f32 with fused QKV and
// gate/up projections, a paged f32 KV pool, a forward pass over kernels::cpu: OpenBLAS GEMMs, threaded
// attention). Tensor/pipeline-parallel CPU engines are in parallel_runner.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "engine/cpu_shard.h"
#include "engine/engine.h"
#include "engine/model_runner.h"

namespace llmfleet::engine {

using cpu_runner_options = cpu_shard_options;

class cpu_model_runner final : public model_runner {
public:
    // Loads config.json (+ generation_config.json) and every weight, validated against the config.
    // Throws llmfleet::error naming the file or tensor.
    cpu_model_runner(const std::string& model_dir, cpu_runner_options options);

    const model::model_config& config() const override { return _shard.config(); }
    int32_t n_kv_blocks() const override { return static_cast<int32_t>(_shard.n_kv_blocks()); }
    int32_t block_size() const override { return _shard.block_size(); }
    void forward(const forward_batch& batch, std::span<float> logits) override;
    std::string describe() const override;

    int64_t weight_bytes() const { return _shard.weight_bytes(); } // what one decode step reads

private:
    cpu_shard _shard;      // the whole model: the shard of a 1 × 1 layout
    std::vector<float> _x; // [n_tokens, hidden] the residual stream
};

// An engine over the CPU runner with the KV pool sized in GiB (what --kv-cache-gib sets), and the model
// directory's tokenizer.json when there is one.
struct cpu_engine_options {
    std::string model_dir;
    double kv_cache_gib = 1.0;
    int32_t block_size = 16;
    int32_t n_threads = 0; // 0 → default_thread_count()
    engine_config engine;
};
// Throws llmfleet::error: unreadable model, or a pool smaller than one block ("raise --kv-cache-gib").
std::unique_ptr<engine> make_cpu_engine(const cpu_engine_options& options, const clock_source* clock = nullptr);

// Blocks of block_bytes that options.kv_cache_gib holds; throws when it is not positive or holds none.
int64_t kv_blocks_for_budget(const cpu_engine_options& options, int64_t block_bytes);
// The model directory's tokenizer.json, or null (logged) when it has none.
std::shared_ptr<const model::tokenizer> load_optional_tokenizer(const std::string& model_dir);

} // namespace llmfleet::engine
