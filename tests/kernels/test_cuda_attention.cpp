// GPU tests of paged attention (kernels/cuda/attention.cuh): decode (split-K over 512-token partitions) and
// prefill (WMMA tiles) against kernels::ref::attention on bf16-exact inputs, over several GQA shapes and
// sequence lengths. The cache uses a shuffled block table; never-written slots, the table's padding block and the
// qkv K/V columns hold NaN (a read of any of them shows up in the output); the output has sentinel guard regions;
// the cache must come back unchanged. Spiked inputs (one key dominates) make wrong keys, heads or partition weights
// obvious, and a CUDA-graph test replays one captured decode for several lengths.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/ref/ops.h"

namespace {

namespace cuda = llmfleet::kernels::cuda;
using cuda::bf16;
using cuda::device_buffer;

constexpr uint16_t nan_bits = 0x7FC0;      // bf16 quiet NaN: unused cache slots, qkv K/V columns
constexpr uint16_t sentinel_bits = 0x7FA5; // bf16 NaN with a payload no kernel writes: output guards
constexpr int64_t guard_elems = 256;       // sentinel elements before and after the output

// Host bf16, round to nearest even like __float2bfloat16.
uint16_t bf16_bits(float x) {
    uint32_t u = 0;
    std::memcpy(&u, &x, sizeof(u));
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
        return nan_bits;
    }
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

float bf16_value(uint16_t bits) {
    const uint32_t u = static_cast<uint32_t>(bits) << 16;
    float x = 0;
    std::memcpy(&x, &u, sizeof(x));
    return x;
}

float round_bf16(float x) {
    return bf16_value(bf16_bits(x));
}

struct attn_shape {
    int32_t n_heads = 0;
    int32_t n_kv_heads = 0;
    int32_t head_dim = 0;
    int32_t block_size = 0;
};

std::string to_string(const attn_shape& s) {
    return "heads " + std::to_string(s.n_heads) + "/" + std::to_string(s.n_kv_heads) + ", head_dim " +
           std::to_string(s.head_dim) + ", block_size " + std::to_string(s.block_size);
}

// A batch on the host: queries and each sequence's cached K/V, contiguous as ref::attention reads them. Sequence
// s's queries are its last n_queries[s] positions: n_cached[s] − n_queries[s] + i (decode: one query at the end).
struct attn_batch {
    attn_shape shape;
    std::vector<int32_t> n_cached;        // [n_seqs] tokens in the sequence's cache
    std::vector<int32_t> n_queries;       // [n_seqs] query tokens
    std::vector<float> q;                 // [n_tokens, n_heads, head_dim], bf16-exact
    std::vector<std::vector<float>> k, v; // per sequence [n_cached, n_kv_heads, head_dim], bf16-exact

    int32_t n_seqs() const { return static_cast<int32_t>(n_cached.size()); }
    int64_t n_tokens() const { return std::accumulate(n_queries.begin(), n_queries.end(), int64_t{0}); }
    int64_t q_row() const { return static_cast<int64_t>(shape.n_heads) * shape.head_dim; }
    int64_t kv_row() const { return static_cast<int64_t>(shape.n_kv_heads) * shape.head_dim; }
};

using kv_fill = std::function<float(int32_t seq, int32_t pos, int32_t kv_head, int32_t d)>;

attn_batch make_batch(const attn_shape& shape, std::vector<int32_t> n_cached, std::vector<int32_t> n_queries,
                      const std::function<float()>& q_fill, const kv_fill& k_fill, const kv_fill& v_fill) {
    attn_batch b;
    b.shape = shape;
    b.n_cached = std::move(n_cached);
    b.n_queries = std::move(n_queries);
    b.q.resize(static_cast<size_t>(b.n_tokens() * b.q_row()));
    for (float& x : b.q) {
        x = round_bf16(q_fill());
    }
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        b.k.emplace_back(static_cast<size_t>(b.n_cached[s] * b.kv_row()));
        b.v.emplace_back(static_cast<size_t>(b.n_cached[s] * b.kv_row()));
        for (int32_t pos = 0; pos < b.n_cached[s]; ++pos) {
            for (int32_t h = 0; h < shape.n_kv_heads; ++h) {
                for (int32_t d = 0; d < shape.head_dim; ++d) {
                    const size_t i = static_cast<size_t>((pos * shape.n_kv_heads + h) * shape.head_dim + d);
                    b.k[s][i] = round_bf16(k_fill(s, pos, h, d));
                    b.v[s][i] = round_bf16(v_fill(s, pos, h, d));
                }
            }
        }
    }
    return b;
}

