// The NCCL communicator's internals, shared by its sources (not part of the API: nccl_comm.h is): the
// communicator class, its channels and device blocks, and the world state its splits share. Split by role:
// nccl_comm.cpp (lifecycle, failures, waits, split, abort), nccl_collectives.cpp (buffer staging, collectives),
// nccl_p2p.cpp (the message protocol: send, recv, set-aside messages) and nccl_world.cpp (make_nccl_world).
//
// Only those sources include this header, and they are compiled with CUDA's and NCCL's include folder; compiled
// alone without that folder on the include path (checkheaders builds), it is empty.
#pragma once

#if __has_include(<cuda_runtime_api.h>) && __has_include(<nccl.h>)

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "parallel/comm_internal.h"
#include "parallel/communicator.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 18, 0)
#error "the NCCL communicator needs NCCL >= 2.18 (ncclCommSplit on non-blocking communicators)"
#endif

namespace llmfleet::parallel::nccl_detail {

// A spin for the answers that come within microseconds (a collective of a decode step), yields for 1 ms, then
// 100 µs sleeps (a follower may wait minutes for its next command).
detail::backoff make_backoff();

// ncclGetErrorString, plus ncclGetLastError's detail when NCCL has one.
std::string nccl_error_text(ncclResult_t result);
// "cudaErrorX: description"
std::string cuda_error_text(cudaError_t status);

// cudaSetDevice; throws unavailable naming the device and the CUDA error.
void set_device(int32_t device);

// Makes `device` current for a scope and restores the caller's: the driving thread may use another device.
class device_guard {
public:
    explicit device_guard(int32_t device);
    ~device_guard();
    device_guard(const device_guard&) = delete;
    device_guard& operator=(const device_guard&) = delete;

private:
    int32_t _device;
    int _previous = -1; // −1: unknown, not restored
};

// What a world and the communicators split from it share on one rank: the bootstrap (for abort under MPI) and
// whether any of them failed, which fails them all. (thread-safe: abort() may come from another thread)
struct world_state {
    communicator* bootstrap = nullptr; // outlives the world (make_nccl_world's contract)
    int32_t world_rank = 0;
    std::atomic<bool> failed{false};
    std::mutex mutex;
    std::string failure; // guarded by mutex: the first failure's message

    void mark_failed(const std::string& why) {
        std::lock_guard lock(mutex);
        if (!failed.exchange(true)) {
            failure = why;
        }
    }
    std::string failure_message() {
        std::lock_guard lock(mutex);
        return failure;
    }
};

// A cudaMalloc'd block. Blocks are freed only when the communicator closes with idle streams: cudaFree
// synchronizes the device and would wait for a send that a peer has not received yet.
struct device_block {
    std::byte* data = nullptr;
    size_t capacity_bytes = 0;
};

struct pending_send {
    device_block block;         // header and payload
    cudaEvent_t done = nullptr; // recorded after the ncclSend calls
    int32_t dst = 0;
};

// One NCCL communicator and the stream its operations run on. NCCL runs a communicator's operations in call
// order and a send finishes only once the receiver has posted its recv, so a send not received yet holds up
// everything after it on its channel. Hence three channels: the collectives never wait behind a send, and
// messages travel on `up` (from a lower to a higher rank) or `down`, so that a rank that sends up the pipeline
// can still receive from below while that send waits (and the results coming back down pass the sends going up).
struct channel {
    ncclComm_t comm = nullptr; // nullptr once aborted or destroyed
    cudaStream_t stream = nullptr;
    std::deque<pending_send> pending_sends; // in stream order
    const char* name = "";

    // The destinations of pending_sends, each once, in the order of their first send.
    std::vector<int32_t> pending_receivers() const;
};
enum channel_index : size_t { collectives = 0, up = 1, down = 2 };

// The header that precedes each message (nccl_p2p.cpp).
struct message_header;

class nccl_comm final : public communicator {
public:
    // Takes ownership of comm, the collectives' communicator (aborted if this constructor throws).
    nccl_comm(std::shared_ptr<world_state> world, ncclComm_t comm, int32_t device, double timeout_s);
    ~nccl_comm() override;
    nccl_comm(const nccl_comm&) = delete;
    nccl_comm& operator=(const nccl_comm&) = delete;

    int32_t rank() const override { return _rank; }
    int32_t size() const override { return _size; }
    comm_backend backend() const override { return comm_backend::nccl; }

    void all_reduce_sum(float* buf, int64_t n) override;
    void all_gather(const void* in, void* out, int64_t bytes_per_rank) override;
    void broadcast(void* buf, int64_t bytes, int32_t root) override;
    void barrier() override;
    void send(const void* buf, int64_t bytes, int32_t dst, int32_t tag) override;
    void recv(void* buf, int64_t bytes, int32_t src, int32_t tag, double timeout_s = 0) override;
    std::vector<std::byte> recv_message(int32_t src, int32_t tag, double timeout_s = 0) override;
    std::unique_ptr<communicator> split(int32_t color, int32_t key) override;
    void abort(const std::string& why) noexcept override;

    // Collective, after construction: with two ranks or more, makes the up and down channels (ncclCommSplit of
    // the collectives' communicator) and connects every pair on them now, one byte each way in one group: a send
    // to a connected peer is enqueued without the peer's help, the first one would wait for the peer's recv.
    // (nccl_world.cpp)
    void open_channels();

private:
    // The scope of one public call: the call lock (abort() from another thread then leaves the NCCL abort to the
    // caller's wait loop), this rank's device, the failed check and the reaping of finished sends.
    class call_scope {
    public:
        call_scope(nccl_comm& comm, std::string_view op);

