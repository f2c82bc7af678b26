// common: strict number parsing, KEY=VALUE splitting, JSON field errors that name the path, .npy I/O, the
// thread pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "common/error.h"
#include "common/histogram.h"
#include "common/json_read.h"
#include "common/npy.h"
#include "common/prometheus.h"
#include "common/text.h"
#include "common/thread_pool.h"

namespace llmfleet {
namespace {

TEST(text, strict_numbers) {
    EXPECT_DOUBLE_EQ(parse_double(" 2.5 ", "x"), 2.5);
    EXPECT_EQ(parse_int("-12", "x"), -12);
    EXPECT_THROW(parse_double("2.5x", "x"), error);
    EXPECT_THROW(parse_double("", "x"), error);
    EXPECT_THROW(parse_double("inf", "x"), error);
    EXPECT_THROW(parse_int("3.0", "x"), error);
    try {
        parse_double("abc", "--rate");
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(std::string(e.what()), "--rate: expected a finite number, got 'abc'");
        EXPECT_EQ(e.code(), status_code::invalid_argument);
    }
}

TEST(text, key_value) {
    EXPECT_EQ(split_key_value("H100-SXM=2.5", "--price"), (std::pair<std::string, std::string>{"H100-SXM", "2.5"}));
    EXPECT_THROW(split_key_value("H100-SXM", "--price"), error);
    EXPECT_THROW(split_key_value("=2", "--price"), error);
    EXPECT_EQ(split("a,,b", ',').size(), 3u);
}

TEST(json_read, errors_name_the_path) {
    const auto doc = json_read::parse(R"({"a": {"b": [1, "x"]}, "m": [[1, 2], [3]]})", "f.json");
    try {
        json_read::number_array(doc["a"]["b"], "f.a.b");
        FAIL();
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("f.a.b[1]: expected a number, got string"), std::string::npos) << e.what();
    }
    try {
        json_read::non_negative_matrix(doc["m"], "f.m");
        FAIL();
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("ragged matrix: row 1 has 1 columns but row 0 has 2"), std::string::npos);
    }
    EXPECT_THROW(json_read::member(doc, "zzz", "f"), error);
    EXPECT_THROW(json_read::parse("{\"a\": ", "f.json"), error);
}

TEST(result, holds_value_or_status) {
    result<int> ok(3);
    EXPECT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), 3);
    result<int> bad(status(status_code::not_found, "nope"));
    EXPECT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.error_status().code(), status_code::not_found);
}

} // namespace
} // namespace llmfleet

namespace llmfleet {
namespace {

TEST(npy, write_then_read_round_trips_and_aligns_data) {
    const std::string path = std::string(LLMFLEET_BINARY_DIR) + "/tests/npy_round_trip.npy";
    const npy_array a{{2, 3}, {1, -2, 3.5f, 0, 1e-30f, 7}};
    write_npy_f32(path, a);
    const npy_array b = read_npy_f32(path);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.data, a.data);
    EXPECT_EQ((read_file(path, "npy").size() - 6 * 4) % 64, 0u) << "header padded to 64 bytes";
    write_npy_f32(path, {{4}, {1, 2, 3, 4}});
    EXPECT_EQ(read_npy_f32(path).shape, std::vector<int64_t>{4});
}

TEST(thread_pool, covers_the_range_once_and_rethrows) {
    thread_pool pool(3);
    std::vector<int> hits(1000, 0);
    pool.parallel_for(1000, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            ++hits[i];
        }
    });
    EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), 1000);
    EXPECT_THROW(pool.parallel_for(10, 1,
                                   [](int64_t b, int64_t) {
                                       if (b > 0) {
                                           throw std::runtime_error("range failed");
                                       }
                                   }),
                 std::runtime_error);
    int calls = 0;
    pool.parallel_for(5, 100, [&](int64_t b, int64_t e) { calls += static_cast<int>(e - b); }); // one range
    EXPECT_EQ(calls, 5);
}

} // namespace
} // namespace llmfleet

namespace llmfleet {
namespace {

TEST(histogram, cumulative_counts_sum_and_quantiles) {
    histogram h({1.0, 2.0, 4.0});
    for (const double v : {0.5, 1.0, 1.5, 3.0, 10.0}) {
        h.observe(v);
    }
    EXPECT_EQ(h.cumulative_counts(), (std::vector<int64_t>{2, 3, 4, 5})) << "≤1: 0.5 and 1.0 (bounds inclusive)";
    EXPECT_EQ(h.count(), 5);
    EXPECT_DOUBLE_EQ(h.sum(), 16.0);
    EXPECT_DOUBLE_EQ(h.quantile(0.4), 1.0) << "rank 2 is the top of the first bucket";
    EXPECT_DOUBLE_EQ(h.quantile(0.5), 1.5) << "rank 2.5: halfway through (1, 2]";
    EXPECT_DOUBLE_EQ(histogram({1.0}).quantile(0.5), 0.0);
}

} // namespace
} // namespace llmfleet

namespace llmfleet {
namespace {

TEST(prometheus_text, families_samples_escaping_and_histograms) {
    prometheus_text p;
    p.family("x_total", "counter", "Things.");
    p.sample("x_total", {{"pool", "a\"b\\c\nd"}}, 3);
    p.sample("x_total", {}, 0.5);
    histogram h({0.1, 1.0});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(7);
    p.family("lat_seconds", "histogram", "Latency.");
    p.histogram_samples("lat_seconds", {{"pool", "p"}}, h);
    EXPECT_EQ(p.text(), "# HELP x_total Things.\n# TYPE x_total counter\n"
                        "x_total{pool=\"a\\\"b\\\\c\\nd\"} 3\n"
                        "x_total 0.5\n"
                        "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
                        "lat_seconds_bucket{pool=\"p\",le=\"0.1\"} 1\n"
                        "lat_seconds_bucket{pool=\"p\",le=\"1\"} 2\n"
                        "lat_seconds_bucket{pool=\"p\",le=\"+Inf\"} 3\n"
                        "lat_seconds_sum{pool=\"p\"} 7.55\n"
                        "lat_seconds_count{pool=\"p\"} 3\n");
}

} // namespace
} // namespace llmfleet