// Random K, V in [−1, 1] and q in [−6, 6]: scores have a standard deviation of about 2, so the softmax is peaky and
// a wrong key, head or partition weight moves the output well past the tolerance.
attn_batch random_batch(const attn_shape& shape, std::vector<int32_t> n_cached, std::vector<int32_t> n_queries,
                        uint32_t seed) {
    std::mt19937 rng(seed);
    auto unit = [&rng] { return std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng); };
    return make_batch(
        shape, std::move(n_cached), std::move(n_queries), [&] { return 6.0f * unit(); },
        [&](int32_t, int32_t, int32_t, int32_t) { return unit(); },
        [&](int32_t, int32_t, int32_t, int32_t) { return unit(); });
}

// One key per sequence (targets[s]) scores 4·sqrt(head_dim) ≥ 22, every other key 0, so a query that sees the
// target returns its V row and one that does not averages the V rows it sees. V rows are distinct per position and
// KV head, exact in bf16.
attn_batch spike_batch(const attn_shape& shape, std::vector<int32_t> n_cached, std::vector<int32_t> n_queries,
                       const std::vector<int32_t>& targets) {
    return make_batch(
        shape, std::move(n_cached), std::move(n_queries), [] { return 4.0f; },
        [&](int32_t s, int32_t pos, int32_t, int32_t) { return pos == targets[s] ? 1.0f : 0.0f; },
        [](int32_t, int32_t pos, int32_t h, int32_t d) {
            return static_cast<float>((pos * 7 + h * 3 + d) % 251 - 125) / 128.0f;
        });
}

// The paged cache of a batch: blocks handed out in a shuffled order; the table's padding column and unused
// entries point at a NaN "poison" block, and slots no sequence owns are NaN.
struct paged_cache {
    std::vector<uint16_t> k_host, v_host; // [n_blocks, block_size, n_kv_heads, head_dim] bf16 bits
    std::vector<int32_t> tables_host;     // [n_seqs, max_blocks_per_seq]
    int32_t max_blocks_per_seq = 0;
    device_buffer<uint16_t> k, v;
    device_buffer<int32_t> tables;

    cuda::kv_cache_view view(const attn_shape& s) {
        return {reinterpret_cast<bf16*>(k.data()), reinterpret_cast<bf16*>(v.data()), s.block_size, s.n_kv_heads,
                s.head_dim};
    }
    cuda::block_table_view tables_view() const { return {tables.data(), max_blocks_per_seq}; }

    void expect_unchanged() const {
        std::vector<uint16_t> k_now(k_host.size()), v_now(v_host.size());
        k.download(k_now);
        v.download(v_now);
        EXPECT_TRUE(k_now == k_host) << "attention modified the K cache";
        EXPECT_TRUE(v_now == v_host) << "attention modified the V cache";
    }
};

