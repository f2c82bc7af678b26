// Sampling on the GPU: each logits row becomes one token id, so only ids come back to the host. Supports what
// the engine sends to the device (sequence_sampler::device_row in engine/sampler.h decides): temperature (0 →
// greedy), top-k, top-p and min-p with a per-request seed. The kept set is the one kernels::ref::sample_row defines
// (the reference this kernel is tested against): the k most likely (ties → lowest ids), then the smallest prefix of
// "p descending, id ascending" whose mass ≥ top_p of the remaining mass, then p ≥ min_p · p_max; one inverse-CDF
// draw over the kept tokens in id order with u = sampling_uniform(seed, offset) (kernels/ref/sampling.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ref/sampling.h"

namespace llmfleet::kernels::cuda {

// Bytes of scratch sample() needs for n_rows rows of vocab logits (0 today: the kernel recomputes p per pass).
// Throws llmfleet::error (invalid_argument) unless n_rows ≥ 0 and vocab ≥ 1.
int64_t sampling_workspace_bytes(int32_t n_rows, int32_t vocab);

// logits [n_rows, vocab] f32 (device, not modified); rows [n_rows] (device); tokens [n_rows] int32 (device);
// workspace: sampling_workspace_bytes(n_rows, vocab) bytes (device; may be null when that is 0). Asynchronous on
// stream, no allocation or host sync (CUDA-graph capturable). A row outside the contract of ref::sample_row (a NaN
// or +inf logit, or every logit −inf) gets token −1: the kernel cannot throw, and −1 is never a valid id.
void sample(const float* logits, const ref::sampling_row* rows, int32_t n_rows, int32_t vocab, int32_t* tokens,
            void* workspace, cudaStream_t stream);

} // namespace llmfleet::kernels::cuda
