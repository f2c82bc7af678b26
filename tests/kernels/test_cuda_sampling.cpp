// kernels::cuda::sample against kernels::ref::sample_row on the same rows: vocab sizes 1000, 32000, 50257 and
// 151936, mixed parameters (greedy, top_k 1/5/50/vocab, top_p 0.1/0.5/0.9/1, min_p, temperatures 0.5/1/2) and
// random and adversarial logits (ties, −inf, flat, underflow). Tokens must agree on ≥ 99.9% of the rows (exact
// agreement is expected; a draw or a cut within rounding of a token boundary may differ) and always on greedy
// rows; every token must satisfy the hard filters; a guard region after tokens stays intact. Also: same tokens on
// a second run, in another batch order and from a CUDA-graph replay, and −1 for rows outside the contract.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/sampling.cuh"
#include "kernels/ref/sampling.h"

namespace llmfleet::kernels::cuda {
namespace {

constexpr float k_inf = std::numeric_limits<float>::infinity();
constexpr int32_t k_guard = 0x7eadbeef;
constexpr int32_t k_n_guard = 64;

// No kind has distinct logits within ~1e-7 of each other: their p would differ by an ulp or two, which the GPU's
// expf (≤ 2 ulp from the host's) can reorder, moving a top-p cut for reasons of rounding alone. Equal logits are
// fine: both sides map them to equal p.
enum class logit_kind { normal, peaked, integer_ties, half_neg_inf, flat_with_spike, sparse_ties, wide, close_values };
constexpr int k_n_kinds = 8;

const char* to_string(logit_kind k) {
    switch (k) {
    case logit_kind::normal:
        return "normal";
    case logit_kind::peaked:
        return "peaked";
    case logit_kind::integer_ties:
        return "integer_ties";
    case logit_kind::half_neg_inf:
        return "half_neg_inf";
    case logit_kind::flat_with_spike:
        return "flat_with_spike";
    case logit_kind::sparse_ties:
        return "sparse_ties";
    case logit_kind::wide:
        return "wide";
    case logit_kind::close_values:
        return "close_values";
    }
    return "?";
}

// Rows [n_rows, vocab] f32 with their parameters; kinds[r] says how row r's logits were made.
struct batch {
    int32_t vocab = 0;
    std::vector<float> logits;
    std::vector<ref::sampling_row> rows;
    std::vector<logit_kind> kinds;

