// See batch_codec.h. Wire format (host byte order: every rank runs the same binary on the same kind of host):
//   int64 n_tokens, n_seqs, n_logits, n_table_ints
//   int32 token_ids[n_tokens], positions[n_tokens], slot_mapping[n_tokens], token_seq[n_tokens],
//         seq_token_starts[n_seqs + 1], logits_indices[n_logits], table_lengths[n_seqs], tables[n_table_ints]
#include "engine/batch_codec.h"

#include <fmt/core.h>

#include <cstring>

#include "common/check.h"
#include "common/error.h"

namespace llmfleet::engine {

namespace {

void put(std::vector<std::byte>& out, const void* data, size_t bytes) {
    const size_t at = out.size();
    out.resize(at + bytes);
    if (bytes > 0) {
        std::memcpy(out.data() + at, data, bytes);
    }
}

void put_ints(std::vector<std::byte>& out, std::span<const int32_t> v) {
    put(out, v.data(), v.size_bytes());
}

class reader {
public:
    reader(std::span<const std::byte> bytes, size_t offset) : _bytes(bytes), _at(offset) {}
    void get(void* out, size_t bytes) {
        if (_at + bytes > _bytes.size()) {
            throw invalid_input(fmt::format("batch message of {} bytes is truncated: needs {} at offset {}",
                                            _bytes.size(), bytes, _at));
        }
        if (bytes > 0) {
            std::memcpy(out, _bytes.data() + _at, bytes);
        }
        _at += bytes;
    }
    void get_ints(std::vector<int32_t>& v, int64_t n) {
        if (n < 0 || static_cast<size_t>(n) > (_bytes.size() - std::min(_at, _bytes.size())) / sizeof(int32_t)) {
            throw invalid_input(fmt::format("batch message: {} ints do not fit its {} bytes", n, _bytes.size()));
        }
        v.resize(static_cast<size_t>(n));
        get(v.data(), static_cast<size_t>(n) * sizeof(int32_t));
    }

private:
    std::span<const std::byte> _bytes;
    size_t _at;
};

} // namespace

void encode_batch(const forward_batch& b, std::vector<std::byte>& out, size_t header_bytes) {
    out.resize(header_bytes);
    int64_t n_table_ints = 0;
    for (const auto& t : b.block_tables) {
        n_table_ints += static_cast<int64_t>(t.size());
    }
    const int64_t counts[4] = {b.n_tokens(), b.n_seqs(), static_cast<int64_t>(b.logits_indices.size()), n_table_ints};
    put(out, counts, sizeof counts);
    put_ints(out, b.token_ids);
    put_ints(out, b.positions);
    put_ints(out, b.slot_mapping);
    put_ints(out, b.token_seq);
    put_ints(out, b.seq_token_starts);
    put_ints(out, b.logits_indices);
    for (const auto& t : b.block_tables) {
        const auto len = static_cast<int32_t>(t.size());
        put(out, &len, sizeof len);
    }
    for (const auto& t : b.block_tables) {
        put_ints(out, t);
    }
}

void decode_batch(std::span<const std::byte> bytes, size_t offset, owned_batch& out) {
    reader r(bytes, offset);
    int64_t counts[4];
    r.get(counts, sizeof counts);
    const auto [n_tokens, n_seqs, n_logits, n_table_ints] = counts;
    forward_batch& b = out.batch;
    r.get_ints(b.token_ids, n_tokens);
    r.get_ints(b.positions, n_tokens);
    r.get_ints(b.slot_mapping, n_tokens);
    r.get_ints(b.token_seq, n_tokens);
    r.get_ints(b.seq_token_starts, n_seqs + 1);
    r.get_ints(b.logits_indices, n_logits);
    std::vector<int32_t> lengths;
    r.get_ints(lengths, n_seqs);
    r.get_ints(out.tables, n_table_ints);
    b.block_tables.clear();
    int64_t at = 0;
    for (const int32_t len : lengths) {
        if (len < 0 || at + len > n_table_ints) {
            throw invalid_input(
                fmt::format("batch message: block table lengths exceed the {} table ints", n_table_ints));
        }
        b.block_tables.emplace_back(out.tables.data() + at, static_cast<size_t>(len));
        at += len;
    }
}

void split_micro_batches(const forward_batch& batch, int32_t n_micro, std::vector<micro_batch>& out) {
    const int32_t n_seqs = batch.n_seqs(), n_tokens = batch.n_tokens();
    const int32_t m = std::max(1, std::min(n_micro, n_seqs));
    out.resize(static_cast<size_t>(m));
    int32_t seq = 0, logits_row = 0;
    for (int32_t i = 0; i < m; ++i) {
        micro_batch& mb = out[static_cast<size_t>(i)];
        mb.seq_begin = seq;
        mb.token_begin = batch.seq_token_starts[static_cast<size_t>(seq)];
        // Take sequences until this micro-batch reaches its share of the tokens, leaving one per later one.
        const int64_t target = static_cast<int64_t>(n_tokens) * (i + 1) / m;
        do {
            ++seq;
        } while (seq < n_seqs - (m - 1 - i) && batch.seq_token_starts[static_cast<size_t>(seq)] < target);
        if (i == m - 1) {
            seq = n_seqs;
        }
        mb.seq_end = seq;
        const int32_t t0 = mb.token_begin, t1 = batch.seq_token_starts[static_cast<size_t>(seq)];
        forward_batch& b = mb.batch;
        b.clear();
        b.token_ids.assign(batch.token_ids.begin() + t0, batch.token_ids.begin() + t1);
        b.positions.assign(batch.positions.begin() + t0, batch.positions.begin() + t1);
        b.slot_mapping.assign(batch.slot_mapping.begin() + t0, batch.slot_mapping.begin() + t1);
        for (int32_t t = t0; t < t1; ++t) {
            b.token_seq.push_back(batch.token_seq[static_cast<size_t>(t)] - mb.seq_begin);
        }
        for (int32_t s = mb.seq_begin; s < mb.seq_end; ++s) {
            b.seq_token_starts.push_back(batch.seq_token_starts[static_cast<size_t>(s) + 1] - t0);
            b.block_tables.push_back(batch.block_tables[static_cast<size_t>(s)]);
        }
        mb.logits_begin = logits_row;
        while (logits_row < static_cast<int32_t>(batch.logits_indices.size()) &&
               batch.logits_indices[static_cast<size_t>(logits_row)] < t1) {
            LLMFLEET_CHECK(batch.logits_indices[static_cast<size_t>(logits_row)] >= t0,
                           "logits_indices are not in token order");
            b.logits_indices.push_back(batch.logits_indices[static_cast<size_t>(logits_row)] - t0);
            ++logits_row;
        }
    }
}

void send_step_command(parallel::communicator& world, step_command c, std::vector<std::byte>& message) {
    std::memcpy(message.data(), &c, sizeof c);
    for (int32_t r = 1; r < world.size(); ++r) {
        world.send(message.data(), static_cast<int64_t>(message.size()), r, tag_command);
    }
}

bool receive_step_command(parallel::communicator& world, owned_batch& step) {
    const std::vector<std::byte> message = world.recv_message(0, tag_command, parallel::wait_forever_s);
    step_command c{};
    if (message.size() < command_header_bytes) {
        throw invalid_input(fmt::format("command message of {} bytes from rank 0", message.size()));
    }
    std::memcpy(&c, message.data(), sizeof c);
    if (c == step_command::stop) {
        return false;
    }
    decode_batch(message, command_header_bytes, step);
    return true;
}

} // namespace llmfleet::engine
