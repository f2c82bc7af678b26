// Helpers shared by the test suites: error messages, scratch files, running the llmfleet binary.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace llmfleet::test {

// The message of the llmfleet::error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const error& e) {
        return e.what();
    }
    return "(no error)";
}

// max |a − b| / max |b|: the logits comparisons' error relative to the reference's scale (b is the reference).
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double max_ref = 0, max_diff = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
        max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    }
    return a.size() == b.size() ? max_diff / max_ref : INFINITY;
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Where tests write scratch files: $LLMFLEET_TEST_SCRATCH when set (test binaries run away from their build tree,
// e.g. from scripts/gpu/pack.sh's bundle on the device machine), else BINARY_DIR/tests.
inline std::string scratch_dir() {
    const char* dir = std::getenv("LLMFLEET_TEST_SCRATCH");
    return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string(LLMFLEET_BINARY_DIR) + "/tests";
}

// <scratch>/<tag>.<name>: a scratch path per test binary.
inline std::string temp_path(const std::string& tag, const std::string& name) {
    return scratch_dir() + "/" + tag + "." + name;
}

inline std::string write_temp(const std::string& tag, const std::string& name, const std::string& text) {
    const std::string path = temp_path(tag, name);
    std::ofstream(path) << text;
    return path;
}

struct cli_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs `build/bin/<program> <args>` (default: llmfleet) through the shell, capturing stdout and stderr in files
// named by tag.
inline cli_result run_cli(const std::string& tag, const std::string& args, const std::string& program = "llmfleet") {
    const std::string out = temp_path(tag, "stdout"), err = temp_path(tag, "stderr");
    const std::string cmd =
        std::string(LLMFLEET_BINARY_DIR) + "/bin/" + program + " " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    cli_result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

} // namespace llmfleet::test
