// make_nccl_world (nccl_comm.h): every rank chooses its CUDA device and reports it over the bootstrap before
// anyone starts the NCCL init, so a rank that cannot join fails every rank with its reason instead of leaving them
// to time out; then rank 0's ncclUniqueId is broadcast, the non-blocking NCCL init is polled under the timeout,
// and the message channels are opened and connected. Also cuda_device_count and nccl_comm_built.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "parallel/nccl_comm.h"
#include "parallel/nccl_comm_internal.h"

namespace llmfleet::parallel {
namespace nccl_detail {

void nccl_comm::open_channels() {
    constexpr std::string_view op = "opening the NCCL message channels";
    call_scope scope(*this, op);
    if (_size == 1) {
        return; // every message is to self: it stays on the host
    }
    const detail::deadline limit(timeout_s());
    for (size_t i : {up, down}) {
        channel& ch = _channels[i];
        ch.comm = _split_collectives(0, _rank, op, limit); // aborted with the others from here on
        _check_cuda(cudaStreamCreateWithFlags(&ch.stream, cudaStreamNonBlocking), op, "cudaStreamCreate");
    }
    // [0] is sent, [1 + peer] received from peer; up: send to every higher rank, receive from every lower one.
    const size_t n_bytes = static_cast<size_t>(_size) + 1;
    std::byte* bytes = _scratch(0, n_bytes, op);
    _check_cuda(cudaMemsetAsync(bytes, 0, n_bytes, _copy_stream), op, "cudaMemsetAsync");
    _wait(nullptr, op, limit, {});
    for (size_t i : {up, down}) {
        channel& ch = _channels[i];
        _enqueue(ch, op, limit, [&] {
            for (int32_t peer = 0; peer < _size; ++peer) {
                const bool to_peer = i == up ? peer > _rank : peer < _rank;
                const bool from_peer = i == up ? peer < _rank : peer > _rank;
                ncclResult_t result = ncclSuccess;
                if (to_peer) {
                    result = ncclSend(bytes, 1, ncclUint8, peer, ch.comm, ch.stream);
                } else if (from_peer) {
                    result = ncclRecv(bytes + 1 + peer, 1, ncclUint8, peer, ch.comm, ch.stream);
                }
                if (result != ncclSuccess && result != ncclInProgress) {
                    return result;
                }
            }
            return ncclSuccess;
        });
        _wait(&ch, op, limit, {});
    }
}

namespace {

// What each rank tells the others before the NCCL init (all_gather over the bootstrap).
struct join_report {
    int32_t code = 0; // status_code; 0 (ok): joins
    int32_t device = -1;
    char why[512] = {};
};

// Rank 0's broadcast: the unique id, or why it could not make one.
struct unique_id_message {
    int32_t ok = 0;
    char why[256] = {};
    ncclUniqueId id{};
};

template <size_t N> void copy_text(char (&dst)[N], std::string_view text) {
    const size_t n = std::min(text.size(), N - 1);
    std::memcpy(dst, text.data(), n);
    dst[n] = '\0';
}

int32_t local_rank(int32_t bootstrap_rank) {
    if (const char* text = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK"); text != nullptr) {
        const std::string_view view(text);
        int32_t value = -1;
        const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
        if (ec == std::errc() && end == view.data() + view.size() && value >= 0) {
            return value;
        }
    }
    return bootstrap_rank;
}

// The CUDA device of this rank, made current; errors name no rank (make_nccl_world adds it).
int32_t choose_device(int32_t requested, int32_t bootstrap_rank) {
    const int32_t n_devices = cuda_device_count();
    if (n_devices == 0) {
        throw error(status_code::unavailable, "no CUDA device is visible (no GPU, no driver, or CUDA_VISIBLE_DEVICES "
                                              "is empty); use --comm mpi or --comm threads on a machine without GPUs");
    }
    const int32_t device = requested >= 0 ? requested : local_rank(bootstrap_rank) % n_devices;
    if (device >= n_devices) {
        throw invalid_input(
            fmt::format("CUDA device {} does not exist: this process sees {} device(s)", device, n_devices));
    }
    set_device(device);
    return device;
}

// ncclCommInitRankConfig, non-blocking: it returns at once (ncclInProgress) and the state is polled, so a rank
// that never joins becomes deadline_exceeded instead of a hang.
ncclComm_t init_nccl(const ncclUniqueId& id, int32_t rank, int32_t size, int32_t device, double timeout_s) {
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t comm = nullptr;
    ncclResult_t result = ncclCommInitRankConfig(&comm, size, id, rank, &config);
    const detail::deadline limit(timeout_s);
    detail::backoff pause = make_backoff();
    while (comm != nullptr && result == ncclInProgress) {
        if (ncclCommGetAsyncError(comm, &result) != ncclSuccess) {
            result = ncclInternalError;
        }
        if (result == ncclInProgress && limit.expired()) {
            (void)ncclCommAbort(comm);
            throw error(status_code::deadline_exceeded,
                        fmt::format("rank {}: the NCCL init of {} ranks did not finish within {:g} s; is every rank "
                                    "alive and calling make_nccl_world?",
                                    rank, size, timeout_s));
        }
        pause.pause();
    }
    if (comm == nullptr || result != ncclSuccess) {
        const std::string text = nccl_error_text(result);
        (void)ncclCommAbort(comm);
        throw error(status_code::unavailable, fmt::format("rank {}: the NCCL init ({} ranks, device {}) failed: {}; "
                                                          "rerun with NCCL_DEBUG=WARN for details",
                                                          rank, size, device, text));
    }
    return comm;
}

} // namespace
} // namespace nccl_detail

bool nccl_comm_built() {
    return true;
}

int32_t cuda_device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError(); // no driver or no device: not an error for the caller
        return 0;
    }
    return count;
}

