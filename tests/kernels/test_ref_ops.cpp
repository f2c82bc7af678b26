// kernels::ref: hand-computed cases (one-hot attention, RoPE at position 0 and a quarter turn, RMSNorm,
// GQA head mapping, llama3 frequency scaling bands).
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/ref/ops.h"

namespace llmfleet::kernels::ref {
namespace {

TEST(ref_ops, rms_norm_hand_computed) {
    const float x[4] = {1, 2, 3, 4}; // mean square 7.5
    const float w[4] = {1, 1, 2, 0.5f};
    float out[4];
    rms_norm(x, w, out, 1, 4, 0.0f);
    const float inv = 1.0f / std::sqrt(7.5f);
    EXPECT_NEAR(out[0], 1 * inv, 1e-7);
    EXPECT_NEAR(out[2], 3 * inv * 2, 1e-6);
    EXPECT_NEAR(out[3], 4 * inv * 0.5f, 1e-7);
}

TEST(ref_ops, rope_identity_at_zero_and_quarter_turn) {
    const std::vector<float> inv = rope_inv_freq(4, 10000.0, std::nullopt); // {1, 0.01}
    EXPECT_FLOAT_EQ(inv[0], 1.0f);
    EXPECT_FLOAT_EQ(inv[1], 0.01f);
    float x[4] = {1, 2, 3, 4};
    const int64_t zero = 0;
    rope(x, &zero, 1, 1, 4, inv.data());
    EXPECT_FLOAT_EQ(x[0], 1);
    EXPECT_FLOAT_EQ(x[3], 4);
    float y[4] = {1, 0, 0, 0};
    const float quarter[2] = {static_cast<float>(M_PI / 2), 0};
    const int64_t one = 1;
    rope(y, &one, 1, 1, 4, quarter);
    EXPECT_NEAR(y[0], 0, 1e-7); // x0 cos − x2 sin
    EXPECT_NEAR(y[2], 1, 1e-7); // x2 cos + x0 sin
}

TEST(ref_ops, llama3_scaling_bands) {
    // head_dim 8 → base frequencies 1, 0.1, 0.01, 0.001 (theta 10^4); original context 100, factor 8,
    // low 1, high 4: wavelengths 6.3 (< 25: kept), 62.8 (between 25 and 100: smoothed), 628 and 6283 (> 100: / 8).
    const std::vector<float> base = rope_inv_freq(8, 10000.0, std::nullopt);
    const std::vector<float> s = rope_inv_freq(8, 10000.0, rope_llama3{8.0, 1.0, 4.0, 100});
    EXPECT_FLOAT_EQ(s[0], base[0]);
    EXPECT_NEAR(s[2], base[2] / 8, 1e-9);
    EXPECT_NEAR(s[3], base[3] / 8, 1e-10);
    const double smooth = (100 / (2 * M_PI / base[1]) - 1.0) / 3.0;
    EXPECT_NEAR(s[1], (1 - smooth) * base[1] / 8 + smooth * base[1], 1e-7);
}

TEST(ref_ops, attention_one_hot_and_gqa) {
    // 2 query heads share 1 KV head; keys make query 1 attend (almost) only to key 0.
    const int64_t hd = 2;
    const float q[2 * 2 * hd] = {0, 0, 0, 0, /* t=1 */ 100, 0, 0, 0};
    const float k[2 * hd] = {1, 0, /* t=1 */ -1, 0};
    const float v[2 * hd] = {5, 6, /* t=1 */ 7, 8};
    float out[2 * 2 * hd];
    const int64_t pos[2] = {0, 1};
    attention(q, k, v, out, pos, 2, 2, 2, 1, hd);
    // t=0 sees only key 0.
    EXPECT_FLOAT_EQ(out[0], 5);
    EXPECT_FLOAT_EQ(out[3], 6);
    // t=1 head 0: scores 100/√2 vs −100/√2 → all weight on key 0; head 1 (q = 0): uniform → mean of v.
    EXPECT_NEAR(out[4], 5, 1e-6);
    EXPECT_NEAR(out[5], 6, 1e-6);
    EXPECT_NEAR(out[6], 6, 1e-6);
    EXPECT_NEAR(out[7], 7, 1e-6);
}

TEST(ref_ops, linear_and_silu) {
    const float x[2] = {1, 2};
    const float w[6] = {1, 0, 0, 1, 1, 1}; // [3, 2]
    const float b[3] = {0.5f, 0, -1};
    float y[3];
    linear(x, w, b, y, 1, 2, 3);
    EXPECT_FLOAT_EQ(y[0], 1.5f);
    EXPECT_FLOAT_EQ(y[1], 2);
    EXPECT_FLOAT_EQ(y[2], 2);
    const float g[1] = {1}, u[1] = {2};
    float o[1];
    silu_mul(g, u, o, 1);
    EXPECT_NEAR(o[0], 2 / (1 + std::exp(-1.0)), 1e-6);
}

} // namespace
} // namespace llmfleet::kernels::ref