    private:
        std::lock_guard<std::mutex> _lock;
        device_guard _device;
    };

    // A device pointer for a caller buffer: the buffer itself when it lives on this device, else a scratch
    // slot (host, pinned or managed memory, copied in or out around the NCCL operation).
    struct staged {
        std::byte* device = nullptr;
        bool is_host = false;
    };

    // nccl_comm.cpp: failures (each marks the world failed, aborts the NCCL communicators and throws) and waits.
    [[noreturn]] void _fail(const error& failure);
    [[noreturn]] void _fail_nccl(std::string_view op, ncclResult_t result);
    [[noreturn]] void _fail_cuda(std::string_view op, std::string_view what, cudaError_t status);
    // deadline_exceeded naming peers, and the receivers of the sends that hold up ch when there are some.
    [[noreturn]] void _fail_timeout(const channel* ch, std::string_view op, const detail::deadline& limit,
                                    const std::vector<int32_t>& peers);
    void _check_cuda(cudaError_t status, std::string_view op, std::string_view what);
    void _abort_nccl() noexcept;
    void _throw_if_failed();

    channel& _channel_to(int32_t dst) { return _channels[dst > _rank ? up : down]; }
    channel& _channel_from(int32_t src) { return _channels[src < _rank ? up : down]; }
    // Issues NCCL operations (issue() returns the first failure) in one group and waits until NCCL has enqueued
    // them on ch.stream.
    template <typename Issue>
    void _enqueue(channel& ch, std::string_view op, const detail::deadline& limit, Issue issue);
    // Polls comm's NCCL state until it leaves ncclInProgress.
    void _wait_ready(ncclComm_t comm, std::string_view op, const detail::deadline& limit);
    // Polls ch's stream (nullptr: the copy stream) and NCCL state until its work is done; peers name whom a
    // timeout waited for.
    void _wait(const channel* ch, std::string_view op, const detail::deadline& limit,
               const std::vector<int32_t>& peers);
    // Waits for ch's work, then ncclCommFinalize and ncclCommDestroy (all local); throws past the limit.
    void _close(channel& ch, const detail::deadline& limit);
    // ncclCommSplit of the collectives' communicator (collective over this communicator), waited for until the
    // child is ready; the child is aborted if that fails.
    ncclComm_t _split_collectives(int32_t color, int32_t key, std::string_view op, const detail::deadline& limit);

    // nccl_collectives.cpp: device memory and the staging of caller buffers.
    bool _is_device_buffer(const void* ptr, std::string_view op);
    device_block _allocate(size_t bytes, std::string_view op);
    std::byte* _scratch(size_t slot, size_t bytes, std::string_view op);
    staged _stage(const void* buf, size_t bytes, size_t slot, bool copy_in, std::string_view op,
                  const detail::deadline& limit);
    void _unstage(void* buf, const staged& view, size_t bytes, std::string_view op, const detail::deadline& limit);
    // cudaMemcpyDefault on the copy stream, waited for.
    void _copy(void* dst, const void* src, size_t bytes, std::string_view op, const detail::deadline& limit);

    // nccl_p2p.cpp: the message protocol.
    // Moves the sends that have finished to the free lists.
    void _reap_sends();
    // The header of the next message from src with tag; messages with other tags that come first are set aside.
    // Throws invalid_argument for src == this rank (messages to self are all set aside: none is pending).
    message_header _next_header(int32_t src, int32_t tag, std::string_view op, const detail::deadline& limit);
    // Receives the payload of a message whose header came: into buf (nullptr → scratch, discarded).
    void _recv_payload(void* buf, size_t bytes, int32_t src, std::string_view op, const detail::deadline& limit);
    bool _take_stashed(int32_t src, int32_t tag, std::vector<std::byte>& out);

    std::shared_ptr<world_state> _world;
    int32_t _device = 0;
    int32_t _rank = 0;
    int32_t _size = 0;
    std::array<channel, 3> _channels;    // [channel_index]
    cudaStream_t _copy_stream = nullptr; // staging copies: never queued behind a send not received yet
    std::mutex _call_mutex;              // held by the driving thread for a whole call
    // Where a non-blocking ncclCommSplit writes the child when it finishes: a member, not a local, since an
    // abandoned split (timeout) may still write it.
    ncclComm_t _split_child = nullptr;
    std::array<device_block, 3> _scratch_blocks; // [slot]: 0, 1 staging, 2 message headers
    std::vector<device_block> _free_send_blocks;
    std::vector<cudaEvent_t> _free_events;
    std::vector<void*> _allocations; // every cudaMalloc, freed when the communicator closes
    // Messages that came before a recv asked for their tag, and messages to self: [(src, tag)], in order.
    std::map<std::pair<int32_t, int32_t>, std::deque<std::vector<std::byte>>> _stash;
};

template <typename Issue>
void nccl_comm::_enqueue(channel& ch, std::string_view op, const detail::deadline& limit, Issue issue) {
    ncclResult_t result = ncclGroupStart();
    if (result != ncclSuccess) {
        _fail_nccl(op, result);
    }
    const ncclResult_t issued = issue();
    result = ncclGroupEnd(); // always: a group left open would swallow the next calls
    if (issued != ncclSuccess && issued != ncclInProgress) {
        _fail_nccl(op, issued);
    }
    if (result == ncclInProgress) {
        _wait_ready(ch.comm, op, limit);
    } else if (result != ncclSuccess) {
        _fail_nccl(op, result);
    }
}

} // namespace llmfleet::parallel::nccl_detail

#endif // __has_include(<cuda_runtime_api.h>) && __has_include(<nccl.h>)
