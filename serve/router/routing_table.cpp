// See routing_table.h. Parsing is strict: the router must not guess at a plan it half understands.
#include "serve/router/routing_table.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include <fmt/format.h>

#include "common/check.h"
#include "common/error.h"
#include "common/json_read.h"

namespace llmfleet::serve {

namespace jr = json_read;

struct routing_table::swrr_state {
    std::mutex mutex;
    std::vector<std::vector<int64_t>> current_weight; // [bucket][route], guarded by mutex
    std::vector<std::vector<int64_t>> weight;         // [bucket][route] share in millionths (integers: exact)
    std::vector<std::vector<size_t>> by_share;        // [bucket] route indices by descending share, stable
};

namespace {

constexpr std::string_view plan_schema = "llmfleet.plan.v1";
constexpr std::string_view regenerate_hint = "hint: write the plan with `llmfleet plan ... --output json --out "
                                             "plan.json` and keep its buckets as written";
constexpr std::string_view edges_hint = "hint: plan from a workload with edges (--trace FILE, or a --workload "
                                        "histogram with input_edges/output_edges)";

std::string describe(const jr::json& value) {
    std::string text = value.dump();
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Token edges: integers ≥ 0, strictly increasing, at least one bucket.
std::vector<int64_t> parse_edges(const jr::json& inputs, std::string_view key, std::string_view path) {
    const std::string field = jr::child(path, key);
    const jr::json* value = jr::optional_member(inputs, key, path);
    if (value == nullptr) {
        throw invalid_input(fmt::format(
            "{}: missing: the plan has no token edges (it was planned from a bucket grid without edges); {}", field,
            edges_hint));
    }
    const std::vector<double> numbers = jr::number_array(*value, field);
    if (numbers.size() < 2) {
        throw invalid_input(fmt::format("{}: expected at least 2 edges (one bucket), got {}", field, numbers.size()));
    }
    std::vector<int64_t> edges;
    for (size_t i = 0; i < numbers.size(); ++i) {
        if (numbers[i] < 0 || numbers[i] != std::floor(numbers[i]) || (i > 0 && numbers[i] <= numbers[i - 1])) {
            throw invalid_input(fmt::format("{}: expected increasing whole token counts ≥ 0, got {} after {}",
                                            jr::index(field, i), numbers[i], i > 0 ? numbers[i - 1] : 0.0));
        }
        edges.push_back(static_cast<int64_t>(numbers[i]));
    }
    return edges;
}

int64_t bucket_index(const jr::json& bucket, std::string_view key, std::string_view path, size_t n) {
    const std::string field = jr::child(path, key);
    const int64_t i = jr::integer(jr::member(bucket, key, path), field);
    if (i < 0 || i >= static_cast<int64_t>(n)) {
        throw invalid_input(fmt::format("{}: expected an index in [0, {}), got {}", field, n, i));
    }
    return i;
}

// The bucket's [lo, hi) must be the edges around its index (the plan writes both).
void check_token_range(const jr::json& bucket, std::string_view key, std::string_view path, int64_t lo, int64_t hi) {
    const std::string field = jr::child(path, key);
    const jr::json* value = jr::optional_member(bucket, key, path);
    if (value == nullptr) {
        throw invalid_input(fmt::format("{}: missing: the plan has no token edges; {}", field, edges_hint));
    }
    const std::vector<double> range = jr::number_array(*value, field);
    if (range.size() != 2 || range[0] != static_cast<double>(lo) || range[1] != static_cast<double>(hi)) {
        throw invalid_input(fmt::format("{}: expected [{}, {}] (the inputs' edges around the bucket index), got {}",
                                        field, lo, hi, describe(*value)));
    }
}

std::vector<route> parse_routes(const jr::json& bucket, std::string_view path) {
    const std::string field = jr::child(path, "routes");
    const jr::json& routes = jr::member(bucket, "routes", path);
    if (!routes.is_array()) {
        throw invalid_input(fmt::format("{}: expected an array of {{gpu, share}}, got {}", field, describe(routes)));
    }
    std::vector<route> out;
    double total = 0;
    for (size_t r = 0; r < routes.size(); ++r) {
        const std::string route_path = jr::index(field, r);
        route x;
        x.pool = jr::string(jr::member(routes[r], "gpu", route_path), jr::child(route_path, "gpu"));
        if (x.pool.empty()) {
            throw invalid_input(fmt::format("{}.gpu: expected a GPU type name, got \"\"", route_path));
        }
        const jr::json& share = jr::member(routes[r], "share", route_path);
        if (!share.is_number() || !(share.get<double>() >= 0 && share.get<double>() <= 1)) {
            throw invalid_input(
                fmt::format("{}.share: expected a number in [0,1], got {}", route_path, describe(share)));
        }
        x.share = share.get<double>();
        for (const route& seen : out) {
            if (seen.pool == x.pool) {
                throw invalid_input(fmt::format("{}.gpu: `{}` is routed twice in this bucket", route_path, x.pool));
            }
        }
        total += x.share;
        out.push_back(std::move(x));
    }
    if (!out.empty() && std::abs(total - 1) > 1e-3) {
        throw invalid_input(fmt::format("{}: expected shares summing to 1 (± 0.001), got {}", field, total));
    }
    return out;
}

} // namespace

routing_table::routing_table() : _swrr(std::make_unique<swrr_state>()) {}
routing_table::routing_table(routing_table&&) noexcept = default;
routing_table& routing_table::operator=(routing_table&&) noexcept = default;
routing_table::~routing_table() = default;

routing_table routing_table::from_plan_json(std::string_view text, std::string_view origin) {
    const std::string root = "plan.json";
    routing_table table;
    try {
        const jr::json doc = jr::parse(text, "");
        const std::string schema = jr::string(jr::member(doc, "schema", root), root + " schema");
        if (schema != plan_schema) {
            throw invalid_input(fmt::format("{} schema: expected \"{}\", got \"{}\"", root, plan_schema, schema));
        }
        const std::string status = jr::string(jr::member(doc, "status", root), root + " status");
        if (status != "optimal" && status != "feasible_with_gap") {
            const jr::json* reason = jr::optional_member(doc, "reason", root);
            throw invalid_input(fmt::format(
                "{} status: expected optimal or feasible_with_gap (a plan with a solution), got \"{}\"{}; hint: "
                "re-plan with a looser SLO, more GPUs available or a longer time limit",
                root, status, reason != nullptr ? fmt::format(" ({})", describe(*reason)) : ""));
        }
        const jr::json& inputs = jr::member(doc, "inputs", root);
        const std::string inputs_path = root + " inputs";
        table._input_edges = parse_edges(inputs, "input_edges", inputs_path);
        table._output_edges = parse_edges(inputs, "output_edges", inputs_path);
        const size_t n_in = table._input_edges.size() - 1, n_out = table._output_edges.size() - 1;
        table._buckets.resize(n_in * n_out);
        for (size_t i = 0; i < n_in; ++i) {
            for (size_t o = 0; o < n_out; ++o) {
                routing_bucket& cell = table._buckets[i * n_out + o];
                cell.input_lo = table._input_edges[i];
                cell.input_hi = table._input_edges[i + 1];
                cell.output_lo = table._output_edges[o];
                cell.output_hi = table._output_edges[o + 1];
            }
        }

        const std::string buckets_path = root + " buckets";
        const jr::json& buckets = jr::member(doc, "buckets", root);
        if (!buckets.is_array()) {
            throw invalid_input(fmt::format("{}: expected an array, got {}", buckets_path, describe(buckets)));
        }
        std::vector<int64_t> listed_at(table._buckets.size(), -1); // which buckets[] entry filled each cell
        bool any_route = false;
        for (size_t k = 0; k < buckets.size(); ++k) {
            const std::string path = jr::index(buckets_path, k);
            const int64_t i = bucket_index(buckets[k], "input_bucket", path, n_in);
            const int64_t o = bucket_index(buckets[k], "output_bucket", path, n_out);
            const size_t cell_index = static_cast<size_t>(i) * n_out + static_cast<size_t>(o);
            if (listed_at[cell_index] >= 0) {
                throw invalid_input(fmt::format("{}: bucket (input {}, output {}) is listed twice (also {}[{}])", path,
                                                i, o, buckets_path, listed_at[cell_index]));
            }
            listed_at[cell_index] = static_cast<int64_t>(k);
            routing_bucket& cell = table._buckets[cell_index];
            check_token_range(buckets[k], "input_tokens", path, cell.input_lo, cell.input_hi);
            check_token_range(buckets[k], "output_tokens", path, cell.output_lo, cell.output_hi);
            if (const jr::json* rate = jr::optional_member(buckets[k], "rate_rps", path)) {
                cell.rate_rps = jr::non_negative(*rate, jr::child(path, "rate_rps"));
            }
            cell.routes = parse_routes(buckets[k], path);
            any_route = any_route || !cell.routes.empty();
        }
        if (!any_route) {
            throw invalid_input(fmt::format("{}: no bucket has routes (the plan routes no traffic)", buckets_path));
        }
    } catch (const error& e) {
        const std::string message = e.what();
        const std::string where = origin.empty() ? "" : fmt::format("{}: ", origin);
        const bool has_hint = message.find("hint:") != std::string::npos;
        throw error(e.code(),
                    fmt::format("{}{}{}", where, message, has_hint ? "" : fmt::format("; {}", regenerate_hint)));
    }

    swrr_state& s = *table._swrr;
    for (const routing_bucket& cell : table._buckets) {
        std::vector<int64_t> weight;
        std::vector<size_t> order;
        for (size_t r = 0; r < cell.routes.size(); ++r) {
            weight.push_back(std::llround(cell.routes[r].share * 1e6));
            order.push_back(r);
        }
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return cell.routes[a].share > cell.routes[b].share; });
        s.current_weight.emplace_back(weight.size(), 0);
        s.weight.push_back(std::move(weight));
        s.by_share.push_back(std::move(order));
    }
    return table;
}

