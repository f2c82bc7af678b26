// The in-process communicator (thread_comm.h). Shared state: one world_state per world (its failure and one mailbox
// per world rank) and one group_state per communicator group (the world's and each split's): the barrier word and
// each rank's published arguments. A collective publishes its arguments, meets the others at the barrier (enter),
// reads the peers' buffers, and meets them again (sync) before anyone may reuse what was read. The arguments and
// all_reduce's scratch are double-buffered by the parity of the collective's sequence number, so all_reduce_sum
// needs no third barrier: a rank can run ahead into the next collective while a slow peer still reads the last one.
#include "parallel/thread_comm.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <tuple>

#include "common/log.h"
#include "parallel/comm_internal.h"

namespace llmfleet::parallel {
namespace {

// Collective waits: ~2 µs of pauses (none when the ranks outnumber the cores: the peer we wait for may need this
// core), then yields for 2 ms, then 50 µs sleeps.
detail::backoff collective_backoff(int32_t n_spins) {
    return detail::backoff(n_spins, 2e-3, 50);
}

// Messages sent to one world rank, FIFO per (group id, source rank in that group, tag).
struct mailbox {
    std::mutex mutex;
    std::condition_variable arrived;
    std::map<std::tuple<uint64_t, int32_t, int32_t>, std::deque<std::vector<std::byte>>> queues; // guarded by mutex
};

struct world_state {
    explicit world_state(int32_t n_ranks) : mailboxes(static_cast<size_t>(n_ranks)) {}

    // The first failure wins; wakes every rank waiting in a recv (collective waits poll `failed`).
    void fail(const std::string& message) {
        {
            std::lock_guard lock(failure_mutex);
            if (failure_message.empty()) {
                failure_message = message;
            }
        }
        failed.store(true, std::memory_order_release);
        for (mailbox& box : mailboxes) {
            { std::lock_guard lock(box.mutex); } // a waiter between its check and its wait sees the flag
            box.arrived.notify_all();
        }
    }
    void throw_if_failed() const {
        if (failed.load(std::memory_order_acquire)) {
            std::lock_guard lock(failure_mutex);
            throw error(status_code::unavailable, failure_message);
        }
    }

    std::atomic<bool> failed{false};
    mutable std::mutex failure_mutex;
    std::string failure_message;            // "rank R failed: why"; guarded by failure_mutex, set before `failed`
    std::vector<mailbox> mailboxes;         // by world rank
    std::atomic<uint64_t> next_group_id{1}; // the world is group 0
};

struct group_state;

// What a rank publishes for one collective.
struct op_args {
    std::string_view op;                      // the collective's name: every rank must call the same one
    const void* in = nullptr;                 // all_reduce_sum: buf [count] f32; all_gather: in; broadcast: buf
    int64_t count = 0;                        // elements (all_reduce_sum) or bytes
    int32_t root = 0;                         // broadcast: root; split: color
    int32_t key = 0;                          // split: key
    const float* reduced = nullptr;           // all_reduce_sum: this rank's chunk [chunk length] f32, summed over ranks
    std::shared_ptr<group_state> split_group; // split: set by the leader of this rank's color
};

struct alignas(64) rank_slot {
    op_args args[2];                    // by collective parity; written by the owner before it enters
    std::atomic<uint64_t> n_entered{0}; // the most collectives the owner has entered: names the missing on a timeout
};

struct group_state {
    group_state(std::shared_ptr<world_state> w, std::vector<int32_t> ranks, uint64_t group_id)
        : world(std::move(w)), world_ranks(std::move(ranks)), id(group_id), slots(world_ranks.size()),
          n_spins(world_ranks.size() > std::max(1u, std::thread::hardware_concurrency()) ? 0 : 64) {}
    int32_t size() const { return static_cast<int32_t>(world_ranks.size()); }

