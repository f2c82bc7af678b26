// See model_runner.h: the backend-neutral pieces every runner shares.
#include "engine/model_runner.h"

#include "common/error.h"
#include "kernels/ref/ops.h"

namespace llmfleet::engine {

void forward_batch::clear() {
    token_ids.clear();
    positions.clear();
    slot_mapping.clear();
    token_seq.clear();
    seq_token_starts.assign(1, 0);
    block_tables.clear();
    logits_indices.clear();
}

void model_runner::forward_sample(const forward_batch&, std::span<const std::optional<kernels::ref::sampling_row>>,
                                  std::span<int32_t>, std::span<float>) {
    throw error(status_code::internal, "this backend does not sample on the device (samples_on_device() is false)");
}

int64_t kv_bytes_per_token(const model::model_config& config, int64_t bytes_per_element) {
    return config.n_layers * 2 * config.kv_size() * bytes_per_element;
}

std::vector<float> rope_inv_freq(const model::model_config& config) {
    std::optional<kernels::ref::rope_llama3> scaling;
    if (config.rope_scaling) {
        const auto& s = *config.rope_scaling;
        scaling = kernels::ref::rope_llama3{s.factor, s.low_freq_factor, s.high_freq_factor,
                                            s.original_max_position_embeddings};
    }
    return kernels::ref::rope_inv_freq(config.head_dim, config.rope_theta, scaling);
}

} // namespace llmfleet::engine
