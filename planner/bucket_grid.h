// Length buckets: the (input length × output length) grid that workloads, profiles and plans share.
// Bucket i covers [edges[i], edges[i+1]) tokens; requests outside the edges are clamped (and counted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace llmfleet::planner {

// Row-major dense matrix of doubles: [n_rows, n_cols].
struct matrix {
    int64_t n_rows = 0;
    int64_t n_cols = 0;
    std::vector<double> data; // [n_rows * n_cols]

    matrix() = default;
    matrix(int64_t rows, int64_t cols, double fill = 0.0) : n_rows(rows), n_cols(cols), data(rows * cols, fill) {}
    double& at(int64_t i, int64_t j) { return data[i * n_cols + j]; }
    double at(int64_t i, int64_t j) const { return data[i * n_cols + j]; }
    double sum() const;
    static matrix from_rows(const std::vector<std::vector<double>>& rows);
};

struct bucket_edges {
    std::vector<int64_t> edges; // [n_buckets + 1] strictly increasing token counts, edges[0] >= 0

    int64_t n_buckets() const { return static_cast<int64_t>(edges.size()) - 1; }
    // Index of the bucket holding `tokens`, clamped to [0, n_buckets-1]; *clamped set when clamping happened.
    int64_t bucket_of(int64_t tokens, bool* clamped = nullptr) const;
    // Token count used to represent bucket i in capacity estimates: the midpoint of [lo, hi).
    double representative_tokens(int64_t i) const;
    std::string label(int64_t i) const; // "1000-2000"
};

// Throws invalid_argument naming `field` unless edges has ≥ 2 strictly increasing values ≥ 0.
bucket_edges make_bucket_edges(std::vector<int64_t> edges, const std::string& field);
// Parses "1,25,100,250" (CLI form).
bucket_edges parse_bucket_edges(const std::string& text, const std::string& field);
// Reads member `key` of a JSON object (at `path`) as bucket edges: an array of increasing integers.
bucket_edges bucket_edges_from_json(const nlohmann::json& obj, const std::string& key, const std::string& path);
// Mélange's buckets (1-25, 25-100, 100-250, 250-500, then doubling up to 32000): 10 buckets.
bucket_edges default_bucket_edges();

// The grid. Mélange's own input has no edges: then the edge vectors are empty and only the counts are known.
struct bucket_grid {
    int64_t n_input = 0;
    int64_t n_output = 0;
    bucket_edges input;  // empty edges when unknown
    bucket_edges output; // empty edges when unknown

    int64_t n_buckets() const { return n_input * n_output; }
    int64_t flat(int64_t i, int64_t j) const { return i * n_output + j; }
    bool has_edges() const { return !input.edges.empty(); }
    // "input 1000-2000 × output 100-250", or "bucket [3][1]" without edges.
    std::string label(int64_t flat_index) const;
    bool same_shape(const bucket_grid& other) const;
};

bucket_grid make_grid(bucket_edges input, bucket_edges output);
bucket_grid make_grid_without_edges(int64_t n_input, int64_t n_output);

} // namespace llmfleet::planner
