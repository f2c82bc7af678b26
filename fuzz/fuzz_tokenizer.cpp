// libFuzzer target: any bytes, as text, encode and decode back exactly with make-model's Llama tiny tokenizer
// (no normaliser) and stream to the same bytes; as tokenizer.json, they load or raise llmfleet::error. Never a
// crash, hang or out-of-bounds access.
// Build: CXX=clang++ cmake -S . -B build-fuzz -DLLMFLEET_FUZZ=ON && cmake --build build-fuzz --target fuzz_tokenizer
// Run:   build-fuzz/bin/fuzz_tokenizer -max_total_time=60
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "model/make_tokenizer.h"
#include "model/stream_decoder.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace llmfleet::model;
    static const tokenizer tok = tokenizer::from_json(make_tokenizer_json(architecture::llama, 512), "llama tiny");
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::vector<int32_t> ids = tok.encode(text, false);
    if (tok.decode(ids) != text) {
        std::abort(); // the byte-exact round trip broke
    }
    stream_decoder stream(tok);
    std::string streamed;
    for (int32_t id : ids) {
        streamed += stream.push(id);
    }
    if (streamed + stream.flush() != text) {
        std::abort();
    }
    try {
        (void)tokenizer::from_json(text, "fuzz");
    } catch (const llmfleet::error&) {
        // rejected with a message: fine
    }
    return 0;
}
