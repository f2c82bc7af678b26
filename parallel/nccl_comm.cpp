// The NCCL communicator (nccl_comm.h), its core: construction and closing, failures and every wait, split and
// abort. Host C++ over the CUDA runtime and NCCL, no kernels. Three non-blocking NCCL communicators (ncclConfig_t
// blocking = 0) per communicator, each with its own CUDA stream: one for the collectives and, with two ranks or
// more, one per direction for messages (see `channel`). Every wait polls a stream and ncclCommGetAsyncError under
// a deadline, so a dead or silent peer becomes an llmfleet::error. nccl_comm_internal.h lists the other parts.
#include <fmt/core.h>

#include <algorithm>
#include <exception>

#include "common/log.h"
#include "parallel/nccl_comm_internal.h"

namespace llmfleet::parallel::nccl_detail {

detail::backoff make_backoff() {
    return detail::backoff(/*n_spins=*/200, /*yield_for_s=*/1e-3, /*sleep_us=*/100);
}

std::string nccl_error_text(ncclResult_t result) {
    std::string text = ncclGetErrorString(result);
    const char* last = ncclGetLastError(nullptr);
    if (last != nullptr && *last != '\0') {
        text += fmt::format(" ({})", last);
    }
    return text;
}

std::string cuda_error_text(cudaError_t status) {
    return fmt::format("{}: {}", cudaGetErrorName(status), cudaGetErrorString(status));
}

void set_device(int32_t device) {
    const cudaError_t status = cudaSetDevice(device);
    if (status != cudaSuccess) {
        throw error(status_code::unavailable,
                    fmt::format("cudaSetDevice({}) failed: {}", device, cuda_error_text(status)));
    }
}

device_guard::device_guard(int32_t device) : _device(device) {
    if (cudaGetDevice(&_previous) != cudaSuccess) {
        _previous = -1;
    }
    if (_previous != _device) {
        set_device(_device);
    }
}

device_guard::~device_guard() {
    if (_previous >= 0 && _previous != _device) {
        (void)cudaSetDevice(_previous);
    }
}

std::vector<int32_t> channel::pending_receivers() const {
    std::vector<int32_t> receivers;
    for (const pending_send& s : pending_sends) {
        if (std::find(receivers.begin(), receivers.end(), s.dst) == receivers.end()) {
            receivers.push_back(s.dst);
        }
    }
    return receivers;
}

nccl_comm::call_scope::call_scope(nccl_comm& comm, std::string_view op)
    : _lock(comm._call_mutex), _device(comm._device) {
    comm._throw_if_failed();
    if (comm._channels[collectives].comm == nullptr) {
        throw error(status_code::unavailable, fmt::format("rank {}: {} on a closed NCCL communicator", comm._rank, op));
    }
    comm._reap_sends();
}

nccl_comm::nccl_comm(std::shared_ptr<world_state> world, ncclComm_t comm, int32_t device, double timeout_s)
    : _world(std::move(world)), _device(device) {
    set_timeout_s(timeout_s);
    _channels[collectives] = channel{comm, nullptr, {}, "collectives"};
    _channels[up].name = "messages to higher ranks";
    _channels[down].name = "messages to lower ranks";
    try {
        device_guard guard(_device);
        int rank = 0, size = 0;
        ncclResult_t result = ncclCommUserRank(comm, &rank);
        if (result == ncclSuccess) {
            result = ncclCommCount(comm, &size);
        }
        if (result != ncclSuccess) {
            throw error(status_code::unavailable, fmt::format("rank {}: reading the NCCL communicator's rank: {}",
                                                              _world->world_rank, nccl_error_text(result)));
        }
        _rank = rank;
        _size = size;
        _check_cuda(cudaStreamCreateWithFlags(&_channels[collectives].stream, cudaStreamNonBlocking), "create",
                    "cudaStreamCreate");
        _check_cuda(cudaStreamCreateWithFlags(&_copy_stream, cudaStreamNonBlocking), "create", "cudaStreamCreate");
    } catch (const error&) {
        _abort_nccl();
        if (_channels[collectives].stream != nullptr) {
            (void)cudaStreamDestroy(_channels[collectives].stream);
        }
        throw;
    }
}

nccl_comm::~nccl_comm() {
    try {
        device_guard guard(_device);
        std::lock_guard lock(_call_mutex);
        // Finish the sends in flight, then flush and destroy; past the limit (or after a failure): abort.
        const detail::deadline limit(timeout_s() > 0 ? timeout_s() : default_comm_timeout_s);
        for (size_t i : {down, up, collectives}) {
            if (!_world->failed && _channels[i].comm != nullptr) {
                try {
                    _close(_channels[i], limit);
                } catch (const error& e) {
                    LLMFLEET_LOG_WARN("closing the NCCL communicator: {}", e.what());
                }
            }
        }
        _abort_nccl();
        bool idle = cudaStreamQuery(_copy_stream) == cudaSuccess;
        for (const channel& ch : _channels) {
            idle = idle && (ch.stream == nullptr || cudaStreamQuery(ch.stream) == cudaSuccess);
        }
        if (idle) {
            for (void* p : _allocations) {
                (void)cudaFree(p);
            }
        } else {
            LLMFLEET_LOG_WARN("rank {}: NCCL communicator closed with work in flight: its {} device buffers stay "
                              "allocated",
                              _rank, _allocations.size());
        }
        for (channel& ch : _channels) {
            for (const pending_send& s : ch.pending_sends) {
                (void)cudaEventDestroy(s.done);
            }
            if (ch.stream != nullptr) {
                (void)cudaStreamDestroy(ch.stream);
            }
        }
        for (cudaEvent_t e : _free_events) {
            (void)cudaEventDestroy(e);
        }
        (void)cudaStreamDestroy(_copy_stream);
    } catch (const std::exception& e) {
        LLMFLEET_LOG_ERROR("rank {}: closing the NCCL communicator: {}", _rank, e.what());
    }
}

void nccl_comm::_close(channel& ch, const detail::deadline& limit) {
    _wait(&ch, "close", limit, ch.pending_receivers());
    ncclResult_t result = ncclCommFinalize(ch.comm); // local: waits for this rank's NCCL work and proxy
    if (result == ncclInProgress) {
        _wait_ready(ch.comm, "close", limit);
    } else if (result != ncclSuccess) {
        _fail_nccl("close", result);
    }
    (void)ncclCommDestroy(ch.comm);
    ch.comm = nullptr;
}

void nccl_comm::_fail(const error& failure) {
    _world->mark_failed(failure.what());
    _abort_nccl();
    throw failure;
}

void nccl_comm::_fail_nccl(std::string_view op, ncclResult_t result) {
    const status_code code = result == ncclInvalidArgument || result == ncclInvalidUsage ? status_code::invalid_argument
                                                                                         : status_code::unavailable;
    const char* hint = result == ncclRemoteError ? "; a peer process exited or the network failed" : "";
    _fail(error(code, fmt::format("rank {}: {} over NCCL failed on device {}: {}{}; rerun with NCCL_DEBUG=WARN for "
                                  "details",
                                  _rank, op, _device, nccl_error_text(result), hint)));
}

void nccl_comm::_fail_cuda(std::string_view op, std::string_view what, cudaError_t status) {
    const status_code code =
        status == cudaErrorMemoryAllocation ? status_code::resource_exhausted : status_code::unavailable;
    _fail(error(code, fmt::format("rank {}: {}: {} on device {} failed: {}", _rank, op, what, _device,
                                  cuda_error_text(status))));
}

void nccl_comm::_fail_timeout(const channel* ch, std::string_view op, const detail::deadline& limit,
                              const std::vector<int32_t>& peers) {
    const error timeout = detail::no_answer(_rank, peers, limit.timeout_s(), op);
    _reap_sends();
    const std::vector<int32_t> receivers = ch != nullptr ? ch->pending_receivers() : std::vector<int32_t>{};
    if (receivers.empty() || op == "close") {
        _fail(timeout);
    }
    _fail(error(timeout.code(), fmt::format("{} (NCCL runs this rank's earlier sends to rank(s) {} first, and they "
                                            "have not been received yet)",
                                            timeout.what(), detail::join_ranks(receivers))));
}

void nccl_comm::_check_cuda(cudaError_t status, std::string_view op, std::string_view what) {
    if (status != cudaSuccess) {
        _fail_cuda(op, what, status);
    }
}

void nccl_comm::_abort_nccl() noexcept {
    for (channel& ch : _channels) {
        if (ch.comm != nullptr) {
            (void)ncclCommAbort(ch.comm);
            ch.comm = nullptr;
        }
    }
}

void nccl_comm::_throw_if_failed() {
    if (_world->failed) {
        _abort_nccl();
        throw error(status_code::unavailable, _world->failure_message());
    }
}

void nccl_comm::_wait_ready(ncclComm_t comm, std::string_view op, const detail::deadline& limit) {
    detail::backoff pause = make_backoff();
    for (;;) {
        ncclResult_t state = ncclSuccess;
        const ncclResult_t result = ncclCommGetAsyncError(comm, &state);
        if (result != ncclSuccess) {
            _fail_nccl(op, result);
        }
        if (state == ncclSuccess) {
            return;
        }
        if (state != ncclInProgress) {
            _fail_nccl(op, state);
        }
        if (!pause.spinning()) {
            _throw_if_failed();
            if (limit.expired()) {
                _fail_timeout(nullptr, op, limit, {});
            }
        }
        pause.pause();
    }
}

void nccl_comm::_wait(const channel* ch, std::string_view op, const detail::deadline& limit,
                      const std::vector<int32_t>& peers) {
    cudaStream_t stream = ch != nullptr ? ch->stream : _copy_stream;
    detail::backoff pause = make_backoff();
    for (;;) {
        const cudaError_t status = cudaStreamQuery(stream);
        if (status == cudaSuccess) {
            return;
        }
        if (status != cudaErrorNotReady) {
            _fail_cuda(op, "waiting for the stream", status);
        }
        if (!pause.spinning()) {
            ncclResult_t state = ncclSuccess;
            if (ch != nullptr && ch->comm != nullptr && ncclCommGetAsyncError(ch->comm, &state) == ncclSuccess &&
                state != ncclSuccess && state != ncclInProgress) {
                _fail_nccl(op, state);
            }
            _throw_if_failed();
            if (limit.expired()) {
                _fail_timeout(ch, op, limit, peers);
            }
        }
        pause.pause();
    }
}

ncclComm_t nccl_comm::_split_collectives(int32_t color, int32_t key, std::string_view op,
                                         const detail::deadline& limit) {
    ncclComm_t parent = _channels[collectives].comm;
    // The parent is non-blocking: the child inherits that (config = nullptr) and is written only when the split
    // has finished, which the parent's state reports.
    _split_child = nullptr;
    const ncclResult_t result = ncclCommSplit(parent, color, key, &_split_child, nullptr);
    if (result == ncclInProgress) {
        _wait_ready(parent, op, limit);
    } else if (result != ncclSuccess) {
        _fail_nccl(op, result);
    }
    ncclComm_t child = _split_child;
    if (child == nullptr) {
        _fail(error(status_code::internal, fmt::format("rank {}: {}: ncclCommSplit(color {}) finished without a "
                                                       "communicator",
                                                       _rank, op, color)));
    }
    try {
        _wait_ready(child, op, limit);
    } catch (const error&) {
        (void)ncclCommAbort(child);
        throw;
    }
    return child;
}

std::unique_ptr<communicator> nccl_comm::split(int32_t color, int32_t key) {
    constexpr std::string_view op = "split";
    std::unique_ptr<nccl_comm> child;
    {
        call_scope scope(*this, op);
        if (color < 0) {
            throw invalid_input(fmt::format("rank {}: split: color must be ≥ 0, got {}", _rank, color));
        }
        const detail::deadline limit(timeout_s());
        child = std::make_unique<nccl_comm>(_world, _split_collectives(color, key, op, limit), _device, timeout_s());
    }
    child->open_channels();
    return child;
}

void nccl_comm::abort(const std::string& why) noexcept {
    try {
        _world->mark_failed(fmt::format("rank {} failed: {}", _world->world_rank, why));
        // The driving thread may be inside a call: then its wait loop sees the failed state and aborts NCCL itself
        // (ncclCommAbort under its feet would free the communicator it polls).
        std::unique_lock lock(_call_mutex, std::try_to_lock);
        if (lock.owns_lock()) {
            _abort_nccl();
        }
        if (_world->bootstrap != nullptr && _world->bootstrap->backend() == comm_backend::mpi) {
            _world->bootstrap->abort(why); // tells world rank 0, then ends the job
        }
    } catch (const std::exception& e) {
        LLMFLEET_LOG_ERROR("rank {}: aborting the NCCL communicator: {}", _rank, e.what());
    }
}

} // namespace llmfleet::parallel::nccl_detail