paged_cache make_paged_cache(const attn_batch& b, uint32_t seed) {
    const int32_t bs = b.shape.block_size;
    const int64_t row = b.kv_row();
    std::vector<int32_t> n_blocks_of(static_cast<size_t>(b.n_seqs()));
    int32_t used = 0;
    int32_t widest = 0;
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        n_blocks_of[s] = (b.n_cached[s] + bs - 1) / bs;
        used += n_blocks_of[s];
        widest = std::max(widest, n_blocks_of[s]);
    }
    paged_cache c;
    c.max_blocks_per_seq = widest + 1; // one padding column
    const int32_t n_blocks = used + 3; // the poison block and two never handed out
    std::vector<int32_t> ids(static_cast<size_t>(n_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::mt19937 rng(seed);
    std::shuffle(ids.begin(), ids.end(), rng);
    const int32_t poison = ids[used];
    c.tables_host.assign(static_cast<size_t>(b.n_seqs()) * c.max_blocks_per_seq, poison);
    c.k_host.assign(static_cast<size_t>(n_blocks) * bs * row, nan_bits);
    c.v_host.assign(c.k_host.size(), nan_bits);
    int32_t next = 0;
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        int32_t* table = c.tables_host.data() + static_cast<int64_t>(s) * c.max_blocks_per_seq;
        for (int32_t i = 0; i < n_blocks_of[s]; ++i) {
            table[i] = ids[next++];
        }
        for (int32_t pos = 0; pos < b.n_cached[s]; ++pos) {
            const int64_t slot = static_cast<int64_t>(table[pos / bs]) * bs + pos % bs;
            for (int64_t e = 0; e < row; ++e) {
                c.k_host[slot * row + e] = bf16_bits(b.k[s][pos * row + e]);
                c.v_host[slot * row + e] = bf16_bits(b.v[s][pos * row + e]);
            }
        }
    }
    c.k = device_buffer<uint16_t>(static_cast<int64_t>(c.k_host.size()));
    c.v = device_buffer<uint16_t>(static_cast<int64_t>(c.v_host.size()));
    c.tables = device_buffer<int32_t>(static_cast<int64_t>(c.tables_host.size()));
    c.k.upload(c.k_host);
    c.v.upload(c.v_host);
    c.tables.upload(c.tables_host);
    return c;
}

// qkv [n_tokens, (n_heads + 2·n_kv_heads)·head_dim]: q in the first n_heads·head_dim columns, NaN in the K/V
// columns (attention reads only q).
device_buffer<uint16_t> upload_qkv(const attn_batch& b, int64_t* stride) {
    *stride = b.q_row() + 2 * b.kv_row();
    std::vector<uint16_t> host(static_cast<size_t>(b.n_tokens() * *stride), nan_bits);
    for (int64_t t = 0; t < b.n_tokens(); ++t) {
        for (int64_t i = 0; i < b.q_row(); ++i) {
            host[t * *stride + i] = bf16_bits(b.q[t * b.q_row() + i]);
        }
    }
    device_buffer<uint16_t> buf(static_cast<int64_t>(host.size()));
    buf.upload(host);
    return buf;
}

// The output with guard_elems sentinels before and after; the interior starts as sentinels too (NaN), so an
// element the kernel never writes fails the NaN check.
class guarded_output {
public:
    explicit guarded_output(int64_t n) : _n(n), _buf(n + 2 * guard_elems) {
        _buf.upload(std::vector<uint16_t>(static_cast<size_t>(n + 2 * guard_elems), sentinel_bits));
    }
    bf16* data() { return reinterpret_cast<bf16*>(_buf.data()) + guard_elems; }
    std::vector<uint16_t> download_checked() const {
        std::vector<uint16_t> all(static_cast<size_t>(_n + 2 * guard_elems));
        _buf.download(all);
        int64_t n_overwritten = 0;
        for (int64_t i = 0; i < guard_elems; ++i) {
            n_overwritten += all[i] != sentinel_bits;
            n_overwritten += all[guard_elems + _n + i] != sentinel_bits;
        }
        EXPECT_EQ(n_overwritten, 0) << "attention wrote outside its output";
        return {all.begin() + guard_elems, all.begin() + guard_elems + _n};
    }

private:
    int64_t _n;
    device_buffer<uint16_t> _buf;
};

