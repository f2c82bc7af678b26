// See layout.h.
#include "parallel/layout.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::parallel {

namespace {

bool kv_heads_split(int64_t n_kv_heads, int64_t tp) {
    return n_kv_heads % tp == 0 || (n_kv_heads < tp && tp % n_kv_heads == 0);
}

} // namespace

std::vector<int32_t> valid_tp_values(const model::model_config& model) {
    std::vector<int32_t> out;
    for (int64_t tp = 1; tp <= model.n_heads; ++tp) {
        if (model.n_heads % tp == 0 && model.intermediate_size % tp == 0 && kv_heads_split(model.n_kv_heads, tp)) {
            out.push_back(static_cast<int32_t>(tp));
        }
    }
    return out;
}

void validate(const parallel_config& config, const model::model_config& model) {
    const int64_t tp = config.tp, pp = config.pp;
    if (tp < 1 || pp < 1) {
        throw invalid_input(fmt::format("--tp {} and --pp {} must be at least 1", tp, pp));
    }
    auto refuse_tp = [&](const std::string& why) {
        throw invalid_input(fmt::format("--tp {}: {}; --tp values that work for this model: {}", tp, why,
                                        fmt::join(valid_tp_values(model), ", ")));
    };
    if (model.n_heads % tp != 0) {
        refuse_tp(fmt::format("the {} attention heads do not divide by {}", model.n_heads, tp));
    }
    if (!kv_heads_split(model.n_kv_heads, tp)) {
        refuse_tp(
            fmt::format("the {} KV heads neither divide by {} nor divide it (for replication)", model.n_kv_heads, tp));
    }
    if (model.intermediate_size % tp != 0) {
        refuse_tp(fmt::format("the intermediate size {} does not divide by {}", model.intermediate_size, tp));
    }
    if (pp > model.n_layers) {
        throw invalid_input(
            fmt::format("--pp {}: the model has only {} layers; use --pp ≤ {}", pp, model.n_layers, model.n_layers));
    }
    if (!config.pp_layers.empty()) {
        const int64_t total = std::accumulate(config.pp_layers.begin(), config.pp_layers.end(), int64_t{0});
        const bool positive = std::ranges::all_of(config.pp_layers, [](int32_t n) { return n >= 1; });
        if (static_cast<int64_t>(config.pp_layers.size()) != pp || total != model.n_layers || !positive) {
            throw invalid_input(
                fmt::format("--pp-layers {}: expected {} positive counts (one per stage) summing to "
                            "the model's {} layers, e.g. --pp-layers {}",
                            fmt::join(config.pp_layers, ","), pp, model.n_layers,
                            fmt::join(stage_layer_counts({.tp = 1, .pp = config.pp}, model.n_layers), ",")));
        }
    }
    if (config.n_micro_batches < 0) {
        throw invalid_input(
            fmt::format("--pp-micro-batches {} must be ≥ 0 (0: one per stage)", config.n_micro_batches));
    }
}

std::vector<int32_t> stage_layer_counts(const parallel_config& config, int64_t n_layers) {
    if (!config.pp_layers.empty()) {
        return config.pp_layers;
    }
    std::vector<int32_t> counts(static_cast<size_t>(config.pp), static_cast<int32_t>(n_layers / config.pp));
    for (int64_t s = 0; s < n_layers % config.pp; ++s) {
        ++counts[static_cast<size_t>(s)];
    }
    return counts;
}

rank_layout make_rank_layout(const parallel_config& config, const model::model_config& model, int32_t rank) {
    LLMFLEET_CHECK(rank >= 0 && rank < config.world_size(), "rank {} outside a world of {}", rank, config.world_size());
    rank_layout l;
    l.rank = rank;
    l.tp = config.tp;
    l.pp = config.pp;
    l.tp_rank = rank % config.tp;
    l.stage = rank / config.tp;
    const std::vector<int32_t> counts = stage_layer_counts(config, model.n_layers);
    l.layers.begin = std::accumulate(counts.begin(), counts.begin() + l.stage, int64_t{0});
    l.layers.end = l.layers.begin + counts[static_cast<size_t>(l.stage)];
    const int64_t tp = config.tp, r = l.tp_rank;
    const int64_t heads = model.n_heads / tp;
    l.heads = {r * heads, (r + 1) * heads};
    if (model.n_kv_heads >= tp) {
        const int64_t kv = model.n_kv_heads / tp;
        l.kv_heads = {r * kv, (r + 1) * kv};
    } else {
        const int64_t head = r * model.n_kv_heads / tp; // the KV head this rank's query heads read
        l.kv_heads = {head, head + 1};
    }
    const int64_t ffn = model.intermediate_size / tp;
    l.ffn = {r * ffn, (r + 1) * ffn};
    l.vocab_shard = (model.vocab_size + tp - 1) / tp;
    l.vocab = {std::min(model.vocab_size, r * l.vocab_shard), std::min(model.vocab_size, (r + 1) * l.vocab_shard)};
    return l;
}

std::string rank_layout::describe() const {
    return fmt::format("rank {} (stage {}/{}, tp {}/{}): layers [{}, {}), heads [{}, {}), kv heads [{}, {}), "
                       "ffn [{}, {}), vocab [{}, {})",
                       rank, stage, pp, tp_rank, tp, layers.begin, layers.end, heads.begin, heads.end, kv_heads.begin,
                       kv_heads.end, ffn.begin, ffn.end, vocab.begin, vocab.end);
}

} // namespace llmfleet::parallel
