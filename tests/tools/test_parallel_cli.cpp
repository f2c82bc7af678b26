// `llmfleet generate` and `llmfleet engine` with --tp/--pp through the real binary: the threads communicator in one
// process, and the MPI communicator under mpirun (tp 2, pp 2, tp 2 × pp 2; one rank per process; rank 0 prints or
// serves). Greedy tokens equal and logits within 1e-4 of tp = 1, pp = 1 for a batch with chunked prefill; the HTTP
// engine under mpirun answers like the single-device one; a rank killed with -9 ends the job with an error in bounded
// time; bad layouts and a missing mpirun give clear errors.
#include <gtest/gtest.h>

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/npy.h"
#include "model/make_model.h"
#include "tests/serve/e2e_support.h"
#include "tests/test_support.h"

namespace llmfleet {
namespace {

namespace fs = std::filesystem;
const std::string tag = "test_parallel_cli";

const std::string& model_dir() {
    static const std::string dir = [] {
        const std::string d = test::temp_path(tag, "qwen2");
        if (!fs::exists(d + "/config.json")) {
            model::make_model({.preset = "tiny", .seed = 5, .out_dir = d, .n_layers = 4});
        }
        return d;
    }();
    return dir;
}

std::string mpirun(int32_t n_ranks) {
    return std::string(LLMFLEET_MPIEXEC) + " " + LLMFLEET_MPIEXEC_FLAGS + " -np " + std::to_string(n_ranks) + " " +
           LLMFLEET_BINARY_DIR + "/bin/llmfleet";
}

// The generate flags of every run: three prompts as one batch, prefilled in chunks of 16 tokens.
std::string generate_args(const std::string& name) {
    return "generate --model " + model_dir() +
           " --prompt-ids 1,2,3 --prompt-ids 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30 "
           "--prompt-ids 40,41,42,43,44 --max-tokens 6 --output json --max-num-batched-tokens 16 --kv-cache-gib 0.01 "
           "--threads 1 --dump-logits " +
           test::temp_path(tag, name + ".npy");
}

struct run_output {
    nlohmann::json json;
    npy_array logits;
};

run_output parse(const test::cli_result& r, const std::string& name) {
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    run_output out;
    if (r.exit_code == 0) {
        out.json = nlohmann::json::parse(r.out);
        out.logits = read_npy_f32(test::temp_path(tag, name + ".npy"));
    }
    return out;
}

const run_output& single_device() {
    static const run_output out = parse(test::run_cli(tag, generate_args("single")), "single");
    return out;
}

void expect_same_as_single_device(const run_output& got, const std::string& what) {
    const run_output& want = single_device();
    ASSERT_FALSE(want.json.is_null());
    ASSERT_FALSE(got.json.is_null()) << what;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(got.json["results"][i]["token_ids"], want.json["results"][i]["token_ids"])
            << what << " request " << i;
    }
    EXPECT_EQ(got.logits.shape, want.logits.shape) << what;
    EXPECT_LE(test::max_rel_diff(got.logits.data, want.logits.data), 1e-4) << what;
}

test::cli_result run_shell(const std::string& name, const std::string& cmd) {
    const std::string out = test::temp_path(tag, name + ".stdout"), err = test::temp_path(tag, name + ".stderr");
    const int status = std::system((cmd + " >" + out + " 2>" + err).c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::slurp(out), test::slurp(err)};
}

TEST(ParallelCli, ThreadsTp2Pp2MatchesSingleDevice) {
    expect_same_as_single_device(parse(test::run_cli(tag, generate_args("threads") + " --tp 2 --pp 2"), "threads"),
                                 "threads tp 2 × pp 2");
}

TEST(ParallelCli, MpiTp2Pp2MatchesSingleDevice) {
    const test::cli_result r =
        run_shell("mpi22", mpirun(4) + " " + generate_args("mpi22") + " --tp 2 --pp 2 --comm mpi");
    expect_same_as_single_device(parse(r, "mpi22"), "mpi tp 2 × pp 2");
}

TEST(ParallelCli, MpiTp2MatchesSingleDevice) {
    const test::cli_result r = run_shell("mpi21", mpirun(2) + " " + generate_args("mpi21") + " --tp 2 --comm mpi");
    expect_same_as_single_device(parse(r, "mpi21"), "mpi tp 2");
}

TEST(ParallelCli, MpiPp2MatchesSingleDevice) {
    const test::cli_result r = run_shell("mpi12", mpirun(2) + " " + generate_args("mpi12") + " --pp 2 --comm mpi");
    expect_same_as_single_device(parse(r, "mpi12"), "mpi pp 2");
}

TEST(ParallelCli, WrongRankCountAndLayoutErrors) {
    const test::cli_result r = run_shell("np3", mpirun(3) + " " + generate_args("np3") + " --tp 2 --pp 2 --comm mpi");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE((r.out + r.err).find("needs 4 ranks, but the communicator has 3"), std::string::npos) << r.err;
    const test::cli_result no_mpirun = test::run_cli(tag, generate_args("nompi") + " --tp 2 --comm mpi");
    EXPECT_EQ(no_mpirun.exit_code, 1);
    EXPECT_NE(no_mpirun.err.find("start it with mpirun -np 2"), std::string::npos) << no_mpirun.err;
    const test::cli_result bad_tp = test::run_cli(tag, generate_args("tp3") + " --tp 3");
    EXPECT_EQ(bad_tp.exit_code, 1);
    EXPECT_NE(bad_tp.err.find("--tp values that work for this model: 1, 2, 4"), std::string::npos) << bad_tp.err;
}

// The MPI rank (OMPI_COMM_WORLD_RANK) of a process, or −1.
int mpi_rank_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    std::string entry;
    while (std::getline(in, entry, '\0')) {
        if (entry.starts_with("OMPI_COMM_WORLD_RANK=")) {
            return std::stoi(entry.substr(21));
        }
    }
    return -1;
}