    std::shared_ptr<world_state> world;
    std::vector<int32_t> world_ranks; // rank in this group → world rank
    uint64_t id;
    alignas(64) std::atomic<uint64_t> barrier_word{0}; // generation << 32 | ranks arrived in this generation
    alignas(64) std::vector<rank_slot> slots;          // by rank
    int32_t n_spins;                                   // pauses before a wait starts to yield
};

constexpr uint64_t arrived_mask = 0xffffffffULL;
constexpr int64_t reduce_block_floats = 2048; // 8 KiB of partial sums

// all_reduce_sum's chunk q of n elements over p ranks starts here (chunks of whole 64-byte lines: no false sharing).
int64_t chunk_begin(int64_t n, int32_t p, int32_t q) {
    const int64_t n_lines = (n + 15) / 16;
    return std::min(n, n_lines * q / p * 16);
}

// memcpy that allows empty (possibly null) ranges.
void copy_bytes(void* dst, const void* src, size_t bytes) {
    if (bytes > 0) {
        std::memcpy(dst, src, bytes);
    }
}

void add_into(float* __restrict acc, const float* __restrict x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        acc[i] += x[i];
    }
}

class thread_comm final : public communicator {
public:
    thread_comm(std::shared_ptr<group_state> group, int32_t rank, double timeout_s)
        : _group(std::move(group)), _world(*_group->world), _rank(rank), _world_rank(_group->world_ranks[rank]) {
        _timeout_s = timeout_s;
    }

    int32_t rank() const override { return _rank; }
    int32_t size() const override { return _group->size(); }
    comm_backend backend() const override { return comm_backend::threads; }

    void all_reduce_sum(float* buf, int64_t n) override {
        detail::check_buffer(buf, n, "all_reduce_sum");
        const int p = _parity;
        const int64_t begin = chunk_begin(n, size(), _rank), end = chunk_begin(n, size(), _rank + 1);
        std::vector<float>& reduced = _reduced[p];
        if (reduced.size() < static_cast<size_t>(end - begin)) {
            reduced.resize(static_cast<size_t>(end - begin)); // before entering: nothing between barriers throws
        }
        args(_rank, p).in = buf;
        args(_rank, p).reduced = reduced.data();
        enter("all_reduce_sum", n, "elements");
        // This rank's chunk, summed over ranks in rank order: ((x0 + x1) + x2) + ..., a block at a time so that
        // the partial sums stay in L1.
        for (int64_t b = begin; b < end; b += reduce_block_floats) {
            const int64_t m = std::min(reduce_block_floats, end - b);
            float* acc = reduced.data() + (b - begin);
            std::memcpy(acc, static_cast<const float*>(args(0, p).in) + b, static_cast<size_t>(m) * sizeof(float));
            for (int32_t q = 1; q < size(); ++q) {
                add_into(acc, static_cast<const float*>(args(q, p).in) + b, m);
            }
        }
        sync(); // every chunk is summed and nobody reads buf any more
        for (int32_t q = 0; q < size(); ++q) {
            const int64_t b = chunk_begin(n, size(), q), e = chunk_begin(n, size(), q + 1);
            copy_bytes(buf + b, args(q, p).reduced, static_cast<size_t>(e - b) * sizeof(float));
        }
    }

    void all_gather(const void* in, void* out, int64_t bytes_per_rank) override {
        detail::check_buffer(in, bytes_per_rank, "all_gather");
        detail::check_buffer(out, bytes_per_rank, "all_gather");
        const int p = _parity;
        args(_rank, p).in = in;
        enter("all_gather", bytes_per_rank, "bytes");
        for (int32_t q = 0; q < size(); ++q) {
            std::byte* dst = static_cast<std::byte*>(out) + q * bytes_per_rank;
            if (dst != args(q, p).in) { // in may be this rank's block of out
                copy_bytes(dst, args(q, p).in, static_cast<size_t>(bytes_per_rank));
            }
        }
        sync(); // peers have copied this rank's input
    }

