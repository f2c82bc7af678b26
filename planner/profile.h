// Throughput profile: for each GPU type, the max request rate (req/s) one GPU sustains in each
// (input bucket × output bucket) under the SLO. 0 means "cannot serve". From a file or the capacity model.
#pragma once

#include <map>
#include <string>

#include "planner/bucket_grid.h"

namespace llmfleet::planner {

struct throughput_profile {
    bucket_grid grid;
    std::map<std::string, matrix> max_rps; // GPU name → [n_input, n_output] req/s, >= 0
    std::string source;                    // "roofline estimate (Llama-3-8B, TPOT 50 ms)" or a path
};

// Profile JSON (schema llmfleet.profile.v1):
//   {"input_edges": [..], "output_edges": [..], "gpus": {"A10G": {"max_rps": [[..]]}, ...}}
throughput_profile load_profile_file(const std::string& path);
std::string profile_to_json(const throughput_profile& profile);

} // namespace llmfleet::planner
