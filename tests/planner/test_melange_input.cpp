// Mélange's own input format: parsed unchanged, and its shape errors.
#include <gtest/gtest.h>

#include "common/error.h"
#include "planner/melange_input.h"
#include "test_util.h"

namespace llmfleet::planner {
namespace {

TEST(melange_input, issue_example) {
    const melange_input in = load_melange_input(test::source_path("tests/data/melange_issue_example.json"));
    EXPECT_EQ(in.slice_factor, 1);
    ASSERT_EQ(in.problem.n_gpus(), 2);
    EXPECT_EQ(in.problem.grid.n_input, 2);
    EXPECT_DOUBLE_EQ(in.problem.rate_rps[2], 15.0); // 0.5 × 30
    // nlohmann::json orders object keys, so "A100-80GB" comes before "A10G".
    EXPECT_EQ(in.problem.gpus[0].name, "A100-80GB");
    EXPECT_DOUBLE_EQ(in.problem.max_rps[1][2], 5.0);
}

TEST(melange_input, shape_and_value_errors) {
    auto message = [](const std::string& text) {
        try {
            parse_melange_input(text, "m.json");
        } catch (const error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_NE(message(R"({"gpu_info": {"A": {"cost": 1, "tputs": [[1, 2]]}}, "workload_distribution": [[1, 0], [0, 0]],
                          "total_request_rate": 1, "slice_factor": 1})")
                  .find("gpu_info.A.tputs is 1x2 but workload_distribution is 2x2"),
              std::string::npos);
    EXPECT_NE(message(R"({"gpu_info": {"A": {"cost": 1, "tputs": [[1]]}}, "workload_distribution": [[1]],
                          "total_request_rate": -4, "slice_factor": 1})")
                  .find("total_request_rate: expected a number >= 0, got -4"),
              std::string::npos);
    EXPECT_NE(message(R"({"gpu_info": {"A": {"cost": 1, "tputs": [[1]]}}, "workload_distribution": [[1]],
                          "total_request_rate": 4, "slice_factor": 0})")
                  .find("slice_factor: expected an integer >= 1"),
              std::string::npos);
    EXPECT_NE(message(R"({"gpu_info": {}, "workload_distribution": [[1]], "total_request_rate": 4,
                          "slice_factor": 1})")
                  .find("gpu_info: expected an object"),
              std::string::npos);
    EXPECT_NE(message("{").find("malformed JSON"), std::string::npos);
}

} // namespace
} // namespace llmfleet::planner
