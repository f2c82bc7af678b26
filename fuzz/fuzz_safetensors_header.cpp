// libFuzzer target: any bytes given to the safetensors header parser either parse (and then every tensor
// lies inside the buffer) or raise llmfleet::error; never a crash, hang or out-of-bounds read.
// Build: CXX=clang++ cmake -S . -B build-fuzz -DLLMFLEET_FUZZ=ON && cmake --build build-fuzz --target
// fuzz_safetensors_header Run:   build-fuzz/bin/fuzz_safetensors_header -max_total_time=60 fuzz/corpus/safetensors
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const llmfleet::model::safetensors_header h = llmfleet::model::parse_safetensors_header(data, size, "fuzz");
        for (const llmfleet::model::tensor_info& t : h.tensors) {
            if (h.data_offset + t.data_end > size || t.data_begin > t.data_end) {
                std::abort(); // the parser accepted a tensor outside the buffer
            }
        }
    } catch (const llmfleet::error&) {
        // rejected with a message: fine
    }
    return 0;
}
