// serve/router output_length_predictor: hand-computed quantiles per log2 bucket, nearest-bucket fallback,
// default, max_tokens cap, window eviction and accuracy statistics.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "serve/router/length_predictor.h"
#include "tests/test_support.h"

namespace llmfleet::serve {
namespace {

TEST(length_predictor, input_bucket_is_floor_log2) {
    EXPECT_EQ(output_length_predictor::input_bucket(-5), 0);
    EXPECT_EQ(output_length_predictor::input_bucket(0), 0);
    EXPECT_EQ(output_length_predictor::input_bucket(1), 0);
    EXPECT_EQ(output_length_predictor::input_bucket(2), 1);
    EXPECT_EQ(output_length_predictor::input_bucket(3), 1);
    EXPECT_EQ(output_length_predictor::input_bucket(4), 2);
    EXPECT_EQ(output_length_predictor::input_bucket(1023), 9);
    EXPECT_EQ(output_length_predictor::input_bucket(1024), 10);
}

TEST(length_predictor, default_then_median_with_window_eviction) {
    output_length_predictor p({4, 100, 0.5});
    EXPECT_EQ(p.predict(600, std::nullopt), 100); // no history: the default
    EXPECT_EQ(p.predict(600, 50), 50);            // capped by max_tokens
    EXPECT_EQ(p.predict(600, 0), 1);              // a cap below 1 counts as 1
    // Bucket 9 (512..1023): 10 40 20 30 → sorted 10 20 30 40, nearest-rank median = 2nd = 20.
    for (const int64_t actual : {10, 40, 20, 30}) {
        p.observe(600, 100, actual);
    }
    EXPECT_EQ(p.predict(512, std::nullopt), 20);
    EXPECT_EQ(p.predict(1023, std::nullopt), 20);
    EXPECT_EQ(p.predict(1023, 15), 15);
    // Window 4: 50 pushes out 10 → {40 20 30 50} → 30; 60 pushes out 40 → {20 30 50 60} → 30;
    // 70 pushes out 20 → {30 50 60 70} → 50.
    p.observe(700, 0, 50);
    EXPECT_EQ(p.predict(700, std::nullopt), 30);
    p.observe(700, 0, 60);
    EXPECT_EQ(p.predict(700, std::nullopt), 30);
    p.observe(700, 0, 70);
    EXPECT_EQ(p.predict(700, std::nullopt), 50);
}

TEST(length_predictor, falls_back_to_the_nearest_non_empty_bucket) {
    output_length_predictor p({16, 100, 0.5});
    p.observe(5, 0, 7);    // bucket 2
    p.observe(300, 0, 80); // bucket 8
    EXPECT_EQ(p.predict(5, std::nullopt), 7);
    EXPECT_EQ(p.predict(1, std::nullopt), 7);          // bucket 0 → 2 (distance 2)
    EXPECT_EQ(p.predict(40, std::nullopt), 7);         // bucket 5: distance 3 to both, the lower wins
    EXPECT_EQ(p.predict(100, std::nullopt), 80);       // bucket 6 → 8 (distance 2 vs 4)
    EXPECT_EQ(p.predict(1'000'000, std::nullopt), 80); // bucket 19 → 8
    EXPECT_EQ(p.predict(100, 64), 64);
}

TEST(length_predictor, quantile_is_nearest_rank) {
    for (const auto& [q, expected] : std::vector<std::pair<double, int64_t>>{{0.0, 1}, {0.5, 5}, {0.9, 9}, {1.0, 10}}) {
        output_length_predictor p({256, 100, q});
        for (int64_t v = 10; v >= 1; --v) {
            p.observe(64, 0, v);
        }
        EXPECT_EQ(p.predict(64, std::nullopt), expected) << "q " << q;
    }
}

TEST(length_predictor, accuracy_statistics) {
    output_length_predictor p;
    EXPECT_EQ(p.stats().n, 0);
    EXPECT_EQ(p.stats().mean_abs_error_tokens, 0);
    p.observe(10, 100, 50);  // |error| 50, within 2× (50 ≤ 100 ≤ 100)
    p.observe(10, 100, 300); // |error| 200, not within 2× (100 < 150)
    p.observe(10, 10, 10);   // 0, within
    p.observe(10, 0, 0);     // 0, within
    const output_length_predictor::accuracy a = p.stats();
    EXPECT_EQ(a.n, 4);
    EXPECT_DOUBLE_EQ(a.mean_abs_error_tokens, 250.0 / 4);
    EXPECT_DOUBLE_EQ(a.within_2x_fraction, 0.75);
}

TEST(length_predictor, concurrent_observers_lose_nothing) {
    output_length_predictor p({8, 100, 0.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&p, t] {
            for (int i = 0; i < 1000; ++i) {
                p.observe(100 * (t + 1), 42, 42);
                EXPECT_EQ(p.predict(100 * (t + 1), std::nullopt), 42);
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    EXPECT_EQ(p.stats().n, 4000);
    EXPECT_DOUBLE_EQ(p.stats().within_2x_fraction, 1.0);
}

TEST(length_predictor, rejects_bad_options) {
    EXPECT_NE(test::error_of([] { output_length_predictor({0, 100, 0.5}); }).find("window"), std::string::npos);
    EXPECT_NE(test::error_of([] {
                  output_length_predictor({8, 0, 0.5});
              }).find("default_output_tokens"),
              std::string::npos);
    EXPECT_NE(test::error_of([] { output_length_predictor({8, 100, 1.5}); }).find("quantile"), std::string::npos);
}

} // namespace
} // namespace llmfleet::serve
