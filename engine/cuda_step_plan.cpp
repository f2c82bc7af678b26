// See cuda_step_plan.h.
#include "engine/cuda_step_plan.h"

#include <algorithm>

namespace llmfleet::engine {

std::vector<int32_t> decode_graph_buckets(int32_t max_num_seqs) {
    std::vector<int32_t> buckets;
    for (const int32_t b : {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256}) {
        if (b < max_num_seqs) {
            buckets.push_back(b);
        }
    }
    if (const int32_t last = std::min(std::max(max_num_seqs, 1), 256); buckets.empty() || buckets.back() != last) {
        buckets.push_back(last);
    }
    return buckets;
}

int32_t graph_bucket_for(const forward_batch& batch, const std::vector<int32_t>& buckets, int32_t graph_max_seq_len) {
    const int32_t n_seqs = batch.n_seqs();
    if (buckets.empty() || n_seqs == 0 || batch.n_tokens() != n_seqs ||
        static_cast<int32_t>(batch.logits_indices.size()) != n_seqs || n_seqs > buckets.back()) {
        return 0;
    }
    for (const int32_t position : batch.positions) {
        if (position + 1 > graph_max_seq_len) {
            return 0;
        }
    }
    return *std::lower_bound(buckets.begin(), buckets.end(), n_seqs);
}

kv_memory_plan plan_kv_memory(int64_t total_bytes, int64_t free_bytes, double fraction, int64_t fixed_bytes,
                              int64_t reserve_bytes, int64_t block_bytes) {
    kv_memory_plan p;
    p.budget_bytes = static_cast<int64_t>(fraction * static_cast<double>(total_bytes));
    p.kv_bytes = std::min(p.budget_bytes - fixed_bytes, free_bytes - reserve_bytes);
    p.n_blocks = p.kv_bytes > 0 && block_bytes > 0 ? p.kv_bytes / block_bytes : 0;
    return p;
}

} // namespace llmfleet::engine
