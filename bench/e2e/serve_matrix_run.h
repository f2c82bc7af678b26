// Running serve_matrix's cells: one `llmfleet serve` per model × fleet shape (started, waited for, stopped with
// SIGTERM), and one `llmfleet bench` per workload against its router. A cell that fails (serve does not start, the
// MPS daemon cannot run, bench fails) becomes a row with the error in its own words; the matrix goes on.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bench/e2e/serve_matrix.h"

namespace llmfleet::bench {

struct matrix_spec {
    std::string llmfleet;                  // the llmfleet binary
    std::vector<std::string> model_dirs;   // Hugging Face model directories, in the table's order
    std::vector<fleet_shape> shapes;       // per model, in this order (the 1-engine row is the gain's base)
    std::vector<workload_shape> workloads; // per serve, in this order
    cell_settings cell;
    std::string run_root;             // each serve's run directory: <run_root>/<model index>-<engines>[-mps] (kept)
    double startup_timeout_s = 900;   // launch → every engine ready (big models, staggered MPS starts)
    double bench_wall_limit_s = 1800; // one bench run, whole
    double budget_s = 0;              // start no serve after this long (its cells: "not run"); 0: no budget
};

// Runs every cell (models outermost, then shapes, then workloads) and returns one row per model × shape ×
// workload. Progress goes to the log (INFO), and on_progress gets the rows after every cell (so a caller can keep
// what was measured when a run is cut short). note: not thread-safe (it forks serve from the calling thread, whose
// exit would take the engines down).
std::vector<matrix_row> run_matrix(const matrix_spec& spec,
                                   const std::function<void(const std::vector<matrix_row>&)>& on_progress);

} // namespace llmfleet::bench
