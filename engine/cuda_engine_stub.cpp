// cuda_engine.h in a build without CUDA: every entry point says how to get a build with it.
#include "common/error.h"
#include "engine/cuda_engine.h"

namespace llmfleet::engine {

namespace {

[[noreturn]] void no_cuda() {
    throw error(status_code::unavailable,
                "this llmfleet was built without CUDA (the cmake summary says why: `llmfleet: cuda`); install the CUDA "
                "toolkit and reconfigure with -DLLMFLEET_CUDA=ON, or use --device cpu");
}

} // namespace

bool cuda_backend_built() {
    return false;
}

std::unique_ptr<model_runner> make_cuda_runner(const cuda_engine_options&) {
    no_cuda();
}

std::unique_ptr<engine> make_cuda_engine(const cuda_engine_options&, const clock_source*) {
    no_cuda();
}

} // namespace llmfleet::engine
