// Profile file I/O; see profile.h.
#include "planner/profile.h"

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

namespace jr = json_read;

namespace {
throughput_profile load_profile_body(const std::string& path) {
    const jr::json doc = jr::parse(read_file(path, "profile"), "");
    const std::string root = "profile";
    throughput_profile profile;
    profile.source = path;
    profile.grid =
        make_grid(bucket_edges_from_json(doc, "input_edges", root), bucket_edges_from_json(doc, "output_edges", root));
    const jr::json& gpus = jr::member(doc, "gpus", root);
    if (!gpus.is_object() || gpus.empty()) {
        throw invalid_input("profile.gpus: expected an object {\"GPU\": {\"max_rps\": [[...]]}}");
    }
    for (const auto& [name, entry] : gpus.items()) {
        const std::string p = fmt::format("profile.gpus.{}", name);
        matrix m = matrix::from_rows(jr::non_negative_matrix(jr::member(entry, "max_rps", p), jr::child(p, "max_rps")));
        if (m.n_rows != profile.grid.n_input || m.n_cols != profile.grid.n_output) {
            throw invalid_input(fmt::format("{}.max_rps is {}x{} but the edges give a {}x{} grid (input × output)", p,
                                            m.n_rows, m.n_cols, profile.grid.n_input, profile.grid.n_output));
        }
        profile.max_rps[name] = std::move(m);
    }
    return profile;
}

} // namespace

throughput_profile load_profile_file(const std::string& path) {
    try {
        return load_profile_body(path);
    } catch (const error& e) {
        throw e.with_context(path);
    }
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