// The pid of the llmfleet process with MPI rank `rank` among the children of mpirun.
pid_t rank_pid(pid_t mpirun_pid, int rank) {
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream stat(entry.path() / "stat");
        std::string pid_text, comm, state;
        pid_t ppid = 0;
        stat >> pid_text >> comm >> state >> ppid;
        if (ppid == mpirun_pid && mpi_rank_of(std::stoi(name)) == rank) {
            return std::stoi(name);
        }
    }
    return -1;
}

TEST(ParallelCli, MpiEngineServesLikeSingleDeviceAndADeadRankEndsIt) {
    const std::string prompt = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]";
    const std::string body = R"({"model":"m","prompt":)" + prompt + R"(,"max_tokens":8,"temperature":0})";
    const std::string engine_args = "engine --model " + model_dir() +
                                    " --served-model-name m --port 0 --kv-cache-gib 0.01 --threads 1 "
                                    "--max-num-batched-tokens 8";
    std::string want;
    {
        test::server_process single(tag, engine_args);
        const test::http_reply r = test::curl(tag, "POST", single.url("/v1/completions"), body);
        ASSERT_EQ(r.status, 200) << r.body;
        want = nlohmann::json::parse(r.body)["choices"][0]["text"];
        EXPECT_EQ(single.stop(), 0);
    }
    const std::string mpi_args = std::string(LLMFLEET_MPIEXEC_FLAGS) + " -np 2 " + LLMFLEET_BINARY_DIR +
                                 "/bin/llmfleet " + engine_args + " --tp 2 --comm mpi --comm-timeout-s 10";
    test::server_process mpi(tag, mpi_args, LLMFLEET_MPIEXEC);
    ASSERT_GT(mpi.port, 0) << mpi.stderr_text();
    const test::http_reply r = test::curl(tag, "POST", mpi.url("/v1/completions"), body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body)["choices"][0]["text"], want);
    EXPECT_NE(mpi.stdout_text().find("tp 2 × pp 1 over mpi"), std::string::npos) << mpi.stdout_text();

    // kill -9 of rank 1: the job ends (mpirun tears it down, or rank 0 fails its next step) instead of hanging.
    const pid_t rank1 = rank_pid(mpi.pid(), 1);
    ASSERT_GT(rank1, 0) << "rank 1 of mpirun " << mpi.pid() << " not found";
    ASSERT_EQ(kill(rank1, SIGKILL), 0);
    const int code = mpi.wait_exit(30);
    EXPECT_NE(code, -2) << "mpirun still running 30 s after rank 1 died";
    EXPECT_NE(code, 0);
}

} // namespace
} // namespace llmfleet
