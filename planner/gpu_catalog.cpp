// See gpu_catalog.h.
#include "planner/gpu_catalog.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::embedded {
extern const std::string_view gpu_catalog_json;
}

namespace llmfleet::planner {

namespace jr = json_read;

const gpu_spec* gpu_catalog::find(std::string_view name) const {
    for (const gpu_spec& g : gpus) {
        if (g.name == name) {
            return &g;
        }
    }
    return nullptr;
}

gpu_spec* gpu_catalog::find(std::string_view name) {
    return const_cast<gpu_spec*>(static_cast<const gpu_catalog*>(this)->find(name));
}

std::string gpu_catalog::names() const {
    std::string out;
    for (const gpu_spec& g : gpus) {
        out += (out.empty() ? "" : ", ") + g.name;
    }
    return out;
}

const gpu_spec& gpu_catalog::get(std::string_view name, std::string_view field) const {
    const gpu_spec* g = find(name);
    if (g == nullptr) {
        throw invalid_input(
            fmt::format("{}: unknown GPU type '{}'; the catalog ({}) has: {}", field, name, origin, names()));
    }
    return *g;
}

namespace {

gpu_spec parse_spec(const jr::json& obj, const std::string& path) {
    gpu_spec g;
    g.name = jr::string(jr::member(obj, "name", path), jr::child(path, "name"));
    const std::string p = fmt::format("gpus.{}", g.name);
    g.memory_gib = jr::positive(jr::member(obj, "memory_gib", p), jr::child(p, "memory_gib"));
    g.memory_bandwidth_gb_per_s =
        jr::positive(jr::member(obj, "memory_bandwidth_gb_per_s", p), jr::child(p, "memory_bandwidth_gb_per_s"));
    g.bf16_dense_tflops = jr::positive(jr::member(obj, "bf16_dense_tflops", p), jr::child(p, "bf16_dense_tflops"));
    g.interconnect = jr::string(jr::member(obj, "interconnect", p), jr::child(p, "interconnect"));
    g.interconnect_gb_per_s =
        jr::non_negative(jr::member(obj, "interconnect_gb_per_s", p), jr::child(p, "interconnect_gb_per_s"));
    if (const jr::json* src = jr::optional_member(obj, "spec_source", p)) {
        g.spec_source = jr::string(*src, jr::child(p, "spec_source"));
    }
    return g;
}

price_set parse_price_set(const std::string& name, const jr::json& obj, const gpu_catalog& catalog) {
    const std::string path = fmt::format("price_sets.{}", name);
    price_set set;
    set.name = name;
    if (const jr::json* d = jr::optional_member(obj, "description", path)) {
        set.description = jr::string(*d, jr::child(path, "description"));
    }
    const jr::json& prices = jr::member(obj, "prices", path);
    if (!prices.is_object()) {
        throw invalid_input(fmt::format("{}.prices: expected an object {{\"GPU\": {{\"usd_per_hour\": ...}}}}", path));
    }
    for (const auto& [gpu, entry] : prices.items()) {
        const std::string p = fmt::format("{}.prices.{}", path, gpu);
        catalog.get(gpu, p);
        gpu_price price;
        price.usd_per_hour = jr::positive(jr::member(entry, "usd_per_hour", p), jr::child(p, "usd_per_hour"));
        price.source = jr::string(jr::member(entry, "source", p), jr::child(p, "source"));
        price.date = jr::string(jr::member(entry, "date", p), jr::child(p, "date"));
        if (const jr::json* url = jr::optional_member(entry, "url", p)) {
            price.url = jr::string(*url, jr::child(p, "url"));
        }
        set.prices[gpu] = price;
    }
    return set;
}

} // namespace

gpu_catalog parse_gpu_catalog(std::string_view json_text, std::string_view origin) {
    try {
        const jr::json doc = jr::parse(json_text, origin);
        gpu_catalog catalog;
        catalog.origin = std::string(origin);
        const jr::json& gpus = jr::member(doc, "gpus", "catalog");
        if (!gpus.is_array() || gpus.empty()) {
            throw invalid_input("gpus: expected a non-empty array of GPU specs");
        }
        for (size_t i = 0; i < gpus.size(); ++i) {
            gpu_spec g = parse_spec(gpus[i], jr::index("gpus", i));
            if (catalog.find(g.name) != nullptr) {
                throw invalid_input(fmt::format("gpus[{}]: duplicate GPU name '{}'", i, g.name));
            }
            catalog.gpus.push_back(std::move(g));
        }
        if (const jr::json* sets = jr::optional_member(doc, "price_sets", "catalog")) {
            if (!sets->is_object()) {
                throw invalid_input("price_sets: expected an object of named price sets");
            }
            for (const auto& [name, obj] : sets->items()) {
                catalog.price_sets[name] = parse_price_set(name, obj, catalog);
            }
        }
        return catalog;
    } catch (const error& e) {
        throw e.with_context(fmt::format("GPU catalog {}", origin));
    }
}

gpu_catalog builtin_gpu_catalog() {
    return parse_gpu_catalog(embedded::gpu_catalog_json, "built-in");
}

gpu_catalog load_gpu_catalog(const std::string& path) {
    return parse_gpu_catalog(read_file(path, "catalog"), path);
}

void set_gpu_field(gpu_catalog& catalog, std::string_view assignment) {
    const auto [key, value] = split_key_value(assignment, "--set");
    const size_t dot = key.find('.');
    if (dot == std::string::npos) {
        throw invalid_input(
            fmt::format("--set: expected GPU.FIELD=VALUE (e.g. H100-SXM.memory_gib=94), got '{}'", assignment));
    }
    const std::string gpu = key.substr(0, dot);
    const std::string field = key.substr(dot + 1);
    catalog.get(gpu, "--set");
    gpu_spec& g = *catalog.find(gpu);
    const std::string what = fmt::format("--set {}", key);
    auto positive = [&](double& target) {
        const double x = parse_double(value, what);
        if (x <= 0) {
            throw invalid_input(fmt::format("{}: expected a number > 0, got {}", what, value));
        }
        target = x;
    };
    if (field == "memory_gib") {
        positive(g.memory_gib);
    } else if (field == "memory_bandwidth_gb_per_s") {
        positive(g.memory_bandwidth_gb_per_s);
    } else if (field == "bf16_dense_tflops") {
        positive(g.bf16_dense_tflops);
    } else if (field == "interconnect_gb_per_s") {
        positive(g.interconnect_gb_per_s);
    } else if (field == "interconnect") {
        g.interconnect = value;
    } else {
        throw invalid_input(fmt::format("--set: unknown GPU field '{}'; expected one of memory_gib, "
                                        "memory_bandwidth_gb_per_s, bf16_dense_tflops, interconnect, "
                                        "interconnect_gb_per_s (prices: --price GPU=USD)",
                                        field));
    }
}

} // namespace llmfleet::planner
