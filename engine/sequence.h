// A sequence as the scheduler and block manager see it: token ids, how many of them have KV in the cache,
// and the KV blocks that hold them. No tensors and no sampling state (those live in the engine), so the
// scheduler and block manager are tested alone.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace llmfleet::engine {

// Lifecycle of a sequence inside the scheduler:
//
//   add ──► waiting ──schedule (blocks allocated)──► running ──finish / abort──► finished
//              ▲                                        │
//              └────── preempted (blocks freed; KV recomputed when it runs again)
enum class sequence_status { waiting, running, finished };
std::string_view to_string(sequence_status status);

struct sequence {
    int64_t id = 0;
    std::vector<int32_t> tokens; // [n_tokens] prompt ids, then generated ids
    int32_t n_prompt_tokens = 0;
    int32_t n_computed_tokens = 0;      // leading tokens whose KV is in the cache (≤ tokens.size())
    int32_t n_cached_tokens = 0;        // of those, how many came from the prefix cache at the last admission
    std::vector<int32_t> block_table;   // KV block ids, logical block i → physical block
    std::vector<uint64_t> block_hashes; // [full blocks hashed so far] chained hash of each full block's tokens
    sequence_status status = sequence_status::waiting;
    double arrival_s = 0;          // when it was added (clock_source time); FCFS order
    double first_scheduled_s = -1; // when it was first admitted; −1 before
    int32_t n_preemptions = 0;

    int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
    int32_t n_generated() const { return n_tokens() - n_prompt_tokens; }
    int32_t n_uncomputed() const { return n_tokens() - n_computed_tokens; }
};

} // namespace llmfleet::engine
