// The backend names and build checks of communicator.h, launched_by_mpirun (mpi_comm.h; needs no MPI), and the
// helpers every implementation shares (comm_internal.h): argument checks, deadlines and the wait back-off.
#include "parallel/communicator.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "parallel/comm_internal.h"
#include "parallel/mpi_comm.h"
#include "parallel/nccl_comm.h"

namespace llmfleet::parallel {

std::string_view to_string(comm_backend backend) {
    switch (backend) {
    case comm_backend::threads:
        return "threads";
    case comm_backend::mpi:
        return "mpi";
    case comm_backend::nccl:
        return "nccl";
    }
    return "unknown";
}

comm_backend parse_comm_backend(std::string_view text) {
    for (comm_backend b : {comm_backend::threads, comm_backend::mpi, comm_backend::nccl}) {
        if (text == to_string(b)) {
            return b;
        }
    }
    throw invalid_input(fmt::format("communicator backend: expected threads, mpi or nccl, got '{}'", text));
}

bool comm_backend_built(comm_backend backend) {
    switch (backend) {
    case comm_backend::threads:
        return true;
    case comm_backend::mpi:
        return mpi_comm_built();
    case comm_backend::nccl:
        return nccl_comm_built();
    }
    return false;
}

bool launched_by_mpirun() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
        if (std::getenv(name) != nullptr) {
            return true;
        }
    }
    return false;
}

namespace detail {

void check_tag(int32_t tag, std::string_view op) {
    if (tag < 0 || tag >= max_user_tag) {
        throw invalid_input(fmt::format("{}: tag {} is out of range: tags are 0 to {} (larger ones are the "
                                        "communicator's own)",
                                        op, tag, max_user_tag - 1));
    }
}

void check_rank(int32_t peer, int32_t size, std::string_view op, std::string_view role) {
    if (peer < 0 || peer >= size) {
        throw invalid_input(fmt::format("{}: {} rank {} is out of range: the communicator has ranks 0 to {}", op, role,
                                        peer, size - 1));
    }
}

void check_buffer(const void* buf, int64_t count, std::string_view op) {
    if (count < 0) {
        throw invalid_input(fmt::format("{}: the size must be ≥ 0, got {}", op, count));
    }
    if (count > 0 && buf == nullptr) {
        throw invalid_input(fmt::format("{}: null buffer for {} elements", op, count));
    }
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

deadline::deadline(double timeout_s) : _timeout_s(timeout_s), _end_s(timeout_s < 0 ? 0 : now_s() + timeout_s) {}

bool deadline::expired() const {
    return _timeout_s >= 0 && now_s() >= _end_s;
}

double recv_timeout_s(double requested_s, double communicator_timeout_s) {
    if (requested_s == wait_forever_s) {
        return -1;
    }
    return requested_s > 0 ? requested_s : communicator_timeout_s;
}

std::string join_ranks(const std::vector<int32_t>& ranks) {
    std::string out;
    for (size_t i = 0; i < ranks.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::to_string(ranks[i]);
    }
    return out;
}

error no_answer(int32_t rank, const std::vector<int32_t>& missing, double timeout_s, std::string_view op) {
    const std::string who = missing.empty()
                                ? std::string("the other ranks")
                                : fmt::format("rank{} {}", missing.size() == 1 ? "" : "s", join_ranks(missing));
    return error(status_code::deadline_exceeded,
                 fmt::format("rank {}: no answer from {} within {:g} s in {}; is it alive?", rank, who, timeout_s, op));
}

backoff::backoff(int32_t n_spins, double yield_for_s, int32_t sleep_us)
    : _n_spins(n_spins), _yield_for_s(yield_for_s), _sleep_us(sleep_us) {}

void backoff::pause() {
    if (_n_pauses < _n_spins) {
        ++_n_pauses;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
        return;
    }
    if (_n_pauses == _n_spins) {
        ++_n_pauses;
        _yield_start_s = now_s();
    }
    if (now_s() - _yield_start_s < _yield_for_s) {
        std::this_thread::yield();
    } else {
        std::this_thread::sleep_for(std::chrono::microseconds(_sleep_us));
    }
}

} // namespace detail

} // namespace llmfleet::parallel
