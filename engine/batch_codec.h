// A forward_batch on the wire and in pieces: rank 0 encodes each step's batch into one message for the other
// ranks of a tensor/pipeline-parallel engine, and every rank splits it the same way into pipeline micro-batches
// (consecutive sequences, balanced by tokens), so that stage s can work on micro-batch m while stage s + 1
// works on m − 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/model_runner.h"

namespace llmfleet::engine {

// A decoded batch owns its block tables (the batch's spans point into `tables`).
struct owned_batch {
    forward_batch batch;
    std::vector<int32_t> tables; // every sequence's block table, concatenated
};

// bytes ← batch (appended after `out`'s first `header_bytes` bytes, which the caller fills).
void encode_batch(const forward_batch& batch, std::vector<std::byte>& out, size_t header_bytes);
// The batch encoded at bytes[offset..]; throws invalid_argument on a truncated or inconsistent message.
void decode_batch(std::span<const std::byte> bytes, size_t offset, owned_batch& out);

// One micro-batch: sequences [seq_begin, seq_end) of the step's batch as a batch of its own (token indices,
// token_seq and logits_indices rebased), and where its rows sit in the step's logits.
struct micro_batch {
    int32_t seq_begin = 0, seq_end = 0;
    int32_t token_begin = 0;  // its first token in the step's batch
    int32_t logits_begin = 0; // its first logits row in the step's logits
    forward_batch batch;      // block_tables are views of the step batch's tables
};

// Splits batch into min(n_micro, n_seqs) micro-batches of consecutive sequences with about equal tokens
// (every one non-empty). n_micro ≤ 1 gives one micro-batch: the whole batch. out is reused.
void split_micro_batches(const forward_batch& batch, int32_t n_micro, std::vector<micro_batch>& out);

} // namespace llmfleet::engine
