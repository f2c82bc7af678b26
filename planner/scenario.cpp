// See scenario.h.
#include "planner/scenario.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"

namespace llmfleet::embedded {
extern const std::string_view azure_conv_trace_csv;
}

namespace llmfleet::planner {

trace builtin_azure_conv_trace() {
    return parse_azure_csv(embedded::azure_conv_trace_csv, "AzureLLMInferenceTrace_conv.csv (built in)");
}

namespace {

std::vector<gpu_offer> make_offers(const gpu_catalog& catalog, const scenario_options& o,
                                   std::vector<gpu_spec>& specs) {
    auto set_it = catalog.price_sets.find(o.price_set);
    if (set_it == catalog.price_sets.end()) {
        std::string names;
        for (const auto& [name, set] : catalog.price_sets) {
            names += (names.empty() ? "" : ", ") + name;
        }
        throw invalid_input(fmt::format("--prices: unknown price set '{}'; the catalog ({}) has: {}", o.price_set,
                                        catalog.origin, names.empty() ? "(none)" : names));
    }
    std::map<std::string, gpu_price> prices = set_it->second.prices;
    for (const std::string& text : o.price_overrides) {
        const auto [gpu, value] = split_key_value(text, "--price");
        catalog.get(gpu, "--price");
        const double usd = parse_double(value, fmt::format("--price {}", gpu));
        if (usd < 0) {
            throw invalid_input(fmt::format("--price {}: expected $/h >= 0, got {}", gpu, value));
        }
        prices[gpu] = gpu_price{usd, "command line (--price)", "", ""};
    }
    std::vector<std::string> names = o.gpu_names;
    if (names.empty()) {
        for (const gpu_spec& g : catalog.gpus) {
            if (prices.count(g.name) != 0) {
                names.push_back(g.name);
            }
        }
    }
    std::vector<gpu_offer> offers;
    for (const std::string& name : names) {
        specs.push_back(catalog.get(name, "--gpus"));
        const auto price = prices.find(name);
        if (price == prices.end()) {
            throw invalid_input(fmt::format("--gpus: {} has no price in price set '{}'; give one with --price {}=USD",
                                            name, o.price_set, name));
        }
        offers.push_back(gpu_offer{name, price->second.usd_per_hour, -1, {}});
    }
    for (const std::string& text : o.max_gpus) {
        const auto [gpu, value] = split_key_value(text, "--max-gpus");
        const int64_t n = parse_int(value, fmt::format("--max-gpus {}", gpu));
        if (n < 0) {
            throw invalid_input(fmt::format("--max-gpus {}: expected a count >= 0, got {}", gpu, n));
        }
        bool found = false;
        for (gpu_offer& offer : offers) {
            if (offer.name == gpu) {
                offer.max_count = n;
                found = true;
            }
        }
        if (!found) {
            catalog.get(gpu, "--max-gpus");
            throw invalid_input(fmt::format("--max-gpus {}: that GPU type is not among the planned types", gpu));
        }
    }
    return offers;
}

workload make_workload(const scenario_options& o, const std::optional<bucket_grid>& profile_grid) {
    if (o.trace_path && o.workload_path) {
        throw invalid_input("give either --trace or --workload, not both");
    }
    if (o.workload_path) {
        if (o.input_edges || o.output_edges) {
            throw invalid_input("--input-edges/--output-edges apply to traces; a --workload file carries its edges");
        }
        return load_workload_file(*o.workload_path, o.rate_rps);
    }
    bucket_grid grid = profile_grid ? *profile_grid : make_grid(default_bucket_edges(), default_bucket_edges());
    if (o.input_edges) {
        grid = make_grid(parse_bucket_edges(*o.input_edges, "--input-edges"), grid.output);
    }
    if (o.output_edges) {
        grid = make_grid(grid.input, parse_bucket_edges(*o.output_edges, "--output-edges"));
    }
    const trace t = o.trace_path ? load_trace(*o.trace_path, o.trace_format_override) : builtin_azure_conv_trace();
    return bin_trace(t, grid, o.rate_rps);
}

} // namespace

plan_problem make_problem(const workload& demand, const throughput_profile& profile,
                          const std::vector<gpu_offer>& offers, double max_utilisation) {
    if (!demand.grid.same_shape(profile.grid) || (demand.grid.has_edges() && profile.grid.has_edges() &&
                                                  (demand.grid.input.edges != profile.grid.input.edges ||
                                                   demand.grid.output.edges != profile.grid.output.edges))) {
        throw invalid_input(fmt::format("the workload's bucket grid ({}x{}, from {}) does not match the profile's "
                                        "({}x{}, from {}); both must use the same input and output edges",
                                        demand.grid.n_input, demand.grid.n_output, demand.source, profile.grid.n_input,
                                        profile.grid.n_output, profile.source));
    }
    plan_problem p;
    p.grid = demand.grid;
    p.rate_rps = demand.rate_rps.data;
    p.gpus = offers;
    p.max_utilisation = max_utilisation;
    for (const gpu_offer& offer : offers) {
        const auto it = profile.max_rps.find(offer.name);
        if (it == profile.max_rps.end()) {
            throw invalid_input(fmt::format("profile {} has no throughput for GPU {}; add it or leave it out of --gpus",
                                            profile.source, offer.name));
        }
        p.max_rps.push_back(it->second.data);
    }
    check_problem(p);
    return p;
}

scenario build_scenario(const scenario_options& o) {
    gpu_catalog catalog = o.catalog_path ? load_gpu_catalog(*o.catalog_path) : builtin_gpu_catalog();
    for (const std::string& assignment : o.spec_overrides) {
        set_gpu_field(catalog, assignment);
    }
    if (!(o.target.tpot_ms > 0) || (o.target.ttft_ms && !(*o.target.ttft_ms > 0))) {
        throw invalid_input(fmt::format("SLO: --tpot-ms and --ttft-ms must be > 0 ms, got {} and {}", o.target.tpot_ms,
                                        o.target.ttft_ms.value_or(1)));
    }
    scenario s;
    s.price_set = o.price_set;
    s.target = o.target;
    std::vector<gpu_spec> specs;
    const std::vector<gpu_offer> offers = make_offers(catalog, o, specs);
    std::optional<throughput_profile> from_file;
    if (o.profile_path) {
        from_file = load_profile_file(*o.profile_path);
    }
    s.demand = make_workload(o, from_file ? std::optional<bucket_grid>(from_file->grid) : std::nullopt);
    const model_arch model = o.model_config_path ? load_hf_config(*o.model_config_path) : find_builtin_model(o.model);
    s.model_name = model.name;
    s.model = model;
    s.gpus = specs;
    s.profile = from_file ? *from_file : estimate_profile(model, specs, s.demand.grid, o.target, o.roofline);
    s.problem = make_problem(s.demand, s.profile, offers, o.max_utilisation);
    return s;
}

} // namespace llmfleet::planner
