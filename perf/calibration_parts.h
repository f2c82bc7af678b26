// Internal to calibration.cpp / calibration_comm.cpp: the collective and per-step-overhead fits.
#pragma once

#include <vector>

#include "perf/calibration.h"

namespace llmfleet::perf::detail {

// Fits α and bus bandwidth per TP degree on one node's NCCL all-reduce timings (even-indexed sizes), validates
// on the odd-indexed sizes, appends the two rows; `use`: store the fitted costs in p.allreduce.
void fit_allreduce(perf_params& p, const allreduce_table& t, std::vector<validation_row>& rows, bool use);

// Fits p.iteration_overhead_ms on part of the Splitwise decode steps of GPU `g` and validates on the rest;
// appends rows for decode (fit, validate) and prefill (validate) times.
void fit_overhead(perf_params& p, const planner::gpu_spec& g, const std::vector<splitwise_sample>& samples,
                  std::vector<validation_row>& rows);

// Builds a validation row (worst point described by `label(i)`).
validation_row make_row(std::string gpu, std::string dataset, std::string role, const std::vector<double>& predicted,
                        const std::vector<double>& measured, const std::function<std::string(size_t)>& label);

} // namespace llmfleet::perf::detail
