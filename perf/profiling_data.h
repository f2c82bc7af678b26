// Readers for the measured timings the performance model is calibrated on (data/profiling, README there):
// Vidur per-operator CUDA times, Vidur NCCL all-reduce times, Splitwise end-to-end prompt/token times.
// Repeated measurements of one point are averaged into one sample.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "planner/model_arch.h"

namespace llmfleet::perf {

// Vidur mlp.csv: one operator's median CUDA time at one (tokens, TP degree).
struct op_sample {
    std::string op; // Vidur's name: "attn_pre_proj", "mlp_up_proj", "input_layernorm", "add", ...
    int64_t n_tokens = 0;
    int32_t tp = 1;     // num_tensor_parallel_workers: the shapes are this TP degree's shards
    double time_ms = 0; // median over Vidur's repetitions, averaged over duplicate rows
};

struct op_table {
    std::string path;
    std::string gpu;           // catalog name of the measured GPU ("A100-80GB")
    planner::model_arch model; // from the CSV's n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size
    std::vector<op_sample> samples;
};

// Vidur all_reduce.csv: NCCL all-reduce median time.
struct allreduce_sample {
    int32_t n_workers = 0;
    int32_t devices_per_node = 0; // n_workers == devices_per_node: one node (NVLink/NVSwitch)
    double size_bytes = 0;
    double time_ms = 0;
};

struct allreduce_table {
    std::string path;
    std::string gpu; // catalog name
    std::vector<allreduce_sample> samples;
};

// Splitwise perf_model.csv: one configuration's mean prompt (prefill) time and mean per-token (decode) time.
struct splitwise_sample {
    std::string model;    // "llama2-70b", "bloom-176b"
    std::string hardware; // Splitwise's name: "a100-80gb", "h100-80gb", "h100-80gb-pcap"
    std::string gpu;      // catalog name, "" for hardware without a catalog entry (the power-capped H100)
    int32_t tp = 1;
    int64_t prompt_tokens = 0;
    int64_t batch_size = 0;
    int64_t output_tokens = 0;
    double prompt_time_ms = 0; // prefill of batch_size prompts of prompt_tokens, mean over repeats
    double token_time_ms = 0;  // one decode step of batch_size sequences, mean over repeats
};

op_table load_vidur_ops(const std::string& path, std::string gpu, std::string model_name);
allreduce_table load_vidur_allreduce(const std::string& path, std::string gpu);
std::vector<splitwise_sample> load_splitwise(const std::string& path);

// The architecture Splitwise measured ("llama2-70b", "bloom-176b"); BLOOM's plain GELU MLP (h → 4h → h) is
// written as a gated MLP with the same parameter count (intermediate 8h/3). Throws invalid_input otherwise.
planner::model_arch splitwise_model(std::string_view name);

// Everything under one data directory (data/profiling): the files docs/perfmodel.md lists.
struct profiling_data {
    std::string dir;
    std::vector<op_table> ops;              // a100 Llama-2-7B, h100 Llama-2-7B, a100 Llama-3-8B
    std::vector<allreduce_table> allreduce; // a100_dgx, h100_dgx, a100_pairwise_nvlink
    std::vector<splitwise_sample> splitwise;
};

// Reads every file; errors name the missing file and suggest --data.
profiling_data load_profiling_data(const std::string& dir);

} // namespace llmfleet::perf
