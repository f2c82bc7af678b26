// See melange_input.h.
#include "planner/melange_input.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

namespace jr = json_read;

melange_input parse_melange_input(std::string_view json_text, std::string_view origin) {
    try {
        const jr::json doc = jr::parse(json_text, origin);
        const std::string root = "melange";
        const std::vector<std::vector<double>> dist =
            jr::non_negative_matrix(jr::member(doc, "workload_distribution", root), "workload_distribution");
        const double total = jr::non_negative(jr::member(doc, "total_request_rate", root), "total_request_rate");
        melange_input in;
        in.slice_factor = jr::integer(jr::member(doc, "slice_factor", root), "slice_factor");
        if (in.slice_factor < 1) {
            throw invalid_input(fmt::format("slice_factor: expected an integer >= 1, got {}", in.slice_factor));
        }
        const int64_t n_in = static_cast<int64_t>(dist.size());
        const int64_t n_out = static_cast<int64_t>(dist[0].size());
        plan_problem& p = in.problem;
        p.grid = make_grid_without_edges(n_in, n_out);
        for (const auto& row : dist) {
            for (double x : row) {
                p.rate_rps.push_back(x * total);
            }
        }
        const jr::json& gpus = jr::member(doc, "gpu_info", root);
        if (!gpus.is_object() || gpus.empty()) {
            throw invalid_input("gpu_info: expected an object {\"GPU\": {\"cost\": ..., \"tputs\": [[...]]}}");
        }
        for (const auto& [name, entry] : gpus.items()) {
            const std::string path = fmt::format("gpu_info.{}", name);
            gpu_offer offer;
            offer.name = name;
            offer.price_usd_per_hour = jr::non_negative(jr::member(entry, "cost", path), jr::child(path, "cost"));
            const std::vector<std::vector<double>> tputs =
                jr::non_negative_matrix(jr::member(entry, "tputs", path), jr::child(path, "tputs"));
            if (static_cast<int64_t>(tputs.size()) != n_in || static_cast<int64_t>(tputs[0].size()) != n_out) {
                throw invalid_input(fmt::format("{}.tputs is {}x{} but workload_distribution is {}x{}", path,
                                                tputs.size(), tputs[0].size(), n_in, n_out));
            }
            std::vector<double> flat;
            for (const auto& row : tputs) {
                flat.insert(flat.end(), row.begin(), row.end());
            }
            p.gpus.push_back(offer);
            p.max_rps.push_back(std::move(flat));
        }
        check_problem(p);
        return in;
    } catch (const error& e) {
        throw e.with_context(fmt::format("Mélange input {}", origin));
    }
}

melange_input load_melange_input(const std::string& path) {
    return parse_melange_input(read_file(path, "Mélange input"), path);
}

} // namespace llmfleet::planner
