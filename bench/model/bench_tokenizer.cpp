// Tokenizer throughput: encode (and decode) MB/s on a text file, line by line, single-threaded and with N threads
// sharing one tokenizer. Validates before timing: decode(encode(line)) must give the line back (its NFC form for
// normalising tokenizers). tests/reference/tokenizer_reference.mjs `bench` times tokenizers.js on the same input.
// Usage: bench_tokenizer TOKENIZER_JSON_OR_DIR TEXT_FILE [N_THREADS=2]
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/core.h>

#include "common/error.h"
#include "common/text.h"
#include "model/tokenizer.h"

namespace {

using namespace llmfleet;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Lines with their newline, as the node bench splits them.
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = std::min(text.find('\n', start), text.size() - 1) + 1;
        lines.push_back(text.substr(start, end - start));
        start = end;
    }
    return lines;
}

int run(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tokenizer TOKENIZER_JSON_OR_DIR TEXT_FILE [N_THREADS=2]\n");
        return 2;
    }
    const int n_threads = argc > 3 ? static_cast<int>(parse_int(argv[3], "N_THREADS")) : 2;
    const std::string text = read_file(argv[2], "text");
    const std::vector<std::string_view> lines = lines_of(text);
    const double megabytes = static_cast<double>(text.size()) / 1e6;

    auto start = std::chrono::steady_clock::now();
    const model::tokenizer tok = model::tokenizer::load(argv[1]);
    fmt::print("{}\nloaded in {:.3f} s; text {:.2f} MB in {} lines\n", tok.describe(), seconds_since(start), megabytes,
               lines.size());
    const bool nfc = tok.normalizer() == model::normalization::nfc;
    for (std::string_view line : lines) {
        const std::string back = tok.decode(tok.encode(line, false));
        if (back != line && !nfc) {
            fmt::print(stderr, "round trip failed on line '{}'\n", line);
            return 1;
        }
    }
    // The validation pass warmed the pre-token cache: cold passes use fresh tokenizers (best of 3), warm passes
    // repeat on one (best of 10), each over the whole text.
    std::vector<std::vector<int32_t>> ids(lines.size());
    int64_t n_tokens = 0;
    const auto encode_all = [&](const model::tokenizer& t) {
        const auto pass_start = std::chrono::steady_clock::now();
        n_tokens = 0;
        for (size_t i = 0; i < lines.size(); ++i) {
            ids[i] = t.encode(lines[i], false);
            n_tokens += static_cast<int64_t>(ids[i].size());
        }
        return seconds_since(pass_start);
    };
    double cold_s = 1e30, warm_s = 1e30;
    for (int k = 0; k < 3; ++k) {
        const model::tokenizer fresh = model::tokenizer::load(argv[1]);
        cold_s = std::min(cold_s, encode_all(fresh));
    }
    for (int k = 0; k < 10; ++k) {
        warm_s = std::min(warm_s, encode_all(tok));
    }
    fmt::print("encode 1 thread: cold {:.2f} MB/s, warm {:.2f} MB/s ({} tokens, {:.2f} bytes/token)\n",
               megabytes / cold_s, megabytes / warm_s, n_tokens,
               static_cast<double>(text.size()) / static_cast<double>(n_tokens));
    double decode_s = 1e30;
    size_t n_bytes = 0;
    for (int k = 0; k < 10; ++k) {
        start = std::chrono::steady_clock::now();
        n_bytes = 0;
        for (const std::vector<int32_t>& line_ids : ids) {
            n_bytes += tok.decode(line_ids).size();
        }
        decode_s = std::min(decode_s, seconds_since(start));
    }
    fmt::print("decode: {:.2f} MB/s\n", static_cast<double>(n_bytes) / 1e6 / decode_s);

    double threads_s = 1e30;
    for (int k = 0; k < 10; ++k) {
        start = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([&, t] {
                for (size_t i = static_cast<size_t>(t); i < lines.size(); i += static_cast<size_t>(n_threads)) {
                    (void)tok.encode(lines[i], false);
                }
            });
        }
        for (std::thread& th : threads) {
            th.join();
        }
        threads_s = std::min(threads_s, seconds_since(start));
    }
    fmt::print("encode warm, {} threads sharing the tokenizer: {:.2f} MB/s\n", n_threads, megabytes / threads_s);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const llmfleet::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