    void broadcast(void* buf, int64_t bytes, int32_t root) override {
        detail::check_rank(root, size(), "broadcast", "root");
        detail::check_buffer(buf, bytes, "broadcast");
        const int p = _parity;
        args(_rank, p).in = buf;
        args(_rank, p).root = root;
        enter("broadcast", bytes, "bytes");
        for (int32_t q = 0; q < size(); ++q) {
            if (args(q, p).root != root) {
                sync();
                throw invalid_input(fmt::format("broadcast: ranks passed different roots: rank {} root {}, rank {} "
                                                "root {}",
                                                _rank, root, q, args(q, p).root));
            }
        }
        if (_rank != root && bytes > 0) {
            std::memcpy(buf, args(root, p).in, static_cast<size_t>(bytes));
        }
        sync(); // everyone has copied root's buffer
    }

    void barrier() override { enter("barrier", 0, "bytes"); }

    void send(const void* buf, int64_t bytes, int32_t dst, int32_t tag) override {
        detail::check_tag(tag, "send");
        detail::check_rank(dst, size(), "send", "dst");
        detail::check_buffer(buf, bytes, "send");
        _world.throw_if_failed();
        std::vector<std::byte> message(static_cast<size_t>(bytes));
        if (bytes > 0) {
            std::memcpy(message.data(), buf, message.size());
        }
        mailbox& box = _world.mailboxes[static_cast<size_t>(_group->world_ranks[dst])];
        {
            std::lock_guard lock(box.mutex);
            box.queues[{_group->id, _rank, tag}].push_back(std::move(message));
        }
        box.arrived.notify_all();
    }

    void recv(void* buf, int64_t bytes, int32_t src, int32_t tag, double timeout_s) override {
        detail::check_buffer(buf, bytes, "recv");
        mailbox& box = my_mailbox();
        std::unique_lock lock(box.mutex);
        auto queue = wait_for_message(lock, src, tag, timeout_s, "recv");
        std::vector<std::byte>& message = queue->second.front();
        if (static_cast<int64_t>(message.size()) != bytes) {
            throw invalid_input(fmt::format("recv from rank {} with tag {}: the message is {} bytes but the buffer "
                                            "is {} bytes; use recv_message for messages of unknown size",
                                            src, tag, message.size(), bytes));
        }
        if (bytes > 0) {
            std::memcpy(buf, message.data(), message.size());
        }
        pop(box, queue);
    }

    std::vector<std::byte> recv_message(int32_t src, int32_t tag, double timeout_s) override {
        mailbox& box = my_mailbox();
        std::unique_lock lock(box.mutex);
        auto queue = wait_for_message(lock, src, tag, timeout_s, "recv_message");
        std::vector<std::byte> message = std::move(queue->second.front());
        pop(box, queue);
        return message;
    }

    std::unique_ptr<communicator> split(int32_t color, int32_t key) override {
        if (color < 0) {
            throw invalid_input(fmt::format("split: color must be ≥ 0, got {}", color));
        }
        const int p = _parity;
        args(_rank, p).root = color;
        args(_rank, p).key = key;
        enter("split", 0, "bytes");
        // Ranks of this color, ordered by key, ties by rank; the first one makes the group. (Between the two
        // barriers only these small allocations can throw, and then the process is out of memory anyway.)
        std::vector<int32_t> members;
        for (int32_t q = 0; q < size(); ++q) {
            if (args(q, p).root == color) {
                members.push_back(q);
            }
        }
        std::stable_sort(members.begin(), members.end(),
                         [&](int32_t a, int32_t b) { return args(a, p).key < args(b, p).key; });
        if (members.front() == _rank) {
            std::vector<int32_t> world_ranks;
            for (int32_t q : members) {
                world_ranks.push_back(_group->world_ranks[q]);
            }
            auto group =
                std::make_shared<group_state>(_group->world, std::move(world_ranks), _world.next_group_id.fetch_add(1));
            for (int32_t q : members) {
                args(q, p).split_group = group;
            }
        }
        sync();
        std::shared_ptr<group_state> group = std::move(args(_rank, p).split_group);
        const auto it = std::find(members.begin(), members.end(), _rank);
        return std::make_unique<thread_comm>(std::move(group), static_cast<int32_t>(it - members.begin()),
                                             this->timeout_s());
    }

