// The pre-tokenizer of a byte-level tokenizer.json: regex splits (PCRE2, Unicode classes) and ByteLevel's optional
// prefix space, applied in order to each piece of text between added tokens. The byte → character mapping of
// ByteLevel is left to the BPE model (bpe.h), which works on raw bytes.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::model {

// GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex true.
extern const std::string_view gpt2_split_pattern;

// A compiled PCRE2 pattern (UTF, Unicode properties for \p{..}, \s, \w; ill-formed UTF-8 in the subject never
// matches, so such bytes end up between matches; JIT-compiled when PCRE2 has a JIT). Copies share the compiled code.
class split_regex {
public:
    // Throws invalid_argument naming `path`, the PCRE2 message and the offset in the pattern.
    split_regex(std::string_view pattern, std::string_view path);
    // Hugging Face's Split with behavior Isolated: every match and every non-empty stretch between matches becomes
    // a piece, in order; the pieces are views into `text` and cover it. (thread-safe)
    void split_isolated(std::string_view text, std::vector<std::string_view>& pieces) const;
    const std::string& pattern() const;
    bool jit() const;

private:
    struct compiled;
    std::shared_ptr<const compiled> _compiled;
};

struct pretokenizer_step {
    enum class kind {
        split,            // split every piece by `regex` (Split, or ByteLevel with use_regex)
        add_prefix_space, // ByteLevel's add_prefix_space: prepend ' ' to a piece that does not start with one
    };
    kind type = kind::split;
    std::shared_ptr<const split_regex> regex; // kind::split only
};

// Immutable; split() is thread-safe.
class pretokenizer {
public:
    pretokenizer() = default;
    explicit pretokenizer(std::vector<pretokenizer_step> steps) : _steps(std::move(steps)) {}

    // Splits `text` into pre-tokens. The views point into `text` or, for pieces given a prefix space, into
    // `storage` (a list, so that the strings stay in place as it grows).
    void split(std::string_view text, std::list<std::string>& storage, std::vector<std::string_view>& pieces) const;
    const std::vector<pretokenizer_step>& steps() const { return _steps; }

private:
    std::vector<pretokenizer_step> _steps;
};

} // namespace llmfleet::model
