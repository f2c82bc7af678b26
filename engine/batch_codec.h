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
#include "parallel/communicator.h"

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

// Rank 0's commands to the other ranks of a parallel engine, on the world's point-to-point tag tag_command: a
// step (the encoded batch) or stop. Shared by the CPU parallel_runner and the CUDA tensor-parallel runner.
constexpr int32_t tag_command = 1;
enum class step_command : int64_t { forward = 1, stop = 2 };
constexpr size_t command_header_bytes = sizeof(int64_t);

// Sends `c` (with the batch encoded after the header by encode_batch, for forward) to ranks 1 … size − 1.
void send_step_command(parallel::communicator& world, step_command c, std::vector<std::byte>& message);
// A follower's next command from rank 0 (waiting without limit): true and the batch for forward, false for stop.
// Throws invalid_argument on a malformed message.
bool receive_step_command(parallel::communicator& world, owned_batch& step);

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