cuda::attention_io make_io(const attn_batch& b, const device_buffer<uint16_t>& qkv, int64_t stride,
                           guarded_output& out) {
    return {reinterpret_cast<const bf16*>(qkv.data()), stride, out.data(), b.shape.n_heads,
            1.0f / std::sqrt(static_cast<float>(b.shape.head_dim))};
}

// Decode reference: sequence s (query row s) attends to its first lens[s] cached tokens; 0 → zeros.
std::vector<float> reference_decode(const attn_batch& b, const std::vector<int32_t>& lens) {
    std::vector<float> out(static_cast<size_t>(b.n_seqs() * b.q_row()), 0.0f);
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        if (lens[s] > 0) {
            const int64_t pos = lens[s] - 1;
            llmfleet::kernels::ref::attention(b.q.data() + s * b.q_row(), b.k[s].data(), b.v[s].data(),
                                              out.data() + s * b.q_row(), &pos, 1, lens[s], b.shape.n_heads,
                                              b.shape.n_kv_heads, b.shape.head_dim);
        }
    }
    return out;
}

std::vector<int32_t> query_positions(const attn_batch& b) {
    std::vector<int32_t> positions;
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        for (int32_t i = 0; i < b.n_queries[s]; ++i) {
            positions.push_back(b.n_cached[s] - b.n_queries[s] + i);
        }
    }
    return positions;
}

std::vector<float> reference_prefill(const attn_batch& b) {
    std::vector<float> out(static_cast<size_t>(b.n_tokens() * b.q_row()), 0.0f);
    const std::vector<int32_t> positions = query_positions(b);
    int64_t t0 = 0;
    for (int32_t s = 0; s < b.n_seqs(); ++s) {
        const std::vector<int64_t> pos(positions.begin() + t0, positions.begin() + t0 + b.n_queries[s]);
        llmfleet::kernels::ref::attention(b.q.data() + t0 * b.q_row(), b.k[s].data(), b.v[s].data(),
                                          out.data() + t0 * b.q_row(), pos.data(), b.n_queries[s], b.n_cached[s],
                                          b.shape.n_heads, b.shape.n_kv_heads, b.shape.head_dim);
        t0 += b.n_queries[s];
    }
    return out;
}

// |got − want| ≤ 5e-3 + 1e-2·|want| per element (bf16 output rounding is 2^-9 relative; prefill's bf16
// probabilities add at most 2^-9 · max|v − out| ≤ 4e-3), no NaN, and a normalized squared error ≤ 1e-3.
void expect_matches(const std::vector<float>& want, const std::vector<uint16_t>& got, const attn_shape& shape) {
    ASSERT_EQ(want.size(), got.size());
    const int64_t q_row = static_cast<int64_t>(shape.n_heads) * shape.head_dim;
    int64_t n_bad = 0;
    double max_err = 0, err_sq = 0, want_sq = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double g = bf16_value(got[i]);
        const double w = want[i];
        const double err = std::isnan(g) ? INFINITY : std::abs(g - w);
        if (!(err <= 5e-3 + 1e-2 * std::abs(w))) {
            if (++n_bad <= 5) {
                const int64_t idx = static_cast<int64_t>(i);
                ADD_FAILURE() << "token " << idx / q_row << " head " << (idx % q_row) / shape.head_dim << " dim "
                              << idx % shape.head_dim << ": got " << g << ", want " << w;
            }
        }
        max_err = std::max(max_err, err);
        err_sq += err * err;
        want_sq += w * w;
    }
    EXPECT_EQ(n_bad, 0) << n_bad << " of " << want.size() << " elements off; max error " << max_err;
    EXPECT_LE(err_sq, 1e-3 * want_sq + 1e-12) << "normalized squared error " << err_sq / want_sq;
}

