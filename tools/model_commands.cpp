// `llmfleet make-model` and `llmfleet check-model`: write a random-weight HF model; load and validate one.
#include <memory>

#include <fmt/core.h>

#include "model/config.h"
#include "model/make_model.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "tools/commands.h"

namespace llmfleet::tools {

namespace {
struct make_model_flags {
    std::string arch = "qwen2";
    std::string dtype = "bf16";
    model::make_model_options options;
};
} // namespace

command add_make_model_command(CLI::App& app) {
    auto f = std::make_shared<make_model_flags>();
    CLI::App* sub = app.add_subcommand(
        "make-model", "Write a random-weight model in the Hugging Face layout "
                      "(config.json, generation_config.json, *.safetensors, tokenizer.json, tokenizer_config.json)");
    sub->add_option("--arch", f->arch, "qwen2 | llama")->capture_default_str();
    sub->add_option("--preset", f->options.preset, "tiny | qwen2.5-0.5b | qwen2.5-1.5b | qwen2.5-3b")
        ->capture_default_str();
    sub->add_option("--layers", f->options.n_layers, "Layers (default: the preset's)");
    sub->add_option("--seed", f->options.seed, "Random seed (same seed, same file)")->capture_default_str();
    sub->add_option("--dtype", f->dtype, "Weight dtype: bf16 | f16 | f32")->capture_default_str();
    sub->add_option("--shards", f->options.n_shards, "Split into N safetensors shards + index")->capture_default_str();
    sub->add_option("--out", f->options.out_dir, "Output directory")->required();
    return command{sub, [f] {
                       model::make_model_options o = f->options;
                       o.arch = model::parse_architecture(f->arch);
                       o.type = model::parse_dtype_flag(f->dtype);
                       model::make_model(o);
                       fmt::print("wrote {} ({} {}, {} weights, seed {}) to {}\n", o.preset, f->arch, f->dtype,
                                  o.n_shards > 1 ? fmt::format("{} shards of", o.n_shards) : "one file of", o.seed,
                                  o.out_dir);
                       return 0;
                   }};
}

command add_check_model_command(CLI::App& app) {
    auto dir = std::make_shared<std::string>();
    CLI::App* sub = app.add_subcommand("check-model", "Load a model directory and validate config and weights");
    sub->add_option("--model", *dir, "Hugging Face model directory")->required();
    return command{sub, [dir] {
                       const model::model_config c = model::load_config(*dir);
                       const model::weight_store store(*dir);
                       model::validate_weights(store, c, *dir);
                       int64_t n_params = 0;
                       for (const model::expected_tensor& e : model::expected_tensors(c)) {
                           n_params += store.find(e.name)->n_elements();
                       }
                       const model::tensor_info* embed = store.find("model.embed_tokens.weight");
                       fmt::print("{}: {} ok: {} layers, hidden {}, heads {}/{} (kv), head_dim {}, vocab {}, "
                                  "{:.2f}M parameters in {} ({} file(s))\n",
                                  *dir, to_string(c.arch), c.n_layers, c.hidden_size, c.n_heads, c.n_kv_heads,
                                  c.head_dim, c.vocab_size, static_cast<double>(n_params) / 1e6, to_string(embed->type),
                                  store.n_files());
                       return 0;
                   }};
}

} // namespace llmfleet::tools
