// Profile file I/O; see profile.h.
#include "planner/profile.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

namespace jr = json_read;

throughput_profile load_profile_file(const std::string& path) {
    const jr::json doc = jr::parse(read_file(path, "profile"), path);
    const std::string root = "profile";
    auto edges = [&](std::string_view key) {
        const std::string p = jr::child(root, key);
        std::vector<int64_t> out;
        for (double x : jr::number_array(jr::member(doc, key, root), p)) {
            out.push_back(static_cast<int64_t>(x));
        }
        return make_bucket_edges(std::move(out), p);
    };
    throughput_profile profile;
    profile.source = path;
    profile.grid = make_grid(edges("input_edges"), edges("output_edges"));
    const jr::json& gpus = jr::member(doc, "gpus", root);
    if (!gpus.is_object() || gpus.empty()) {
        throw invalid_input(
            fmt::format("{}: profile.gpus: expected an object {{\"GPU\": {{\"max_rps\": [[...]]}}}}", path));
    }
    for (const auto& [name, entry] : gpus.items()) {
        const std::string p = fmt::format("profile.gpus.{}", name);
        matrix m = matrix::from_rows(jr::non_negative_matrix(jr::member(entry, "max_rps", p), jr::child(p, "max_rps")));
        if (m.n_rows != profile.grid.n_input || m.n_cols != profile.grid.n_output) {
            throw invalid_input(fmt::format("{}: {}.max_rps is {}x{} but the edges give a {}x{} grid (input × output)",
                                            path, p, m.n_rows, m.n_cols, profile.grid.n_input, profile.grid.n_output));
        }
        profile.max_rps[name] = std::move(m);
    }
    return profile;
}

std::string profile_to_json(const throughput_profile& profile) {
    jr::json doc;
    doc["schema"] = "llmfleet.profile.v1";
    doc["source"] = profile.source;
    doc["input_edges"] = profile.grid.input.edges;
    doc["output_edges"] = profile.grid.output.edges;
    for (const auto& [name, m] : profile.max_rps) {
        jr::json rows = jr::json::array();
        for (int64_t i = 0; i < m.n_rows; ++i) {
            jr::json row = jr::json::array();
            for (int64_t j = 0; j < m.n_cols; ++j) {
                row.push_back(m.at(i, j));
            }
            rows.push_back(row);
        }
        doc["gpus"][name]["max_rps"] = rows;
    }
    return doc.dump(2);
}

} // namespace llmfleet::planner