// Runs paged_attention_decode with sequence lengths `lens` and a grid sized for max_seq_len; checks the guards and
// that the cache is unchanged; returns the output (bf16 bits).
std::vector<uint16_t> run_decode(const attn_batch& b, const std::vector<int32_t>& lens, int32_t max_seq_len,
                                 uint32_t seed) {
    paged_cache cache = make_paged_cache(b, seed);
    int64_t stride = 0;
    const device_buffer<uint16_t> qkv = upload_qkv(b, &stride);
    guarded_output out(b.n_seqs() * b.q_row());
    device_buffer<int32_t> lens_dev(b.n_seqs());
    lens_dev.upload(lens);
    const int64_t ws_floats = cuda::decode_workspace_floats(b.n_seqs(), b.shape.n_heads, b.shape.head_dim, max_seq_len);
    device_buffer<float> ws(ws_floats);
    if (ws_floats > 0) {
        LLMFLEET_CUDA_CHECK(cudaMemset(ws.data(), 0xFF, ws.bytes())); // NaN: only what decode wrote may be read
    }
    cuda::paged_attention_decode(make_io(b, qkv, stride, out), cache.view(b.shape), cache.tables_view(),
                                 lens_dev.data(), b.n_seqs(), max_seq_len, ws_floats > 0 ? ws.data() : nullptr,
                                 nullptr);
    LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<uint16_t> got = out.download_checked();
    cache.expect_unchanged();
    return got;
}

std::vector<uint16_t> run_prefill(const attn_batch& b, uint32_t seed) {
    paged_cache cache = make_paged_cache(b, seed);
    int64_t stride = 0;
    const device_buffer<uint16_t> qkv = upload_qkv(b, &stride);
    guarded_output out(b.n_tokens() * b.q_row());
    std::vector<int32_t> starts{0};
    for (int32_t n : b.n_queries) {
        starts.push_back(starts.back() + n);
    }
    const std::vector<int32_t> positions = query_positions(b);
    device_buffer<int32_t> starts_dev(static_cast<int64_t>(starts.size()));
    device_buffer<int32_t> positions_dev(static_cast<int64_t>(positions.size()));
    starts_dev.upload(starts);
    positions_dev.upload(positions);
    const int32_t max_q_len = *std::max_element(b.n_queries.begin(), b.n_queries.end());
    cuda::paged_attention_prefill(make_io(b, qkv, stride, out), cache.view(b.shape), cache.tables_view(),
                                  starts_dev.data(), positions_dev.data(), b.n_seqs(), max_q_len, nullptr);
    LLMFLEET_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<uint16_t> got = out.download_checked();
    cache.expect_unchanged();
    return got;
}

// GQA 14/2 and 12/2 (Qwen2.5 0.5B / 1.5B), MHA 8/8, 4/1; head_dim 64, 128, 32; block sizes 16, 8, 32; groups of
// 16 and 12 query heads (split into two head chunks by decode).
const std::vector<attn_shape> shapes = {
    {14, 2, 64, 16}, {12, 2, 128, 16}, {8, 8, 128, 16}, {4, 1, 32, 16},
    {14, 2, 128, 8}, {12, 2, 64, 32},  {32, 2, 64, 16}, {24, 2, 32, 16},
};

TEST(CudaAttention, DecodeMatchesReferenceAcrossPartitions) {
    // 2500 tokens: 5 partitions of 512; 513 and 1100 cross partition edges; 0 is a padded row.
    const std::vector<int32_t> lens = {1, 7, 16, 17, 100, 513, 1100, 2500, 0};
    uint32_t seed = 1;
    for (const attn_shape& shape : shapes) {
        SCOPED_TRACE(to_string(shape));
        const attn_batch b = random_batch(shape, lens, std::vector<int32_t>(lens.size(), 1), seed++);
        const std::vector<uint16_t> got = run_decode(b, lens, 2500, seed++);
        expect_matches(reference_decode(b, lens), got, shape);
        for (int64_t i = 8 * b.q_row(); i < 9 * b.q_row(); ++i) {
            ASSERT_EQ(bf16_value(got[i]), 0.0f) << "the padded row (seq_lens 0) must be zeros";
        }
    }
}

