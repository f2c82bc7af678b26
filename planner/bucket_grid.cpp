// See bucket_grid.h.
#include "planner/bucket_grid.h"

#include <algorithm>
#include <numeric>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::planner {

double matrix::sum() const {
    return std::accumulate(data.begin(), data.end(), 0.0);
}

matrix matrix::from_rows(const std::vector<std::vector<double>>& rows) {
    LLMFLEET_CHECK(!rows.empty(), "from_rows needs at least one row");
    matrix m(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()));
    for (int64_t i = 0; i < m.n_rows; ++i) {
        LLMFLEET_CHECK(static_cast<int64_t>(rows[i].size()) == m.n_cols, "ragged rows");
        for (int64_t j = 0; j < m.n_cols; ++j) {
            m.at(i, j) = rows[i][j];
        }
    }
    return m;
}

int64_t bucket_edges::bucket_of(int64_t tokens, bool* clamped) const {
    LLMFLEET_CHECK(n_buckets() >= 1, "bucket_of on empty edges");
    const auto it = std::upper_bound(edges.begin(), edges.end(), tokens);
    int64_t i = static_cast<int64_t>(it - edges.begin()) - 1;
    const bool out = i < 0 || i >= n_buckets();
    if (clamped != nullptr) {
        *clamped = out;
    }
    return std::clamp<int64_t>(i, 0, n_buckets() - 1);
}

double bucket_edges::representative_tokens(int64_t i) const {
    return 0.5 * static_cast<double>(edges[i] + edges[i + 1]);
}

std::string bucket_edges::label(int64_t i) const {
    return fmt::format("{}-{}", edges[i], edges[i + 1]);
}

bucket_edges make_bucket_edges(std::vector<int64_t> edges, const std::string& field) {
    if (edges.size() < 2) {
        throw invalid_input(
            fmt::format("{}: expected at least 2 bucket edges (e.g. 1,100,1000), got {}", field, edges.size()));
    }
    for (size_t i = 0; i < edges.size(); ++i) {
        if (edges[i] < 0) {
            throw invalid_input(fmt::format("{}: edge {} is {}; token counts must be >= 0", field, i, edges[i]));
        }
        if (i > 0 && edges[i] <= edges[i - 1]) {
            throw invalid_input(fmt::format("{}: edges must increase strictly, but edge {} = {} follows {}", field, i,
                                            edges[i], edges[i - 1]));
        }
    }
    return bucket_edges{std::move(edges)};
}

bucket_edges parse_bucket_edges(const std::string& text, const std::string& field) {
    std::vector<int64_t> edges;
    for (std::string_view part : split(text, ',')) {
        edges.push_back(parse_int(part, field));
    }
    return make_bucket_edges(std::move(edges), field);
}

bucket_edges bucket_edges_from_json(const nlohmann::json& obj, const std::string& key, const std::string& path) {
    const std::string field = json_read::child(path, key);
    const nlohmann::json& value = json_read::member(obj, key, path);
    if (!value.is_array()) {
        throw invalid_input(fmt::format("{}: expected an array of increasing token counts", field));
    }
    std::vector<int64_t> edges;
    for (size_t i = 0; i < value.size(); ++i) {
        edges.push_back(json_read::integer(value[i], json_read::index(field, i)));
    }
    return make_bucket_edges(std::move(edges), field);
}

bucket_edges default_bucket_edges() {
    return bucket_edges{{1, 25, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000}};
}

std::string bucket_grid::label(int64_t flat_index) const {
    const int64_t i = flat_index / n_output;
    const int64_t j = flat_index % n_output;
    if (!has_edges()) {
        return fmt::format("bucket [{}][{}]", i, j);
    }
    return fmt::format("input {} × output {}", input.label(i), output.label(j));
}

bool bucket_grid::same_shape(const bucket_grid& other) const {
    return n_input == other.n_input && n_output == other.n_output;
}

bucket_grid make_grid(bucket_edges input, bucket_edges output) {
    bucket_grid grid;
    grid.n_input = input.n_buckets();
    grid.n_output = output.n_buckets();
    grid.input = std::move(input);
    grid.output = std::move(output);
    return grid;
}

bucket_grid make_grid_without_edges(int64_t n_input, int64_t n_output) {
    LLMFLEET_CHECK(n_input > 0 && n_output > 0, "grid needs positive sizes, got {}x{}", n_input, n_output);
    bucket_grid grid;
    grid.n_input = n_input;
    grid.n_output = n_output;
    return grid;
}

} // namespace llmfleet::planner
