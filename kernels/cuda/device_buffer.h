// device_buffer<T>: an owned, typed allocation in GPU memory (cudaMalloc / cudaFree), movable, never copied.
// The element type is the dtype; the shape lives in the owner's member comment.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "kernels/cuda/cuda_check.h"

namespace llmfleet::kernels::cuda {

template <typename T> class device_buffer {
public:
    device_buffer() = default;
    explicit device_buffer(int64_t n) : _n(n) {
        if (n > 0) {
            LLMFLEET_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&_data), bytes()));
        }
    }
    ~device_buffer() {
        if (_data != nullptr) {
            cudaFree(_data); // never throws from a destructor; a failing free means the context is already gone
        }
    }
    device_buffer(device_buffer&& other) noexcept
        : _data(std::exchange(other._data, nullptr)), _n(std::exchange(other._n, 0)) {}
    device_buffer& operator=(device_buffer&& other) noexcept {
        if (this != &other) {
            device_buffer dead(std::move(*this));
            _data = std::exchange(other._data, nullptr);
            _n = std::exchange(other._n, 0);
        }
        return *this;
    }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;

    T* data() { return _data; }
    const T* data() const { return _data; }
    int64_t size() const { return _n; }
    size_t bytes() const { return static_cast<size_t>(_n) * sizeof(T); }
    bool empty() const { return _n == 0; }

    // Synchronous copies of the whole buffer (tests, weight upload): host.size() must equal size().
    void upload(std::span<const T> host) {
        check_size(host.size());
        LLMFLEET_CUDA_CHECK(cudaMemcpy(_data, host.data(), bytes(), cudaMemcpyHostToDevice));
    }
    void download(std::span<T> host) const {
        check_size(host.size());
        LLMFLEET_CUDA_CHECK(cudaMemcpy(host.data(), _data, bytes(), cudaMemcpyDeviceToHost));
    }

private:
    void check_size(size_t host_n) const {
        if (static_cast<int64_t>(host_n) != _n) {
            throw_cuda_error(cudaErrorInvalidValue, "device_buffer copy: host and device sizes differ", __FILE__,
                             __LINE__);
        }
    }

    T* _data = nullptr;
    int64_t _n = 0;
};

// pinned_buffer<T>: page-locked host memory (cudaMallocHost / cudaFreeHost) that asynchronous copies and CUDA
// graphs' memcpy nodes read and write directly. Movable, never copied.
template <typename T> class pinned_buffer {
public:
    pinned_buffer() = default;
    explicit pinned_buffer(int64_t n) : _n(n) {
        if (n > 0) {
            LLMFLEET_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&_data), static_cast<size_t>(n) * sizeof(T)));
        }
    }
    ~pinned_buffer() {
        if (_data != nullptr) {
            cudaFreeHost(_data);
        }
    }
    pinned_buffer(pinned_buffer&& other) noexcept
        : _data(std::exchange(other._data, nullptr)), _n(std::exchange(other._n, 0)) {}
    pinned_buffer& operator=(pinned_buffer&& other) noexcept {
        if (this != &other) {
            pinned_buffer dead(std::move(*this));
            _data = std::exchange(other._data, nullptr);
            _n = std::exchange(other._n, 0);
        }
        return *this;
    }
    pinned_buffer(const pinned_buffer&) = delete;
    pinned_buffer& operator=(const pinned_buffer&) = delete;

    T* data() { return _data; }
    const T* data() const { return _data; }
    int64_t size() const { return _n; }

private:
    T* _data = nullptr;
    int64_t _n = 0;
};

} // namespace llmfleet::kernels::cuda
