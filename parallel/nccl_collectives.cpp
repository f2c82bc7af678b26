// The NCCL communicator's collectives (all_reduce_sum, all_gather, broadcast, barrier) on the collectives'
// channel, and the device memory every operation uses: caller buffers on this rank's device are used in place,
// host buffers are staged through scratch blocks on a copy stream that no unreceived send holds up.
#include <fmt/core.h>

#include "parallel/nccl_comm_internal.h"

namespace llmfleet::parallel::nccl_detail {

bool nccl_comm::_is_device_buffer(const void* ptr, std::string_view op) {
    cudaPointerAttributes attributes{};
    const cudaError_t status = cudaPointerGetAttributes(&attributes, ptr);
    if (status == cudaErrorInvalidValue) { // older runtimes: memory CUDA does not know of
        (void)cudaGetLastError();
        return false;
    }
    _check_cuda(status, op, "cudaPointerGetAttributes");
    if (attributes.type != cudaMemoryTypeDevice) {
        return false; // pageable, pinned or managed host memory: staged
    }
    if (attributes.device != _device) {
        throw invalid_input(fmt::format("rank {}: {}: the buffer is on CUDA device {} but this communicator uses "
                                        "device {}; pass a buffer on device {} or a host buffer",
                                        _rank, op, attributes.device, _device, _device));
    }
    return true;
}

device_block nccl_comm::_allocate(size_t bytes, std::string_view op) {
    size_t capacity = 4096; // powers of two: blocks are reused for messages of similar sizes
    while (capacity < bytes) {
        capacity *= 2;
    }
    void* data = nullptr;
    const cudaError_t status = cudaMalloc(&data, capacity);
    if (status != cudaSuccess) {
        _fail_cuda(op, fmt::format("cudaMalloc of {} bytes", capacity), status);
    }
    _allocations.push_back(data);
    return device_block{static_cast<std::byte*>(data), capacity};
}

std::byte* nccl_comm::_scratch(size_t slot, size_t bytes, std::string_view op) {
    if (_scratch_blocks[slot].capacity_bytes < bytes) {
        _scratch_blocks[slot] = _allocate(bytes, op); // the old block stays in _allocations (see device_block)
    }
    return _scratch_blocks[slot].data;
}

nccl_comm::staged nccl_comm::_stage(const void* buf, size_t bytes, size_t slot, bool copy_in, std::string_view op,
                                    const detail::deadline& limit) {
    if (_is_device_buffer(buf, op)) {
        return staged{static_cast<std::byte*>(const_cast<void*>(buf)), false};
    }
    const staged view{_scratch(slot, bytes, op), true};
    if (copy_in) {
        _copy(view.device, buf, bytes, op, limit);
    }
    return view;
}

void nccl_comm::_unstage(void* buf, const staged& view, size_t bytes, std::string_view op,
                         const detail::deadline& limit) {
    if (view.is_host) {
        _copy(buf, view.device, bytes, op, limit);
    }
}

void nccl_comm::_copy(void* dst, const void* src, size_t bytes, std::string_view op, const detail::deadline& limit) {
    _check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, _copy_stream), op, "cudaMemcpyAsync");
    _wait(nullptr, op, limit, {});
}

void nccl_comm::all_reduce_sum(float* buf, int64_t n) {
    constexpr std::string_view op = "all_reduce_sum";
    call_scope scope(*this, op);
    detail::check_buffer(buf, n, op);
    if (n == 0) {
        return;
    }
    const detail::deadline limit(timeout_s());
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    const staged view = _stage(buf, bytes, 0, /*copy_in=*/true, op, limit);
    channel& ch = _channels[collectives];
    _enqueue(ch, op, limit, [&] {
        return ncclAllReduce(view.device, view.device, static_cast<size_t>(n), ncclFloat, ncclSum, ch.comm, ch.stream);
    });
    _wait(&ch, op, limit, {});
    _unstage(buf, view, bytes, op, limit);
}

void nccl_comm::all_gather(const void* in, void* out, int64_t bytes_per_rank) {
    constexpr std::string_view op = "all_gather";
    call_scope scope(*this, op);
    detail::check_buffer(in, bytes_per_rank, op);
    detail::check_buffer(out, bytes_per_rank, op);
    if (bytes_per_rank == 0) {
        return;
    }
    const detail::deadline limit(timeout_s());
    const size_t block_bytes = static_cast<size_t>(bytes_per_rank);
    const size_t out_bytes = block_bytes * static_cast<size_t>(_size);
    const staged in_view = _stage(in, block_bytes, 0, /*copy_in=*/true, op, limit);
    const staged out_view = _stage(out, out_bytes, 1, /*copy_in=*/false, op, limit);
    channel& ch = _channels[collectives];
    _enqueue(ch, op, limit, [&] {
        return ncclAllGather(in_view.device, out_view.device, block_bytes, ncclUint8, ch.comm, ch.stream);
    });
    _wait(&ch, op, limit, {});
    _unstage(out, out_view, out_bytes, op, limit);
}

void nccl_comm::broadcast(void* buf, int64_t bytes, int32_t root) {
    constexpr std::string_view op = "broadcast";
    call_scope scope(*this, op);
    detail::check_rank(root, _size, op, "root");
    detail::check_buffer(buf, bytes, op);
    if (bytes == 0) {
        return;
    }
    const detail::deadline limit(timeout_s());
    const size_t n_bytes = static_cast<size_t>(bytes);
    const staged view = _stage(buf, n_bytes, 0, /*copy_in=*/_rank == root, op, limit);
    channel& ch = _channels[collectives];
    _enqueue(ch, op, limit,
             [&] { return ncclBroadcast(view.device, view.device, n_bytes, ncclUint8, root, ch.comm, ch.stream); });
    _wait(&ch, op, limit, {});
    if (_rank != root) {
        _unstage(buf, view, n_bytes, op, limit);
    }
}

void nccl_comm::barrier() {
    constexpr std::string_view op = "barrier";
    call_scope scope(*this, op);
    const detail::deadline limit(timeout_s());
    std::byte* one = _scratch(0, 1, op); // its value does not matter: the all-reduce is the synchronization
    channel& ch = _channels[collectives];
    _enqueue(ch, op, limit, [&] { return ncclAllReduce(one, one, 1, ncclUint8, ncclSum, ch.comm, ch.stream); });
    _wait(&ch, op, limit, {});
}

} // namespace llmfleet::parallel::nccl_detail
