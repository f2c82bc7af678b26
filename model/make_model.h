// Random-weight models in the exact Hugging Face layout (config.json, generation_config.json,
// model.safetensors or shards + index, tokenizer.json + tokenizer_config.json), for tests and benchmarks: no
// weights can be downloaded here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/config.h"
#include "model/dtype.h"

namespace llmfleet::model {

struct make_model_options {
    architecture arch = architecture::qwen2;
    std::string preset = "tiny"; // tiny | qwen2.5-0.5b | qwen2.5-1.5b | qwen2.5-3b
    uint64_t seed = 0;
    dtype type = dtype::bf16;
    int64_t n_shards = 1;
    std::string out_dir;
    int64_t n_layers = 0; // 0 → the preset's (tests of pipeline stages want more layers than tiny's 2)
};

// The dimensions of a preset for an architecture; throws invalid_argument listing the presets.
model_config preset_config(architecture arch, std::string_view preset);
architecture parse_architecture(std::string_view text); // "qwen2" | "llama"
dtype parse_dtype_flag(std::string_view text);          // "bf16" | "f16" | "f32"

// Writes the model and its tokenizer (make_tokenizer.h: config.json's bos/eos ids are its special tokens).
// Weights ~ N(0, 0.02²) (norm weights 1 + N(0, 0.02²)) from a Box–Muller stream over mt19937_64(seed), so a seed
// gives the same file on every platform and with any thread count (the transforms run on default_thread_count()
// threads; the draws stay in order).
void make_model(const make_model_options& options);

} // namespace llmfleet::model
