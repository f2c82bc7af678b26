// The MPI communicator (mpi_comm.h). Every operation is non-blocking MPI polled by one loop (poll) that also serves
// the internal messages, which travel on a second duplicate of MPI_COMM_WORLD shared by the world and its splits:
//   tag_abort  any rank → world rank 0: "rank R failed: why" from abort(); rank 0 throws unavailable with it;
//   tag_query  "how many collectives have you entered on communicator K?", answered with tag_reply: how a rank
//              whose collective timed out learns which peers had not arrived (those that do not answer, or are
//              behind).
#include "parallel/mpi_comm.h"

#include <fmt/core.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/hash.h"
#include "common/log.h"
#include "parallel/comm_internal.h"

namespace llmfleet::parallel {
namespace {

constexpr int tag_abort = detail::max_user_tag;
constexpr int tag_query = detail::max_user_tag + 1;
constexpr int tag_reply = detail::max_user_tag + 2;
constexpr double abort_grace_s = 2;         // how long abort() leaves rank 0 to report before MPI_Abort
constexpr double query_answer_wait_s = 0.1; // how long a timed-out rank waits for its peers' answers
constexpr size_t abort_message_max_bytes = 4000;

// Polls: 200 back-to-back tests, then yields (a test at each) for 1 ms or, for a large message, as long as it would
// take at 100 MB/s, then 50 µs sleeps. MPI moves a large message in fragments, each when both sides are inside MPI:
// sleeping between polls while data still flows would slow it down many times.
detail::backoff poll_backoff(int64_t bytes) {
    return detail::backoff(200, std::max(1e-3, static_cast<double>(bytes) * 1e-8), 50);
}

std::string mpi_error_text(int rc) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    return std::string(text, static_cast<size_t>(length));
}

void check_mpi(int rc, std::string_view what) {
    if (rc != MPI_SUCCESS) {
        throw error(status_code::unavailable, fmt::format("{} failed: {}", what, mpi_error_text(rc)));
    }
}

bool mpi_running() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized != 0 && finalized == 0;
}

void check_int_count(int64_t count, std::string_view op) {
    if (count > INT_MAX) {
        throw invalid_input(
            fmt::format("{}: {} elements is more than an MPI count holds ({}); split the message", op, count, INT_MAX));
    }
}

// Process-wide state: the first failure seen here, and how far each live communicator is (for the queries).
struct process_state {
    std::mutex mutex;
    std::atomic<bool> failed{false};
    std::string failure;                                      // guarded by mutex; set before `failed`
    std::map<uint64_t, const std::atomic<int64_t>*> progress; // communicator key → collectives entered; by mutex
    uint64_t n_worlds = 0;                                    // make_mpi_world calls: the same count on every rank
    std::atomic<uint64_t> next_query_id{1};
};

process_state& process() {
    static process_state state;
    return state;
}

void record_failure(const std::string& message) {
    process_state& p = process();
    std::lock_guard lock(p.mutex);
    if (p.failure.empty()) {
        p.failure = message;
    }
    p.failed.store(true, std::memory_order_release);
}

void throw_if_failed() {
    process_state& p = process();
    if (p.failed.load(std::memory_order_acquire)) {
        std::lock_guard lock(p.mutex);
        throw error(status_code::unavailable, p.failure);
    }
}

int64_t progress_of(uint64_t key) {
    process_state& p = process();
    std::lock_guard lock(p.mutex);
    const auto it = p.progress.find(key);
    return it == p.progress.end() ? -1 : it->second->load(std::memory_order_acquire);
}

// The duplicate of MPI_COMM_WORLD that carries the internal messages of a world and its splits.
struct world_handle {
    MPI_Comm comm = MPI_COMM_NULL;
    int32_t rank = 0;
    ~world_handle() {
        if (comm != MPI_COMM_NULL && mpi_running()) {
            MPI_Comm_free(&comm);
        }
    }
};

