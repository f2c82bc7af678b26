// CSV readers for data/profiling (profiling_data.h). The files are plain comma-separated (no quoting).
#include "perf/profiling_data.h"

#include <map>
#include <tuple>

#include <fmt/core.h>

#include "common/error.h"
#include "common/text.h"

namespace llmfleet::perf {

namespace {

// A CSV file as a header → column map and rows of fields.
struct csv_file {
    std::string path;
    std::string text; // owns the bytes the views point into
    std::map<std::string, size_t, std::less<>> columns;
    std::vector<std::vector<std::string_view>> rows;

    size_t column(std::string_view name) const {
        const auto it = columns.find(name);
        if (it == columns.end()) {
            throw invalid_input(fmt::format("{}: missing column '{}'; is this the right file?", path, name));
        }
        return it->second;
    }
    double number(size_t row, size_t col) const {
        return parse_double(rows[row][col], fmt::format("{} line {}", path, row + 2));
    }
    int64_t integer(size_t row, size_t col) const {
        return parse_int(rows[row][col], fmt::format("{} line {}", path, row + 2));
    }
};

csv_file read_csv(const std::string& path) {
    csv_file f;
    f.path = path;
    f.text = read_file(path, "profiling data");
    std::vector<std::string_view> lines = split(f.text, '\n');
    bool header = true;
    for (std::string_view line : lines) {
        line = trim(line);
        if (line.empty()) {
            continue;
        }
        std::vector<std::string_view> fields = split(line, ',');
        if (header) {
            for (size_t i = 0; i < fields.size(); ++i) {
                f.columns.emplace(std::string(trim(fields[i])), i);
            }
            header = false;
            continue;
        }
        if (fields.size() != f.columns.size()) {
            throw invalid_input(fmt::format("{} line {}: expected {} fields, got {}", path, f.rows.size() + 2,
                                            f.columns.size(), fields.size()));
        }
        f.rows.push_back(std::move(fields));
    }
    return f;
}

// Mean of values that share a key.
template <typename Key> struct averager {
    std::map<Key, std::pair<double, int>> sums;
    void add(const Key& k, double v) {
        auto& [sum, n] = sums[k];
        sum += v;
        ++n;
    }
};

} // namespace

op_table load_vidur_ops(const std::string& path, std::string gpu, std::string model_name) {
    const csv_file f = read_csv(path);
    op_table t;
    t.path = path;
    t.gpu = std::move(gpu);
    static const std::vector<std::string> ops = {"attn_pre_proj",
                                                 "attn_post_proj",
                                                 "mlp_up_proj",
                                                 "mlp_down_proj",
                                                 "mlp_act",
                                                 "input_layernorm",
                                                 "post_attention_layernorm",
                                                 "attn_rope",
                                                 "add"};
    if (f.rows.empty()) {
        throw invalid_input(fmt::format("{}: no rows", path));
    }
    planner::model_arch& m = t.model;
    m.name = std::move(model_name);
    m.n_heads = f.integer(0, f.column("n_head"));
    m.n_kv_heads = f.integer(0, f.column("n_kv_head"));
    m.hidden_size = f.integer(0, f.column("n_embd"));
    m.intermediate_size = f.integer(0, f.column("n_expanded_embd"));
    m.vocab_size = f.integer(0, f.column("vocab_size"));
    m.head_dim = m.hidden_size / m.n_heads;
    m.n_layers = 1; // per-operator data: one layer
    const size_t c_tokens = f.column("num_tokens");
    const size_t c_tp = f.column("num_tensor_parallel_workers");
    for (const std::string& op : ops) {
        const size_t c = f.column(fmt::format("time_stats.{}.median", op));
        averager<std::pair<int64_t, int64_t>> avg;
        for (size_t r = 0; r < f.rows.size(); ++r) {
            avg.add({f.integer(r, c_tp), f.integer(r, c_tokens)}, f.number(r, c));
        }
        for (const auto& [key, sum] : avg.sums) {
            t.samples.push_back({op, key.second, static_cast<int32_t>(key.first), sum.first / sum.second});
        }
    }
    return t;
}

allreduce_table load_vidur_allreduce(const std::string& path, std::string gpu) {
    const csv_file f = read_csv(path);
    allreduce_table t;
    t.path = path;
    t.gpu = std::move(gpu);
    const size_t c_time = f.column("time_stats.all_reduce.median");
    const size_t c_workers = f.column("num_workers");
    const size_t c_node = f.column("devices_per_node");
    const size_t c_size = f.column("size");
    averager<std::tuple<int64_t, int64_t, int64_t>> avg;
    for (size_t r = 0; r < f.rows.size(); ++r) {
        avg.add({f.integer(r, c_workers), f.integer(r, c_node), f.integer(r, c_size)}, f.number(r, c_time));
    }
    for (const auto& [key, sum] : avg.sums) {
        t.samples.push_back({static_cast<int32_t>(std::get<0>(key)), static_cast<int32_t>(std::get<1>(key)),
                             static_cast<double>(std::get<2>(key)), sum.first / sum.second});
    }
    return t;
}

std::vector<splitwise_sample> load_splitwise(const std::string& path) {
    const csv_file f = read_csv(path);
    const size_t c_model = f.column("model");
    const size_t c_hw = f.column("hardware");
    const size_t c_prompt = f.column("prompt_size");
    const size_t c_batch = f.column("batch_size");
    const size_t c_tokens = f.column("token_size");
    const size_t c_tp = f.column("tensor_parallel");
    const size_t c_prompt_time = f.column("prompt_time");
    const size_t c_token_time = f.column("token_time");
    using key = std::tuple<std::string, std::string, int64_t, int64_t, int64_t, int64_t>;
    averager<key> prompt_avg;
    averager<key> token_avg;
    for (size_t r = 0; r < f.rows.size(); ++r) {
        const key k{std::string(f.rows[r][c_model]), std::string(f.rows[r][c_hw]), f.integer(r, c_tp),
                    f.integer(r, c_prompt),          f.integer(r, c_batch),        f.integer(r, c_tokens)};
        prompt_avg.add(k, f.number(r, c_prompt_time));
        token_avg.add(k, f.number(r, c_token_time));
    }
    std::vector<splitwise_sample> out;
    for (const auto& [k, sum] : prompt_avg.sums) {
        splitwise_sample s;
        std::tie(s.model, s.hardware, std::ignore, s.prompt_tokens, s.batch_size, s.output_tokens) = k;
        s.tp = static_cast<int32_t>(std::get<2>(k));
        s.gpu = s.hardware == "a100-80gb" ? "A100-80GB" : s.hardware == "h100-80gb" ? "H100-SXM" : "";
        s.prompt_time_ms = sum.first / sum.second;
        const auto& t = token_avg.sums.at(k);
        s.token_time_ms = t.first / t.second;
        out.push_back(std::move(s));
    }
    return out;
}

planner::model_arch splitwise_model(std::string_view name) {
    // name, layers, hidden, heads, kv heads, head dim, intermediate, vocab, tied, qkv bias
    if (name == "llama2-70b") {
        return {"Llama-2-70B", 80, 8192, 64, 8, 128, 28672, 32000, false, false};
    }
    if (name == "bloom-176b") {
        return {"BLOOM-176B", 70, 14336, 112, 112, 128, 14336 * 8 / 3, 250880, true, true};
    }
    throw invalid_input(fmt::format("splitwise model '{}': expected llama2-70b or bloom-176b", name));
}

profiling_data load_profiling_data(const std::string& dir) {
    profiling_data d;
    d.dir = dir;
    try {
        d.ops.push_back(load_vidur_ops(dir + "/vidur/a100_Llama-2-7b-hf_mlp.csv", "A100-80GB", "Llama-2-7B"));
        d.ops.push_back(load_vidur_ops(dir + "/vidur/h100_Llama-2-7b-hf_mlp.csv", "H100-SXM", "Llama-2-7B"));
        d.ops.push_back(load_vidur_ops(dir + "/vidur/a100_Meta-Llama-3-8B_mlp.csv", "A100-80GB", "Llama-3-8B"));
        d.allreduce.push_back(load_vidur_allreduce(dir + "/vidur/a100_dgx_all_reduce.csv", "A100-80GB"));
        d.allreduce.push_back(load_vidur_allreduce(dir + "/vidur/h100_dgx_all_reduce.csv", "H100-SXM"));
        d.allreduce.push_back(
            load_vidur_allreduce(dir + "/vidur/a100_pairwise_nvlink_all_reduce.csv", "A100-80GB pairwise NVLink"));
        d.splitwise = load_splitwise(dir + "/splitwise/perf_model.csv");
    } catch (const error& e) {
        throw e.with_context(fmt::format("profiling data in {} (give the folder holding vidur/ and splitwise/ "
                                         "with --data)",
                                         dir));
    }
    return d;
}

} // namespace llmfleet::perf