    void abort(const std::string& why) noexcept override {
        try {
            const std::string message = fmt::format("rank {} failed: {}", _world_rank, why);
            LLMFLEET_LOG_ERROR("{}", message);
            _world.fail(message);
        } catch (const std::exception& e) { // out of memory: fail the world without the message
            std::fprintf(stderr, "llmfleet: thread_comm abort: %s\n", e.what());
            _world.fail("a rank failed (its message was lost: out of memory)");
        }
    }

private:
    using queue_iterator = decltype(mailbox::queues)::iterator;

    op_args& args(int32_t q, int p) { return _group->slots[static_cast<size_t>(q)].args[p]; }
    mailbox& my_mailbox() { return _world.mailboxes[static_cast<size_t>(_world_rank)]; }
    std::atomic<uint64_t>& barrier_word() { return _group->barrier_word; }

    // Counts this rank in the current generation of the barrier; the last arrival starts the next one.
    uint64_t arrive() {
        const uint64_t word = barrier_word().fetch_add(1, std::memory_order_acq_rel);
        const uint64_t generation = word >> 32;
        if ((word & arrived_mask) + 1 == static_cast<uint64_t>(size())) {
            barrier_word().store((generation + 1) << 32, std::memory_order_release);
        }
        return generation;
    }

    // Takes this rank's arrival back unless the generation is complete (then the caller must wait it out).
    bool try_withdraw(uint64_t generation) {
        uint64_t word = barrier_word().load(std::memory_order_acquire);
        for (;;) {
            if ((word >> 32) != generation || (word & arrived_mask) == static_cast<uint64_t>(size())) {
                return false;
            }
            if (barrier_word().compare_exchange_weak(word, word - 1, std::memory_order_acq_rel)) {
                return true;
            }
        }
    }

    void wait_past(uint64_t generation) {
        detail::backoff pause = collective_backoff(_group->n_spins);
        while ((barrier_word().load(std::memory_order_acquire) >> 32) == generation) {
            pause.pause();
        }
    }

    // The first barrier of a collective, after the caller published its other arguments in args(_rank, _parity):
    // waits for every rank, or gives up (withdrawing this rank's arrival, so that nobody reads its buffers) when
    // the world fails or timeout_s() passes. Then checks that every rank called the same collective with the same
    // count, and moves to the other parity.
    void enter(std::string_view op, int64_t count, std::string_view unit) {
        _world.throw_if_failed();
        args(_rank, _parity).op = op;
        args(_rank, _parity).count = count;
        meet(op);
        check_agree(_parity, unit);
        _parity ^= 1;
    }

    void meet(std::string_view op) {
        rank_slot& slot = _group->slots[static_cast<size_t>(_rank)];
        slot.n_entered.store(++_n_entered, std::memory_order_release);
        const uint64_t generation = arrive();
        const detail::deadline limit(timeout_s());
        detail::backoff pause = collective_backoff(_group->n_spins);
        while ((barrier_word().load(std::memory_order_acquire) >> 32) == generation) {
            const bool failed = _world.failed.load(std::memory_order_acquire);
            if (failed || (!pause.spinning() && limit.expired())) {
                const std::vector<int32_t> missing = ranks_not_entered();
                if (!try_withdraw(generation)) {
                    break; // everyone arrived after all
                }
                --_n_entered; // the published count stays: this rank did arrive (it is alive), then gave up
                _world.throw_if_failed();
                throw detail::no_answer(_rank, missing, limit.timeout_s(), op);
            }
            pause.pause();
        }
        wait_past(generation);
    }

    // A later barrier of a collective: every rank has entered it and reaches this without waiting on anything.
    void sync() { wait_past(arrive()); }