namespace {

// [lo, hi) interval of x among edges, clamped to the first and last interval.
int64_t axis_index(const std::vector<int64_t>& edges, int64_t x) {
    const auto it = std::upper_bound(edges.begin(), edges.end(), x);
    const int64_t i = static_cast<int64_t>(it - edges.begin()) - 1;
    return std::clamp<int64_t>(i, 0, static_cast<int64_t>(edges.size()) - 2);
}

} // namespace

int64_t routing_table::find_bucket(int64_t input_tokens, int64_t output_tokens) const {
    const int64_t n_out = static_cast<int64_t>(_output_edges.size()) - 1;
    return axis_index(_input_edges, input_tokens) * n_out + axis_index(_output_edges, output_tokens);
}

std::vector<std::string> routing_table::pick_pools(int64_t bucket) {
    LLMFLEET_CHECK(bucket >= 0 && bucket < static_cast<int64_t>(_buckets.size()), "bucket {} outside [0, {})", bucket,
                   _buckets.size());
    const size_t b = static_cast<size_t>(bucket);
    const std::vector<route>& routes = _buckets[b].routes;
    if (routes.empty()) {
        return {};
    }
    // Smooth weighted round-robin (nginx): every route gains its weight, the largest current weight wins and
    // pays back the total (ties: plan order). Picks interleave: a 0.3/0.7 split goes B A B B A B B B A B, then
    // repeats, rather than A A A B B B B B B B.
    size_t chosen = 0;
    {
        std::lock_guard lock(_swrr->mutex);
        std::vector<int64_t>& current = _swrr->current_weight[b];
        const std::vector<int64_t>& weight = _swrr->weight[b];
        int64_t total = 0;
        for (size_t r = 0; r < routes.size(); ++r) {
            current[r] += weight[r];
            total += weight[r];
            if (current[r] > current[chosen]) {
                chosen = r;
            }
        }
        current[chosen] -= total;
    }
    std::vector<std::string> pools;
    pools.reserve(routes.size());
    pools.push_back(routes[chosen].pool);
    for (const size_t r : _swrr->by_share[b]) {
        if (r != chosen) {
            pools.push_back(routes[r].pool);
        }
    }
    return pools;
}

std::vector<std::string> routing_table::pools() const {
    std::vector<std::string> out;
    for (const routing_bucket& cell : _buckets) {
        for (const route& r : cell.routes) {
            out.push_back(r.pool);
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

} // namespace llmfleet::serve