TEST(CudaAttention, DecodeSinglePartitionNeedsNoWorkspace) {
    const std::vector<int32_t> lens = {1, 7, 16, 0, 17, 100, 512, 300};
    EXPECT_EQ(cuda::decode_workspace_floats(8, 14, 64, 512), 0);
    uint32_t seed = 100;
    for (const attn_shape& shape : shapes) {
        SCOPED_TRACE(to_string(shape));
        const attn_batch b = random_batch(shape, lens, std::vector<int32_t>(lens.size(), 1), seed++);
        const std::vector<uint16_t> got = run_decode(b, lens, 512, seed++);
        expect_matches(reference_decode(b, lens), got, shape);
    }
}

TEST(CudaAttention, DecodeGridSizedForALongerBucket) {
    // max_seq_len 4096 (8 partitions) while the sequences are shorter: partitions past a length exit at once.
    const std::vector<int32_t> lens = {5, 0, 700, 1};
    const attn_shape shape{14, 2, 128, 16};
    const attn_batch b = random_batch(shape, lens, {1, 1, 1, 1}, 7);
    expect_matches(reference_decode(b, lens), run_decode(b, lens, 4096, 8), shape);
}

TEST(CudaAttention, DecodeSpikeReturnsTheTargetKeysValue) {
    // The spiked key sits at the first and last slot of a partition, either side of the 512 edge, and at the end.
    const std::vector<int32_t> lens = {1100, 1100, 1100, 1100, 513, 3, 2048};
    const std::vector<int32_t> targets = {0, 511, 512, 1099, 512, 2, 1535};
    for (const attn_shape& shape : {attn_shape{14, 2, 64, 16}, attn_shape{8, 8, 128, 16}, attn_shape{4, 1, 32, 32}}) {
        SCOPED_TRACE(to_string(shape));
        const attn_batch b = spike_batch(shape, lens, std::vector<int32_t>(lens.size(), 1), targets);
        expect_matches(reference_decode(b, lens), run_decode(b, lens, 2048, 11), shape);
    }
}

TEST(CudaAttention, DecodeCapturedInAGraphServesEveryLengthUpToTheBucket) {
    const attn_shape shape{14, 2, 64, 16};
    const std::vector<int32_t> cached = {2500, 1100, 600, 3};
    const int32_t max_seq_len = 2500;
    const attn_batch b = random_batch(shape, cached, {1, 1, 1, 1}, 21);
    paged_cache cache = make_paged_cache(b, 22);
    int64_t stride = 0;
    const device_buffer<uint16_t> qkv = upload_qkv(b, &stride);
    guarded_output out(b.n_seqs() * b.q_row());
    device_buffer<int32_t> lens_dev(b.n_seqs());
    lens_dev.upload(cached);
    device_buffer<float> ws(cuda::decode_workspace_floats(b.n_seqs(), shape.n_heads, shape.head_dim, max_seq_len));
    ASSERT_FALSE(ws.empty());

    cudaStream_t stream = nullptr;
    LLMFLEET_CUDA_CHECK(cudaStreamCreate(&stream));
    cudaGraph_t graph = nullptr;
    LLMFLEET_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    cuda::paged_attention_decode(make_io(b, qkv, stride, out), cache.view(shape), cache.tables_view(), lens_dev.data(),
                                 b.n_seqs(), max_seq_len, ws.data(), stream);
    LLMFLEET_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec = nullptr;
    LLMFLEET_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));

    for (const std::vector<int32_t>& lens :
         {cached, std::vector<int32_t>{700, 0, 512, 1}, std::vector<int32_t>{1, 1024, 513, 2}}) {
        lens_dev.upload(lens);
        LLMFLEET_CUDA_CHECK(cudaGraphLaunch(exec, stream));
        LLMFLEET_CUDA_CHECK(cudaStreamSynchronize(stream));
        expect_matches(reference_decode(b, lens), out.download_checked(), shape);
    }
    cache.expect_unchanged();
    LLMFLEET_CUDA_CHECK(cudaGraphExecDestroy(exec));
    LLMFLEET_CUDA_CHECK(cudaGraphDestroy(graph));
    LLMFLEET_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST(CudaAttention, PrefillMatchesReferenceOnAMixedBatch) {
    // (cached, queries): whole prompts, a decode row (1 query at position 99), chunks whose earlier positions are
    // already cached (start 200, 16, 1030), a 1-token prompt, a prompt of 129 (two full query tiles + 1).
    const std::vector<int32_t> cached = {37, 100, 330, 64, 21, 1, 1100, 129};
    const std::vector<int32_t> queries = {37, 1, 130, 64, 5, 1, 70, 129};
    uint32_t seed = 300;
    for (const attn_shape& shape : shapes) {
        SCOPED_TRACE(to_string(shape));
        const attn_batch b = random_batch(shape, cached, queries, seed++);
        expect_matches(reference_prefill(b), run_prefill(b, seed++), shape);
    }
}

