// kernels::cpu (the fast CPU path) against kernels::ref (the oracle) on random inputs, including paged
// attention over a shuffled block table against contiguous reference attention.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"

namespace llmfleet::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0, 1);
    std::vector<float> v(n);
    for (float& x : v) {
        x = d(rng);
    }
    return v;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(b[i]))) << "index " << i;
    }
}

TEST(cpu_ops, linear_matches_reference_on_both_paths) {
    thread_pool pool(2);
    for (const int64_t n : {1, 3, 4, 7, 16, 17, 40}) { // small-m kernel (with 4-row blocks and tails), then sgemm
        for (const int64_t in : {67, 96}) {            // with and without a tail after the 16-float vectors
            const int64_t out = 133;
            const auto x = randn(n * in, 1), w = randn(out * in, 2), bias = randn(out, 3);
            std::vector<float> got(n * out), want(n * out);
            cpu::linear(x.data(), w.data(), bias.data(), got.data(), n, in, out, pool);
            ref::linear(x.data(), w.data(), bias.data(), want.data(), n, in, out);
            expect_close(got, want, 1e-5);
        }
    }
}

TEST(cpu_ops, small_batch_linear_is_batch_invariant) {
    thread_pool pool(2);
    const int64_t in = 80, out = 70;
    const int64_t n = cpu::small_m_max - 1; // 4-token blocks and a tail
    const auto x = randn(n * in, 8), w = randn(out * in, 9);
    std::vector<float> batched(n * out), alone(out);
    cpu::linear(x.data(), w.data(), nullptr, batched.data(), n, in, out, pool);
    for (int64_t t = 0; t < n; ++t) {
        cpu::linear(x.data() + t * in, w.data(), nullptr, alone.data(), 1, in, out, pool);
        for (int64_t o = 0; o < out; ++o) {
            ASSERT_EQ(batched[t * out + o], alone[o]) << "token " << t << " output " << o << ": bitwise equal expected";
        }
    }
}

TEST(cpu_ops, norm_rope_silu_match_reference) {
    const int64_t n = 3, heads = 2, d = 8, dim = heads * d;
    const auto x = randn(n * dim, 4), w = randn(dim, 5);
    std::vector<float> got(n * dim), want(n * dim);
    cpu::rms_norm(x.data(), w.data(), got.data(), n, dim, 1e-6f);
    ref::rms_norm(x.data(), w.data(), want.data(), n, dim, 1e-6f);
    expect_close(got, want, 1e-6);

    const std::vector<float> inv = ref::rope_inv_freq(d, 10000.0, std::nullopt);
    const std::vector<int32_t> pos32 = {0, 7, 1000};
    const std::vector<int64_t> pos64 = {0, 7, 1000};
    std::vector<float> c(n * d / 2), s(n * d / 2);
    cpu::rope_table(pos32.data(), inv.data(), c.data(), s.data(), n, d / 2);
    got = x;
    want = x;
    cpu::rope(got.data(), dim, c.data(), s.data(), n, heads, d);
    ref::rope(want.data(), pos64.data(), n, heads, d, inv.data());
    expect_close(got, want, 1e-6);

    const auto gate_up = randn(n * 2 * dim, 6);
    std::vector<float> gate(n * dim), up(n * dim);
    for (int64_t t = 0; t < n; ++t) {
        std::copy_n(gate_up.begin() + t * 2 * dim, dim, gate.begin() + t * dim);
        std::copy_n(gate_up.begin() + t * 2 * dim + dim, dim, up.begin() + t * dim);
    }
    cpu::silu_mul_fused(gate_up.data(), got.data(), n, dim);
    ref::silu_mul(gate.data(), up.data(), want.data(), n * dim);
    expect_close(got, want, 1e-6);
}

TEST(cpu_ops, paged_attention_matches_contiguous_reference) {
    // One sequence of 23 tokens in blocks of 4 scattered over a 12-block pool; GQA 4 heads over 2 KV heads.
    const int64_t n_heads = 4, n_kv = 2, d = 8, q_size = n_heads * d, kv_size = n_kv * d, n_ctx = 23, bs = 4;
    const int64_t stride = q_size + 2 * kv_size;
    const auto qkv = randn(n_ctx * stride, 7);
    std::vector<int32_t> table = {9, 2, 11, 0, 5, 7};
    std::vector<float> k_cache(12 * bs * kv_size, NAN), v_cache(12 * bs * kv_size, NAN);
    const cpu::kv_layer_view kv{k_cache.data(), v_cache.data(), bs, n_kv, d};
    std::vector<int32_t> slots(n_ctx), positions(n_ctx), token_seq(n_ctx, 0);
    for (int32_t j = 0; j < n_ctx; ++j) {
        slots[j] = table[j / bs] * static_cast<int32_t>(bs) + j % static_cast<int32_t>(bs);
        positions[j] = j;
    }
    cpu::store_kv(qkv.data(), stride, q_size, q_size + kv_size, slots.data(), n_ctx, kv);
    // Query the last 5 tokens only (a prefill chunk), attending to the whole cache.
    const int64_t first = n_ctx - 5;
    const std::span<const int32_t> tables[1] = {table};
    cpu::attention_batch batch{positions.data() + first, token_seq.data(), tables, 5};
    thread_pool pool(2);
    std::vector<float> got(5 * q_size);
    cpu::paged_attention(qkv.data() + first * stride, stride, got.data(), batch, kv, n_heads, pool);

    std::vector<float> q(n_ctx * q_size), k(n_ctx * kv_size), v(n_ctx * kv_size), want(5 * q_size);
    for (int64_t t = 0; t < n_ctx; ++t) {
        std::copy_n(qkv.begin() + t * stride, q_size, q.begin() + t * q_size);
        std::copy_n(qkv.begin() + t * stride + q_size, kv_size, k.begin() + t * kv_size);
        std::copy_n(qkv.begin() + t * stride + q_size + kv_size, kv_size, v.begin() + t * kv_size);
    }
    std::vector<int64_t> qpos = {18, 19, 20, 21, 22};
    ref::attention(q.data() + first * q_size, k.data(), v.data(), want.data(), qpos.data(), 5, n_ctx, n_heads, n_kv, d);
    expect_close(got, want, 1e-5);
}

} // namespace
} // namespace llmfleet::kernels