    std::vector<int32_t> ranks_not_entered() const {
        std::vector<int32_t> missing;
        for (int32_t q = 0; q < size(); ++q) {
            if (_group->slots[static_cast<size_t>(q)].n_entered.load(std::memory_order_acquire) < _n_entered) {
                missing.push_back(q);
            }
        }
        return missing;
    }

    // Every rank sees the same published arguments, so either all ranks throw here (after one more barrier, which
    // they all reach) or none does. The arguments of parity p stay as they are until this rank's next collective.
    void check_agree(int p, std::string_view unit) {
        bool same_op = true, same_count = true;
        for (int32_t q = 1; q < size(); ++q) {
            same_op = same_op && args(q, p).op == args(0, p).op;
            same_count = same_count && args(q, p).count == args(0, p).count;
        }
        if (same_op && same_count) {
            return;
        }
        _parity ^= 1;
        sync();
        std::string list;
        for (int32_t q = 0; q < size(); ++q) {
            list += q == 0 ? "" : ", ";
            list += same_op ? fmt::format("rank {}: {} {}", q, args(q, p).count, unit)
                            : fmt::format("rank {}: {}", q, args(q, p).op);
        }
        if (!same_op) {
            throw invalid_input(fmt::format("ranks called different collectives ({}); every rank must call the "
                                            "same collectives in the same order",
                                            list));
        }
        throw invalid_input(fmt::format("{}: ranks passed different sizes ({})", args(_rank, p).op, list));
    }

    queue_iterator wait_for_message(std::unique_lock<std::mutex>& lock, int32_t src, int32_t tag, double timeout_s,
                                    std::string_view op) {
        detail::check_tag(tag, op);
        detail::check_rank(src, size(), op, "src");
        mailbox& box = my_mailbox();
        const auto key = std::make_tuple(_group->id, src, tag);
        queue_iterator queue = box.queues.end();
        const auto ready = [&] {
            queue = box.queues.find(key);
            return _world.failed.load(std::memory_order_acquire) ||
                   (queue != box.queues.end() && !queue->second.empty());
        };
        const double limit_s = detail::recv_timeout_s(timeout_s, this->timeout_s());
        if (limit_s < 0) {
            box.arrived.wait(lock, ready);
        } else if (!box.arrived.wait_for(lock, std::chrono::duration<double>(limit_s), ready)) {
            throw detail::no_answer(_rank, {src}, limit_s, fmt::format("{} with tag {}", op, tag));
        }
        _world.throw_if_failed();
        return queue;
    }

    static void pop(mailbox& box, queue_iterator queue) {
        queue->second.pop_front();
        if (queue->second.empty()) {
            box.queues.erase(queue);
        }
    }

    std::shared_ptr<group_state> _group;
    world_state& _world;
    int32_t _rank;
    int32_t _world_rank;
    uint64_t _n_entered = 0;        // collectives entered (and not withdrawn)
    int _parity = 0;                // which op_args / _reduced the next collective uses
    std::vector<float> _reduced[2]; // all_reduce_sum: this rank's summed chunk, by parity
};

} // namespace

std::vector<std::unique_ptr<communicator>> make_thread_world(int32_t n_ranks, double timeout_s) {
    if (n_ranks < 1) {
        throw invalid_input(fmt::format("make_thread_world: n_ranks must be ≥ 1, got {}", n_ranks));
    }
    auto world = std::make_shared<world_state>(n_ranks);
    std::vector<int32_t> world_ranks(static_cast<size_t>(n_ranks));
    std::iota(world_ranks.begin(), world_ranks.end(), 0);
    auto group = std::make_shared<group_state>(world, std::move(world_ranks), 0);
    std::vector<std::unique_ptr<communicator>> comms;
    for (int32_t r = 0; r < n_ranks; ++r) {
        comms.push_back(std::make_unique<thread_comm>(group, r, timeout_s));
    }
    return comms;
}

} // namespace llmfleet::parallel