// A send (or an operation that timed out) whose buffer MPI may still use.
struct pending_op {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<std::byte> buffer; // owned data, if any (moving the vector keeps its storage)
};

bool test(MPI_Request& request) {
    int done = 0;
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
}

class mpi_comm final : public communicator {
public:
    mpi_comm(MPI_Comm comm, std::shared_ptr<world_handle> world, uint64_t key, double timeout_s)
        : _comm(comm), _world(std::move(world)), _key(key) {
        _timeout_s = timeout_s;
        MPI_Comm_set_errhandler(_comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(_comm, &_rank);
        MPI_Comm_size(_comm, &_size);
        // rank → world rank, to address the internal messages
        MPI_Group group = MPI_GROUP_NULL, world_group = MPI_GROUP_NULL;
        MPI_Comm_group(_comm, &group);
        MPI_Comm_group(_world->comm, &world_group);
        std::vector<int> ranks(static_cast<size_t>(_size));
        for (int q = 0; q < _size; ++q) {
            ranks[static_cast<size_t>(q)] = q;
        }
        _world_ranks.resize(ranks.size());
        MPI_Group_translate_ranks(group, _size, ranks.data(), world_group, _world_ranks.data());
        MPI_Group_free(&group);
        MPI_Group_free(&world_group);
        std::lock_guard lock(process().mutex);
        process().progress[_key] = &_n_collectives;
    }

    ~mpi_comm() override {
        {
            std::lock_guard lock(process().mutex);
            process().progress.erase(_key);
        }
        if (!mpi_running()) {
            LLMFLEET_LOG_WARN("an MPI communicator outlived its mpi_session; its MPI handles are lost");
            return;
        }
        finish_pending_ops();
        MPI_Comm_free(&_comm);
    }

    int32_t rank() const override { return _rank; }
    int32_t size() const override { return _size; }
    comm_backend backend() const override { return comm_backend::mpi; }

    void all_reduce_sum(float* buf, int64_t n) override {
        detail::check_buffer(buf, n, "all_reduce_sum");
        check_int_count(n, "all_reduce_sum");
        begin_collective("all_reduce_sum");
        MPI_Request request = MPI_REQUEST_NULL;
        check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buf, static_cast<int>(n), MPI_FLOAT, MPI_SUM, _comm, &request),
                  "MPI_Iallreduce");
        wait_collective(request, "all_reduce_sum", n * static_cast<int64_t>(sizeof(float)));
    }

    void all_gather(const void* in, void* out, int64_t bytes_per_rank) override {
        detail::check_buffer(in, bytes_per_rank, "all_gather");
        detail::check_buffer(out, bytes_per_rank, "all_gather");
        check_int_count(bytes_per_rank, "all_gather");
        begin_collective("all_gather");
        // MPI forbids aliasing: an input that is already this rank's block of out is MPI_IN_PLACE.
        const void* send = in == static_cast<std::byte*>(out) + _rank * bytes_per_rank ? MPI_IN_PLACE : in;
        const int count = static_cast<int>(bytes_per_rank);
        MPI_Request request = MPI_REQUEST_NULL;
        check_mpi(MPI_Iallgather(send, count, MPI_BYTE, out, count, MPI_BYTE, _comm, &request), "MPI_Iallgather");
        wait_collective(request, "all_gather", bytes_per_rank * _size);
    }

    void broadcast(void* buf, int64_t bytes, int32_t root) override {
        detail::check_rank(root, _size, "broadcast", "root");
        detail::check_buffer(buf, bytes, "broadcast");
        check_int_count(bytes, "broadcast");
        begin_collective("broadcast");
        MPI_Request request = MPI_REQUEST_NULL;
        check_mpi(MPI_Ibcast(buf, static_cast<int>(bytes), MPI_BYTE, root, _comm, &request), "MPI_Ibcast");
        wait_collective(request, "broadcast", bytes);
    }

    void barrier() override {
        begin_collective("barrier");
        MPI_Request request = MPI_REQUEST_NULL;
        check_mpi(MPI_Ibarrier(_comm, &request), "MPI_Ibarrier");
        wait_collective(request, "barrier");
    }

    void send(const void* buf, int64_t bytes, int32_t dst, int32_t tag) override {
        detail::check_tag(tag, "send");
        detail::check_rank(dst, _size, "send", "dst");
        detail::check_buffer(buf, bytes, "send");
        check_int_count(bytes, "send");
        throw_if_failed();
        reap_sends();
        pending_op op;
        op.buffer.resize(static_cast<size_t>(bytes));
        if (bytes > 0) {
            std::memcpy(op.buffer.data(), buf, op.buffer.size());
        }
        check_mpi(MPI_Isend(op.buffer.data(), static_cast<int>(bytes), MPI_BYTE, dst, tag, _comm, &op.request),
                  "MPI_Isend");
        _sends.push_back(std::move(op));
    }

    void recv(void* buf, int64_t bytes, int32_t src, int32_t tag, double timeout_s) override {
        detail::check_buffer(buf, bytes, "recv");
        const detail::deadline limit = begin_recv(src, tag, timeout_s, "recv");
        // Probe first (the message stays queued), so that a size mismatch leaves it for a recv_message.
        MPI_Status status;
        int found = 0;
        const auto probe = [&] {
            check_mpi(MPI_Iprobe(src, tag, _comm, &found, &status), "MPI_Iprobe");
            return found != 0;
        };
        if (!poll(probe, limit)) {
            throw detail::no_answer(_rank, {src}, limit.timeout_s(), fmt::format("recv with tag {}", tag));
        }
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        if (count != bytes) {
            throw invalid_input(fmt::format("recv from rank {} with tag {}: the message is {} bytes but the buffer "
                                            "is {} bytes; use recv_message for messages of unknown size",
                                            src, tag, count, bytes));
        }
        pending_op op;
        check_mpi(MPI_Irecv(buf, count, MPI_BYTE, src, tag, _comm, &op.request), "MPI_Irecv");
        wait_p2p(op, limit, count, src, tag, "recv");
    }

    std::vector<std::byte> recv_message(int32_t src, int32_t tag, double timeout_s) override {
        const detail::deadline limit = begin_recv(src, tag, timeout_s, "recv_message");
        MPI_Message message = MPI_MESSAGE_NULL;
        MPI_Status status;
        int found = 0;
        const auto probe = [&] {
            check_mpi(MPI_Improbe(src, tag, _comm, &found, &message, &status), "MPI_Improbe");
            return found != 0;
        };
        if (!poll(probe, limit)) {
            throw detail::no_answer(_rank, {src}, limit.timeout_s(), fmt::format("recv_message with tag {}", tag));
        }
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        pending_op op;
        op.buffer.resize(static_cast<size_t>(count));
        check_mpi(MPI_Imrecv(op.buffer.data(), count, MPI_BYTE, &message, &op.request), "MPI_Imrecv");
        wait_p2p(op, limit, count, src, tag, "recv_message");
        return std::move(op.buffer);
    }

    std::unique_ptr<communicator> split(int32_t color, int32_t key) override {
        if (color < 0) {
            throw invalid_input(fmt::format("split: color must be ≥ 0, got {}", color));
        }
        // MPI_Comm_split blocks: meet at a barrier under the deadline first, so a dead peer cannot hang it.
        begin_collective("split");
        MPI_Request request = MPI_REQUEST_NULL;
        check_mpi(MPI_Ibarrier(_comm, &request), "MPI_Ibarrier");
        wait_collective(request, "split");
        MPI_Comm child = MPI_COMM_NULL;
        check_mpi(MPI_Comm_split(_comm, color, key, &child), "MPI_Comm_split");
        // The same key on every member: the parent's, its split count (splits are collective) and the color.
        const uint64_t child_key = mix64(_key ^ splitmix64(++_n_splits) ^ mix64(static_cast<uint64_t>(color) + 1));
        return std::make_unique<mpi_comm>(child, _world, child_key, this->timeout_s());
    }

    void abort(const std::string& why) noexcept override {
        try {
            std::string message = fmt::format("rank {} failed: {}", _world->rank, why);
            message.resize(std::min(message.size(), abort_message_max_bytes));
            record_failure(message);
            LLMFLEET_LOG_ERROR("{}; ending the MPI job in {:g} s", message, abort_grace_s);
            const double end_s = detail::now_s() + abort_grace_s;
            MPI_Request request = MPI_REQUEST_NULL;
            if (_world->rank != 0 && MPI_Isend(message.data(), static_cast<int>(message.size()), MPI_CHAR, 0, tag_abort,
                                               _world->comm, &request) == MPI_SUCCESS) {
                int done = 0;
                while (done == 0 && detail::now_s() < end_s &&
                       MPI_Test(&request, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            }
            std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, end_s - detail::now_s())));
        } catch (const std::exception& e) {
            LLMFLEET_LOG_ERROR("abort: could not tell rank 0 ({}); ending the MPI job", e.what());
        }
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

