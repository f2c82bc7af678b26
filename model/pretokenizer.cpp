// See pretokenizer.h. PCRE2 (libpcre2-8) with PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF; the pattern is
// compiled and JIT-compiled once, and each thread keeps its own match data and JIT stack.
#include "model/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <mutex>

#include <fmt/core.h>

#include "common/error.h"
#include "common/log.h"

namespace llmfleet::model {

const std::string_view gpt2_split_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    const int n = pcre2_get_error_message(code, buffer, sizeof buffer);
    return n < 0 ? fmt::format("PCRE2 error {}", code) : std::string(reinterpret_cast<const char*>(buffer));
}

// Per-thread match state: match data with room for the whole match, and a JIT stack larger than the 32 KiB
// default so that long runs of one character class (whitespace, digits) cannot overflow it.
struct thread_match_state {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    thread_match_state() {
        LLMFLEET_CHECK(data != nullptr && context != nullptr && jit_stack != nullptr, "out of memory for PCRE2");
        pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
    ~thread_match_state() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(data);
    }
    thread_match_state(const thread_match_state&) = delete;
    thread_match_state& operator=(const thread_match_state&) = delete;
};

// Length of the UTF-8 sequence starting at text[i] (1 for an ill-formed byte): where to retry after an empty match.
size_t char_length(std::string_view text, size_t i) {
    const auto b = static_cast<uint8_t>(text[i]);
    const size_t n = b < 0xC0 ? 1 : (b < 0xE0 ? 2 : (b < 0xF0 ? 3 : 4));
    if (i + n > text.size()) {
        return 1;
    }
    for (size_t k = 1; k < n; ++k) {
        if ((static_cast<uint8_t>(text[i + k]) & 0xC0) != 0x80) {
            return 1;
        }
    }
    return n;
}

} // namespace

struct split_regex::compiled {
    std::string pattern;
    pcre2_code* code = nullptr;
    bool jit = false;
    compiled() = default;
    compiled(const compiled&) = delete;
    compiled& operator=(const compiled&) = delete;
    ~compiled() { pcre2_code_free(code); }
};

split_regex::split_regex(std::string_view pattern, std::string_view path) {
    auto c = std::make_shared<compiled>();
    c->pattern = std::string(pattern);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset, nullptr);
    if (c->code == nullptr) {
        throw invalid_input(fmt::format("{}: regex '{}' does not compile with PCRE2: {} at offset {}", path, pattern,
                                        pcre2_message(error_code), error_offset));
    }
    const int jit_rc = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);
    c->jit = jit_rc == 0;
    if (!c->jit) {
        static std::once_flag warned;
        std::call_once(warned, [&] {
            LLMFLEET_LOG_WARN("PCRE2 JIT unavailable ({}): pre-tokenizer regexes run in the slower interpreter",
                              pcre2_message(jit_rc));
        });
    }
    _compiled = std::move(c);
}

const std::string& split_regex::pattern() const {
    return _compiled->pattern;
}

bool split_regex::jit() const {
    return _compiled->jit;
}

void split_regex::split_isolated(std::string_view text, std::vector<std::string_view>& pieces) const {
    thread_local thread_match_state state;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t last_end = 0; // end of the previous match: text before the next match is a piece of its own
    size_t offset = 0;
    while (offset < text.size()) {
        const int rc = pcre2_match(_compiled->code, subject, text.size(), offset, 0, state.data, state.context);
        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }
        if (rc < 0) {
            throw invalid_input(fmt::format("pre-tokenizer regex '{}' failed on a {}-byte text at byte {}: {}",
                                            _compiled->pattern, text.size(), offset, pcre2_message(rc)));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
        const size_t start = ovector[0], end = ovector[1];
        if (start > last_end) {
            pieces.push_back(text.substr(last_end, start - last_end));
        }
        if (end > start) {
            pieces.push_back(text.substr(start, end - start));
            last_end = end;
            offset = end;
        } else {
            last_end = std::max(last_end, start);
            offset = start + char_length(text, start); // an empty match: retry one character on
        }
    }
    if (last_end < text.size()) {
        pieces.push_back(text.substr(last_end));
    }
}

void pretokenizer::split(std::string_view text, std::list<std::string>& storage,
                         std::vector<std::string_view>& pieces) const {
    thread_local std::vector<std::string_view> next;
    const size_t first = pieces.size();
    pieces.push_back(text);
    for (const pretokenizer_step& step : _steps) {
        next.clear();
        for (size_t i = first; i < pieces.size(); ++i) {
            const std::string_view piece = pieces[i];
            if (step.type == pretokenizer_step::kind::split) {
                step.regex->split_isolated(piece, next);
            } else if (!piece.empty() && piece.front() == ' ') {
                next.push_back(piece);
            } else {
                storage.push_back(" " + std::string(piece));
                next.push_back(storage.back());
            }
        }
        pieces.resize(first);
        pieces.insert(pieces.end(), next.begin(), next.end());
    }
}

} // namespace llmfleet::model
