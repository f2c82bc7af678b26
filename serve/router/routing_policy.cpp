// See routing_policy.h.
#include "serve/router/routing_policy.h"

#include <fmt/format.h>

#include "common/error.h"

namespace llmfleet::serve {

std::string_view to_string(routing_policy p) {
    switch (p) {
    case routing_policy::round_robin:
        return "round-robin";
    case routing_policy::least_requests:
        return "least-requests";
    case routing_policy::least_tokens:
        return "least-tokens";
    }
    return "?";
}

routing_policy parse_routing_policy(std::string_view text) {
    for (const routing_policy p :
         {routing_policy::round_robin, routing_policy::least_requests, routing_policy::least_tokens}) {
        if (text == to_string(p)) {
            return p;
        }
    }
    throw invalid_input(
        fmt::format("routing policy `{}`: expected one of round-robin, least-requests, least-tokens", text));
}

namespace {

int64_t load_of(routing_policy policy, const backend_load& b) {
    return policy == routing_policy::least_tokens ? b.outstanding_tokens : b.outstanding_requests;
}

} // namespace

int pick_backend(routing_policy policy, std::span<const backend_load> backends, uint64_t& cursor) {
    const size_t n = backends.size();
    if (n == 0) {
        return -1;
    }
    // Scan once in rotation order from the cursor; the first backend met wins ties, so a tie moves on with the
    // cursor from one pick to the next.
    const size_t start = static_cast<size_t>(cursor % n);
    int best = -1;
    int64_t best_load = 0;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = (start + k) % n;
        if (!backends[i].available) {
            continue;
        }
        if (policy == routing_policy::round_robin) {
            best = static_cast<int>(i);
            break;
        }
        const int64_t load = load_of(policy, backends[i]);
        if (best < 0 || load < best_load) {
            best = static_cast<int>(i);
            best_load = load;
        }
    }
    if (best >= 0) {
        cursor = static_cast<uint64_t>(best) + 1;
    }
    return best;
}

} // namespace llmfleet::serve