private:
    void begin_collective(std::string_view op) {
        if (!_broken_by.empty()) {
            throw error(status_code::unavailable,
                        fmt::format("rank {}: {}: this communicator is unusable since {} timed out (MPI cannot "
                                    "cancel a collective); abort() it",
                                    _rank, op, _broken_by));
        }
        throw_if_failed();
        reap_sends();
        _n_collectives.fetch_add(1, std::memory_order_acq_rel);
    }

    detail::deadline begin_recv(int32_t src, int32_t tag, double timeout_s, std::string_view op) {
        detail::check_tag(tag, op);
        detail::check_rank(src, _size, op, "src");
        throw_if_failed();
        reap_sends();
        return detail::deadline(detail::recv_timeout_s(timeout_s, this->timeout_s()));
    }

    // Polls ready() until it is true (→ true) or limit passes (→ false). After the first spins, each poll also
    // serves the internal messages, which throws unavailable once a failure is known. bytes: what the operation
    // moves (sets how long the back-off keeps polling before it sleeps).
    template <typename Ready> bool poll(Ready&& ready, const detail::deadline& limit, int64_t bytes = 0) {
        detail::backoff pause = poll_backoff(bytes);
        for (;;) {
            if (ready()) {
                return true;
            }
            if (!pause.spinning()) {
                serve();
                if (limit.expired()) {
                    return false;
                }
            }
            pause.pause();
        }
    }

    void wait_collective(MPI_Request& request, std::string_view op, int64_t bytes = 0) {
        const detail::deadline limit(timeout_s());
        if (poll([&] { return test(request); }, limit, bytes)) {
            return;
        }
        _broken_by = std::string(op);
        _abandoned.push_back(pending_op{request, {}});
        const std::vector<int32_t> missing = ranks_not_entered();
        if (missing.empty()) {
            throw error(status_code::deadline_exceeded,
                        fmt::format("rank {}: {} did not complete within {:g} s although every rank has entered it",
                                    _rank, op, limit.timeout_s()));
        }
        throw detail::no_answer(_rank, missing, limit.timeout_s(), op);
    }

    // Waits for a receive; on a timeout or a failure it cancels the receive (or, once matched, keeps it pending
    // with its buffer) and throws.
    void wait_p2p(pending_op& op, const detail::deadline& limit, int64_t bytes, int32_t src, int32_t tag,
                  std::string_view what) {
        bool done = false;
        try {
            done = poll([&] { return test(op.request); }, limit, bytes);
        } catch (const error&) {
            give_up(op);
            throw;
        }
        if (!done) {
            if (!give_up(op)) {
                return; // it completed while being cancelled
            }
            throw detail::no_answer(_rank, {src}, limit.timeout_s(), fmt::format("{} with tag {}", what, tag));
        }
    }

    // Cancels a pending receive; false when it had completed after all.
    bool give_up(pending_op& op) {
        MPI_Cancel(&op.request);
        const detail::deadline limit(1);
        MPI_Status status;
        int done = 0;
        while (MPI_Test(&op.request, &done, &status) == MPI_SUCCESS && done == 0 && !limit.expired()) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        if (done == 0) {
            _abandoned.push_back(std::move(op));
            return true;
        }
        int cancelled = 0;
        MPI_Test_cancelled(&status, &cancelled);
        return cancelled != 0;
    }

    // Answers the peers' progress queries and (on world rank 0) takes abort messages; throws unavailable once a
    // failure is known.
    void serve() {
        int found = 0;
        MPI_Message message = MPI_MESSAGE_NULL;
        MPI_Status status;
        if (_world->rank == 0) {
            check_mpi(MPI_Improbe(MPI_ANY_SOURCE, tag_abort, _world->comm, &found, &message, &status), "MPI_Improbe");
            if (found != 0) {
                int count = 0;
                MPI_Get_count(&status, MPI_CHAR, &count);
                std::string text(static_cast<size_t>(count), '\0');
                check_mpi(MPI_Mrecv(text.data(), count, MPI_CHAR, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
                LLMFLEET_LOG_ERROR("{}", text);
                record_failure(text);
            }
        }
        for (;;) {
            check_mpi(MPI_Improbe(MPI_ANY_SOURCE, tag_query, _world->comm, &found, &message, &status), "MPI_Improbe");
            if (found == 0) {
                break;
            }
            uint64_t query[2] = {0, 0}; // communicator key, query id
            check_mpi(MPI_Mrecv(query, 2, MPI_UINT64_T, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
            const int64_t answer[2] = {static_cast<int64_t>(query[1]), progress_of(query[0])};
            send_internal(answer, sizeof(answer), status.MPI_SOURCE, tag_reply);
        }
        throw_if_failed();
    }

    void send_internal(const void* data, size_t bytes, int32_t world_dst, int tag) {
        pending_op op;
        op.buffer.resize(bytes);
        std::memcpy(op.buffer.data(), data, bytes);
        check_mpi(
            MPI_Isend(op.buffer.data(), static_cast<int>(bytes), MPI_BYTE, world_dst, tag, _world->comm, &op.request),
            "MPI_Isend");
        _sends.push_back(std::move(op));
    }

    // After a collective timed out: asks every peer how many collectives it has entered on this communicator
    // and returns the ranks that are behind or did not answer within query_answer_wait_s.
    std::vector<int32_t> ranks_not_entered() {
        const uint64_t query_id = process().next_query_id.fetch_add(1);
        const int64_t seq = _n_collectives.load(std::memory_order_acquire);
        for (int32_t q = 0; q < _size; ++q) {
            if (q != _rank) {
                const uint64_t query[2] = {_key, query_id};
                send_internal(query, sizeof(query), _world_ranks[static_cast<size_t>(q)], tag_query);
            }
        }
        std::vector<int64_t> progress(static_cast<size_t>(_size), -1);
        progress[static_cast<size_t>(_rank)] = seq;
        int32_t n_answers = 0;
        const detail::deadline limit(query_answer_wait_s);
        while (n_answers < _size - 1 && !limit.expired()) {
            serve();
            int found = 0;
            MPI_Message message = MPI_MESSAGE_NULL;
            MPI_Status status;
            check_mpi(MPI_Improbe(MPI_ANY_SOURCE, tag_reply, _world->comm, &found, &message, &status), "MPI_Improbe");
            if (found == 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                continue;
            }
            int64_t answer[2] = {0, 0}; // query id, collectives entered
            check_mpi(MPI_Mrecv(answer, 2, MPI_INT64_T, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
            const auto it = std::find(_world_ranks.begin(), _world_ranks.end(), status.MPI_SOURCE);
            if (answer[0] == static_cast<int64_t>(query_id) && it != _world_ranks.end()) {
                progress[static_cast<size_t>(it - _world_ranks.begin())] = answer[1];
                ++n_answers;
            }
        }
        std::vector<int32_t> missing;
        for (int32_t q = 0; q < _size; ++q) {
            if (progress[static_cast<size_t>(q)] < seq) {
                missing.push_back(q);
            }
        }
        return missing;
    }

    void reap_sends() {
        std::erase_if(_sends, [](pending_op& op) { return test(op.request); });
    }

    // The destructor's: completes the sends and timed-out operations within timeout_s(), else leaks their
    // buffers (MPI may still read or write them).
    void finish_pending_ops() noexcept {
        const detail::deadline limit(timeout_s());
        const auto done = [](pending_op& op) {
            int finished = 0;
            return MPI_Test(&op.request, &finished, MPI_STATUS_IGNORE) != MPI_SUCCESS || finished != 0;
        };
        while (!limit.expired()) {
            std::erase_if(_sends, done);
            std::erase_if(_abandoned, done);
            if (_sends.empty() && _abandoned.empty()) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        LLMFLEET_LOG_WARN("rank {}: {} sends and {} timed-out operations did not complete within {:g} s; leaving "
                          "them to MPI",
                          _rank, _sends.size(), _abandoned.size(), timeout_s());
        for (pending_op& op : _sends) {
            MPI_Request_free(&op.request);
        }
        for (pending_op& op : _sends) {
            new std::vector<std::byte>(std::move(op.buffer)); // leaked on purpose: MPI may still read it
        }
        for (pending_op& op : _abandoned) {
            new pending_op(std::move(op)); // a collective's request cannot be freed
        }
    }

    MPI_Comm _comm;
    std::shared_ptr<world_handle> _world;
    uint64_t _key; // the same on every rank of this communicator, unique in the process
    int _rank = 0;
    int _size = 1;
    std::vector<int> _world_ranks;          // rank → world rank
    std::atomic<int64_t> _n_collectives{0}; // collectives entered (read by serve() for peers' queries)
    uint64_t _n_splits = 0;
    std::string _broken_by;            // the collective that timed out, if one did
    std::deque<pending_op> _sends;     // sends (and query answers) not yet complete
    std::deque<pending_op> _abandoned; // receives and collectives that timed out
};

} // namespace

bool mpi_comm_built() {
    return true;
}

mpi_session::mpi_session() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized != 0) {
        throw invalid_input("mpi_session: MPI is already initialized; create one mpi_session per process (MPI cannot "
                            "start again after MPI_Finalize)");
    }
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        throw error(status_code::unavailable,
                    fmt::format("mpi_session: the MPI library grants thread level {} but llmfleet needs at least "
                                "MPI_THREAD_SERIALIZED ({}); use an MPI built with thread support",
                                provided, MPI_THREAD_SERIALIZED));
    }
    _thread_multiple = provided == MPI_THREAD_MULTIPLE;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &_world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &_world_size);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    _library_version = std::string(version, static_cast<size_t>(length));
    _library_version = _library_version.substr(0, _library_version.find_first_of(",\n"));
}

mpi_session::~mpi_session() {
    if (mpi_running()) {
        MPI_Finalize();
    }
}

std::unique_ptr<communicator> make_mpi_world(double timeout_s) {
    if (!mpi_running()) {
        throw invalid_input("make_mpi_world: MPI is not running; create an mpi_session in main() first");
    }
    auto world = std::make_shared<world_handle>();
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &world->comm), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(world->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(world->comm, &world->rank);
    MPI_Comm comm = MPI_COMM_NULL; // the user's traffic, apart from the internal messages on world->comm
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
    uint64_t key = 0;
    {
        std::lock_guard lock(process().mutex);
        key = mix64(++process().n_worlds);
    }
    return std::make_unique<mpi_comm>(comm, std::move(world), key, timeout_s);
}

} // namespace llmfleet::parallel
