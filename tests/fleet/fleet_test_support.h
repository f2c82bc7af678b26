// What the fleet tests share: the fake nvidia-smi and nvidia-cuda-mps-control (tests/fleet/fake_bin) copied to a
// scratch bin folder and put first on PATH, and environment variables set for one test.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "tests/test_support.h"

namespace llmfleet::test {

// Sets an environment variable for the scope (unset when value is nullopt) and restores it afterwards.
class scoped_env {
public:
    scoped_env(std::string name, std::optional<std::string> value) : _name(std::move(name)) {
        if (const char* old = std::getenv(_name.c_str())) {
            _old = old;
        }
        if (value) {
            ::setenv(_name.c_str(), value->c_str(), 1);
        } else {
            ::unsetenv(_name.c_str());
        }
    }
    ~scoped_env() {
        if (_old) {
            ::setenv(_name.c_str(), _old->c_str(), 1);
        } else {
            ::unsetenv(_name.c_str());
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    std::string _name;
    std::optional<std::string> _old;
};

// BINARY_DIR/tests/<tag>.fake_bin with the fake nvidia-smi and nvidia-cuda-mps-control (executable), made once.
inline std::string fake_bin_dir(const std::string& tag) {
    const std::string dir = temp_path(tag, "fake_bin");
    std::filesystem::create_directories(dir);
    for (const char* name : {"nvidia-smi", "nvidia-cuda-mps-control"}) {
        const std::string to = dir + "/" + name;
        std::filesystem::copy_file(std::string(LLMFLEET_SOURCE_DIR) + "/tests/fleet/fake_bin/" + name, to,
                                   std::filesystem::copy_options::overwrite_existing);
        ::chmod(to.c_str(), 0755);
    }
    return dir;
}

// PATH with the fakes first, for the scope of a test (child processes inherit it).
inline scoped_env fake_path(const std::string& tag) {
    const char* path = std::getenv("PATH");
    return scoped_env("PATH", fake_bin_dir(tag) + ":" + (path != nullptr ? path : "/usr/bin:/bin"));
}

// A pretend GPU host for the scope: the fakes first on PATH, and the fake nvidia-smi listing `csv` (its
// --query-gpu=index,uuid,name,memory.total lines, e.g. "0, GPU-e2e0, NVIDIA A10G, 23028 MiB\n").
struct fake_gpu_host {
    fake_gpu_host(const std::string& tag, const std::string& csv)
        : path(fake_path(tag)), smi("FAKE_NVIDIA_SMI_CSV", write_temp(tag, "nvidia-smi.csv", csv)) {}
    scoped_env path;
    scoped_env smi;
};

// A short run directory (MPS pipe paths must stay under the Unix socket limit), emptied.
inline std::string short_run_dir(const std::string& name) {
    const std::string dir = "/tmp/lf-" + name + "-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

} // namespace llmfleet::test