    int32_t n_rows() const { return static_cast<int32_t>(rows.size()); }
    std::span<const float> row(int32_t r) const {
        return {logits.data() + static_cast<size_t>(r) * static_cast<size_t>(vocab), static_cast<size_t>(vocab)};
    }
};

void fill_row(std::span<float> l, logit_kind kind, std::mt19937& rng) {
    std::normal_distribution<float> normal(0, 1);
    std::uniform_int_distribution<int> small(0, 4);
    for (float& v : l) {
        switch (kind) {
        case logit_kind::normal:
            v = 2 * normal(rng);
            break;
        case logit_kind::peaked:
            v = 6 * normal(rng);
            break;
        case logit_kind::integer_ties:
            v = static_cast<float>(small(rng));
            break;
        case logit_kind::half_neg_inf:
            v = rng() % 2 == 0 ? -k_inf : 2 * normal(rng);
            break;
        case logit_kind::flat_with_spike:
            v = 0.25F;
            break;
        case logit_kind::sparse_ties:
            v = rng() % 8 == 0 ? static_cast<float>(small(rng)) : -k_inf;
            break;
        case logit_kind::wide:
            v = 40 * normal(rng); // most p underflow to 0 at temperature ≤ 1
            break;
        case logit_kind::close_values:
            v = 0.01F * static_cast<float>(small(rng)); // nearly flat, in 5 tie groups far apart in ulps
            break;
        }
    }
    if (kind == logit_kind::flat_with_spike) {
        l[rng() % l.size()] = 3.0F;
    }
    if (std::none_of(l.begin(), l.end(), [](float v) { return std::isfinite(v); })) {
        l[rng() % l.size()] = 0.0F;
    }
}

batch make_batch(int32_t vocab, int32_t n_rows, uint32_t seed) {
    std::mt19937 rng(seed);
    batch b;
    b.vocab = vocab;
    b.logits.resize(static_cast<size_t>(vocab) * static_cast<size_t>(n_rows));
    const float temperatures[] = {0.0F, 0.5F, 1.0F, 2.0F};
    const int32_t top_ks[] = {0, 1, 5, 50, vocab, -1};
    const float top_ps[] = {1.0F, 0.1F, 0.5F, 0.9F};
    const float min_ps[] = {0.0F, 0.0F, 0.05F, 0.2F};
    for (int32_t r = 0; r < n_rows; ++r) {
        ref::sampling_row row;
        row.temperature = temperatures[rng() % 4];
        row.top_k = top_ks[rng() % 6];
        row.top_p = top_ps[rng() % 4];
        row.min_p = min_ps[rng() % 4];
        row.seed = (static_cast<uint64_t>(rng()) << 32) | rng();
        row.offset = rng() % 4096;
        const auto kind = static_cast<logit_kind>(r % k_n_kinds);
        b.rows.push_back(row);
        b.kinds.push_back(kind);
        fill_row({b.logits.data() + static_cast<size_t>(r) * static_cast<size_t>(vocab), static_cast<size_t>(vocab)},
                 kind, rng);
    }
    return b;
}

// Uploads the batch, samples on `stream` and returns the tokens; checks the guard region after them.
std::vector<int32_t> sample_on_gpu(const batch& b, cudaStream_t stream = nullptr) {
    device_buffer<float> logits(static_cast<int64_t>(b.logits.size()));
    logits.upload(b.logits);
    device_buffer<ref::sampling_row> rows(b.n_rows());
    rows.upload(b.rows);
    std::vector<int32_t> host(static_cast<size_t>(b.n_rows() + k_n_guard), k_guard);
    device_buffer<int32_t> tokens(b.n_rows() + k_n_guard);
    tokens.upload(host);
    const int64_t workspace_bytes = sampling_workspace_bytes(b.n_rows(), b.vocab);
    device_buffer<uint8_t> workspace(workspace_bytes);
    sample(logits.data(), rows.data(), b.n_rows(), b.vocab, tokens.data(), workspace.data(), stream);
    LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(stream));
    tokens.download(host);
    for (int32_t i = b.n_rows(); i < b.n_rows() + k_n_guard; ++i) {
        EXPECT_EQ(host[static_cast<size_t>(i)], k_guard) << "guard word " << i - b.n_rows() << " after the tokens";
    }
    host.resize(static_cast<size_t>(b.n_rows()));
    return host;
}

float prob(std::span<const float> l, int32_t token, float temperature) {
    const float max_logit = *std::max_element(l.begin(), l.end());
    return std::exp((l[static_cast<size_t>(token)] - max_logit) / temperature);
}

// Filters every token must pass whatever the rounding: a finite logit, greedy exact, inside the top k, p ≥ min_p.
void expect_hard_filters(const batch& b, int32_t r, int32_t token, int32_t ref_token) {
    const ref::sampling_row& row = b.rows[static_cast<size_t>(r)];
    const std::span<const float> l = b.row(r);
    ASSERT_GE(token, 0) << "row " << r;
    ASSERT_LT(token, b.vocab) << "row " << r;
    EXPECT_TRUE(std::isfinite(l[static_cast<size_t>(token)])) << "row " << r << " drew a -inf logit";
    if (row.temperature == 0 || row.top_k == 1) {
        EXPECT_EQ(token, ref_token) << "row " << r << ": greedy";
        return;
    }
    EXPECT_GT(prob(l, token, row.temperature), 0.0F) << "row " << r << " drew a token with p = 0";
    if (row.top_k > 1 && row.top_k < b.vocab) {
        std::vector<float> sorted(l.begin(), l.end());
        std::nth_element(sorted.begin(), sorted.begin() + (row.top_k - 1), sorted.end(), std::greater<>());
        EXPECT_GE(l[static_cast<size_t>(token)], sorted[static_cast<size_t>(row.top_k - 1)])
            << "row " << r << ": outside the top " << row.top_k;
    }
    if (row.min_p > 0) {
        EXPECT_GE(prob(l, token, row.temperature), row.min_p * (1 - 1e-6F)) << "row " << r << ": below min_p";
    }
}

TEST(cuda_sampling, matches_the_reference_on_mixed_rows) {
    struct shape {
        int32_t vocab;
        int32_t n_rows;
    };
    const shape shapes[] = {{1000, 600}, {32000, 300}, {50257, 200}, {151936, 200}};
    int64_t n_rows_total = 0, n_mismatches = 0;
    for (const shape& sh : shapes) {
        const batch b = make_batch(sh.vocab, sh.n_rows, static_cast<uint32_t>(sh.vocab));
        const std::vector<int32_t> gpu = sample_on_gpu(b);
        for (int32_t r = 0; r < b.n_rows(); ++r) {
            const ref::sampling_row& row = b.rows[static_cast<size_t>(r)];
            const int32_t want = ref::sample_row(b.row(r), row);
            const int32_t got = gpu[static_cast<size_t>(r)];
            expect_hard_filters(b, r, got, want);
            if (got != want) {
                ++n_mismatches;
                const bool in_range = got >= 0 && got < b.vocab;
                std::printf("mismatch: vocab %d row %d (%s) T %g top_k %d top_p %g min_p %g u %.17g: ref %d (p %.9g), "
                            "gpu %d (p %.9g)\n",
                            b.vocab, r, to_string(b.kinds[static_cast<size_t>(r)]), row.temperature, row.top_k,
                            row.top_p, row.min_p, ref::sampling_uniform(row.seed, row.offset), want,
                            prob(b.row(r), want, row.temperature), got,
                            in_range ? prob(b.row(r), got, row.temperature) : -1.0F);
            }
        }
        n_rows_total += b.n_rows();
    }
    std::printf("%lld of %lld rows differ from the reference\n", static_cast<long long>(n_mismatches),
                static_cast<long long>(n_rows_total));
    EXPECT_LE(n_mismatches * 1000, n_rows_total) << "more than 0.1% of the rows differ";
}

TEST(cuda_sampling, same_tokens_on_rerun_in_another_order_and_from_a_graph) {
    const batch b = make_batch(32000, 96, 5);
    const std::vector<int32_t> first = sample_on_gpu(b);
    EXPECT_EQ(sample_on_gpu(b), first);

    batch reversed = b; // each row's token depends on that row alone
    std::reverse(reversed.rows.begin(), reversed.rows.end());
    for (int32_t r = 0; r < b.n_rows(); ++r) {
        const std::span<const float> src = b.row(b.n_rows() - 1 - r);
        std::copy(src.begin(), src.end(), reversed.logits.begin() + static_cast<ptrdiff_t>(r) * b.vocab);
    }
    const std::vector<int32_t> backwards = sample_on_gpu(reversed);
    for (int32_t r = 0; r < b.n_rows(); ++r) {
        EXPECT_EQ(backwards[static_cast<size_t>(b.n_rows() - 1 - r)], first[static_cast<size_t>(r)]) << "row " << r;
    }

    // Captured into a CUDA graph (no sync, no allocation inside sample()), replayed twice.
    cudaStream_t stream = nullptr;
    LLMFLEET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    device_buffer<float> logits(static_cast<int64_t>(b.logits.size()));
    logits.upload(b.logits);
    device_buffer<ref::sampling_row> rows(b.n_rows());
    rows.upload(b.rows);
    device_buffer<int32_t> tokens(b.n_rows());
    device_buffer<uint8_t> workspace(sampling_workspace_bytes(b.n_rows(), b.vocab));
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    LLMFLEET_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    sample(logits.data(), rows.data(), b.n_rows(), b.vocab, tokens.data(), workspace.data(), stream);
    LLMFLEET_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    LLMFLEET_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; ++replay) {
        std::vector<int32_t> zeros(static_cast<size_t>(b.n_rows()), 0);
        tokens.upload(zeros);
        LLMFLEET_CUDA_CHECK(cudaGraphLaunch(exec, stream));
        LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(stream));
        std::vector<int32_t> replayed(static_cast<size_t>(b.n_rows()));
        tokens.download(replayed);
        EXPECT_EQ(replayed, first) << "graph replay " << replay;
    }
    LLMFLEET_CUDA_CHECK(cudaGraphExecDestroy(exec));
    LLMFLEET_CUDA_CHECK(cudaGraphDestroy(graph));
    LLMFLEET_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST(cuda_sampling, rows_outside_the_contract_give_minus_one) {
    batch b;
    b.vocab = 700;
    b.logits.assign(4 * 700, 0.5F);
    std::fill(b.logits.begin(), b.logits.begin() + 700, -k_inf);   // row 0: every logit −inf
    b.logits[700 + 350] = std::numeric_limits<float>::quiet_NaN(); // row 1: NaN
    b.logits[1400 + 699] = k_inf;                                  // row 2: +inf
    b.rows.resize(4);                                              // row 3: valid, flat → drawn
    b.rows[1].temperature = 0;
    const std::vector<int32_t> got = sample_on_gpu(b);
    EXPECT_EQ(got[0], -1);
    EXPECT_EQ(got[1], -1);
    EXPECT_EQ(got[2], -1);
    EXPECT_EQ(got[3], ref::sample_row(b.row(3), b.rows[3]));
}

TEST(cuda_sampling, shapes_are_checked_and_an_empty_batch_is_a_no_op) {
    EXPECT_THROW(sampling_workspace_bytes(-1, 1000), error);
    EXPECT_THROW(sampling_workspace_bytes(4, 0), error);
    EXPECT_GE(sampling_workspace_bytes(4, 151936), 0);
    sample(nullptr, nullptr, 0, 1000, nullptr, nullptr, nullptr);
    EXPECT_THROW(sample(nullptr, nullptr, 2, 1000, nullptr, nullptr, nullptr), error);
}

} // namespace
} // namespace llmfleet::kernels::cuda