TEST(CudaAttention, PrefillIsCausalByPosition) {
    // Sequence 0's spiked key 50 is in the future of its first 50 queries, which must average keys 0..p instead;
    // sequence 1 is a chunk at positions 620..699 with the spike at 3; then a 1-token prompt and a decode row.
    const std::vector<int32_t> cached = {100, 700, 1, 200};
    const std::vector<int32_t> queries = {100, 80, 1, 1};
    const std::vector<int32_t> targets = {50, 3, 0, 199};
    for (const attn_shape& shape : {attn_shape{14, 2, 64, 16}, attn_shape{12, 2, 128, 16}, attn_shape{4, 1, 32, 8}}) {
        SCOPED_TRACE(to_string(shape));
        const attn_batch b = spike_batch(shape, cached, queries, targets);
        expect_matches(reference_prefill(b), run_prefill(b, 31), shape);
    }
}

void expect_invalid_argument(const std::function<void()>& call, const std::string& message_part) {
    try {
        call();
        ADD_FAILURE() << "expected llmfleet::error(invalid_argument) mentioning '" << message_part << "'";
    } catch (const llmfleet::error& e) {
        EXPECT_EQ(e.code(), llmfleet::status_code::invalid_argument) << e.what();
        EXPECT_NE(std::string(e.what()).find(message_part), std::string::npos) << e.what();
    }
}

TEST(CudaAttention, RejectsUnsupportedShapesAndMissingWorkspace) {
    device_buffer<uint16_t> buf(1 << 16);
    device_buffer<int32_t> ints(64);
    bf16* p = reinterpret_cast<bf16*>(buf.data());
    const cuda::attention_io io{p, 14 * 80 + 4 * 80, p, 14, 0.1f};
    const cuda::block_table_view tables{ints.data(), 4};
    const cuda::kv_cache_view kv80{p, p, 16, 2, 80};
    expect_invalid_argument(
        [&] { cuda::paged_attention_decode(io, kv80, tables, ints.data(), 1, 16, nullptr, nullptr); },
        "paged attention: head_dim 80 is not supported (64, 128 or 32)");
    expect_invalid_argument(
        [&] { cuda::paged_attention_prefill(io, kv80, tables, ints.data(), ints.data(), 1, 1, nullptr); },
        "head_dim 80 is not supported");
    const cuda::kv_cache_view kv3{p, p, 16, 3, 64};
    const cuda::attention_io io64{p, 20 * 64, p, 14, 0.125f};
    expect_invalid_argument(
        [&] { cuda::paged_attention_decode(io64, kv3, tables, ints.data(), 1, 16, nullptr, nullptr); },
        "multiple of n_kv_heads");
    const cuda::kv_cache_view kv2{p, p, 16, 2, 64};
    expect_invalid_argument(
        [&] { cuda::paged_attention_decode(io64, kv2, tables, ints.data(), 1, 2000, nullptr, nullptr); },
        "workspace is null");
}

} // namespace