std::unique_ptr<communicator> make_nccl_world(communicator& bootstrap, int32_t device, double timeout_s) {
    using namespace nccl_detail;
    const int32_t rank = bootstrap.rank();
    const int32_t size = bootstrap.size();

    join_report mine;
    try {
        mine.device = choose_device(device, rank);
    } catch (const error& e) {
        mine.code = static_cast<int32_t>(e.code());
        copy_text(mine.why, e.what());
    }
    std::vector<join_report> reports(static_cast<size_t>(size));
    bootstrap.all_gather(&mine, reports.data(), sizeof(join_report));
    for (int32_t r = 0; r < size; ++r) {
        const join_report& report = reports[static_cast<size_t>(r)];
        if (report.code != 0) {
            const status_code code = r == rank ? static_cast<status_code>(report.code) : status_code::unavailable;
            throw error(code, fmt::format("NCCL world of {} ranks: rank {} cannot join: {}", size, r, report.why));
        }
    }

    unique_id_message id_message;
    if (rank == 0) {
        const ncclResult_t result = ncclGetUniqueId(&id_message.id);
        id_message.ok = result == ncclSuccess ? 1 : 0;
        if (result != ncclSuccess) {
            copy_text(id_message.why, nccl_error_text(result));
        }
    }
    bootstrap.broadcast(&id_message, sizeof(unique_id_message), 0);
    if (id_message.ok == 0) {
        throw error(status_code::unavailable,
                    fmt::format("rank {}: rank 0 could not create the NCCL unique id: {}", rank, id_message.why));
    }

    auto world = std::make_shared<world_state>();
    world->bootstrap = &bootstrap;
    world->world_rank = rank;
    auto comm = std::make_unique<nccl_comm>(
        std::move(world), init_nccl(id_message.id, rank, size, mine.device, timeout_s), mine.device, timeout_s);
    comm->open_channels();
    return comm;
}

} // namespace llmfleet::parallel
