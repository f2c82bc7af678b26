// See added_tokens.h. Matching scans the text once; at each byte only the tokens starting with that byte are
// tried (longest first), which is cheap for the few dozen to few hundred added tokens real models have.
#include "model/added_tokens.h"

#include <algorithm>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::model {

namespace {

// The code point ending at text[end - 1], or -1 (none, or ill-formed).
UChar32 char_before(std::string_view text, size_t end) {
    if (end == 0) {
        return -1;
    }
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    auto i = static_cast<int32_t>(end);
    UChar32 c = 0;
    U8_PREV(s, 0, i, c);
    return c;
}

UChar32 char_at(std::string_view text, size_t pos) {
    if (pos >= text.size()) {
        return -1;
    }
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    auto i = static_cast<int32_t>(pos);
    UChar32 c = 0;
    U8_NEXT(s, i, static_cast<int32_t>(text.size()), c);
    return c;
}

bool is_word_char(UChar32 c) {
    return c >= 0 && (u_isalnum(c) || c == '_');
}

bool is_space(UChar32 c) {
    return c >= 0 && u_isUWhiteSpace(c);
}

size_t utf8_length(UChar32 c) {
    return static_cast<size_t>(U8_LENGTH(c));
}

} // namespace

added_vocabulary::added_vocabulary(std::vector<added_token> tokens, normalization n, std::string_view path)
    : _tokens(std::move(tokens)) {
    for (size_t i = 0; i < _tokens.size(); ++i) {
        const added_token& t = _tokens[i];
        if (t.content.empty()) {
            throw invalid_input(fmt::format("{}[{}]: content is empty; an added token needs text to match", path, i));
        }
        std::string storage;
        _match_text.emplace_back(t.normalized ? normalize(n, t.content, storage) : std::string_view(t.content));
        if (!_by_content.emplace(t.content, i).second) {
            throw invalid_input(fmt::format("{}[{}]: content '{}' is already added_tokens[{}]", path, i, t.content,
                                            _by_content.find(t.content)->second));
        }
        if (!_by_id.emplace(t.id, i).second) {
            throw invalid_input(fmt::format("{}[{}]: id {} ('{}') is already the id of added token '{}'", path, i, t.id,
                                            t.content, _tokens[_by_id[t.id]].content));
        }
        _by_first_byte[static_cast<uint8_t>(_match_text[i][0])].push_back(static_cast<int32_t>(i));
    }
    for (std::vector<int32_t>& candidates : _by_first_byte) {
        std::stable_sort(candidates.begin(), candidates.end(), [&](int32_t a, int32_t b) {
            return _match_text[static_cast<size_t>(a)].size() > _match_text[static_cast<size_t>(b)].size();
        });
    }
}

const added_token* added_vocabulary::find(int32_t id) const {
    const auto it = _by_id.find(id);
    return it == _by_id.end() ? nullptr : &_tokens[it->second];
}

const added_token* added_vocabulary::find(std::string_view content) const {
    const auto it = _by_content.find(content);
    return it == _by_content.end() ? nullptr : &_tokens[it->second];
}

int32_t added_vocabulary::longest_match(std::string_view text, size_t pos, bool normalized) const {
    for (int32_t k : _by_first_byte[static_cast<uint8_t>(text[pos])]) {
        const std::string& match = _match_text[static_cast<size_t>(k)];
        if (_tokens[static_cast<size_t>(k)].normalized == normalized && text.compare(pos, match.size(), match) == 0) {
            return k;
        }
    }
    return -1;
}

void added_vocabulary::split(std::string_view text, bool normalized, std::vector<text_segment>& out) const {
    size_t plain_start = 0; // where the current stretch of plain text began
    size_t pos = 0;
    while (pos < text.size()) {
        if (_by_first_byte[static_cast<uint8_t>(text[pos])].empty()) {
            ++pos;
            continue;
        }
        const int32_t k = longest_match(text, pos, normalized);
        if (k < 0) {
            ++pos;
            continue;
        }
        const added_token& t = _tokens[static_cast<size_t>(k)];
        const size_t length = _match_text[static_cast<size_t>(k)].size();
        size_t start = pos, end = pos + length;
        if (t.single_word && (is_word_char(char_before(text, start)) || is_word_char(char_at(text, end)))) {
            pos = end; // as Hugging Face: the rejected match stays plain text and the scan resumes after it
            continue;
        }
        for (UChar32 c; t.lstrip && start > plain_start && is_space(c = char_before(text, start));) {
            start -= utf8_length(c);
        }
        for (UChar32 c; t.rstrip && is_space(c = char_at(text, end));) {
            end += utf8_length(c);
        }
        if (start > plain_start) {
            out.push_back({text.substr(plain_start, start - plain_start), -1});
        }
        out.push_back({text.substr(pos, length), t.id});
        plain_start = pos = end;
    }
    if (plain_start < text.size()) {
        out.push_back({text.substr(plain_start), -1});
    }
}

} // namespace llmfleet::model
