// See tokenizer.h. The encode pipeline per call: split out added tokens matched in the raw text → normalise each
// plain segment → split out added tokens matched in the normalised text → pre-tokenize → BPE each pre-token.
#include "model/tokenizer.h"

#include <filesystem>
#include <list>

#include <fmt/core.h>

#include "common/error.h"
#include "common/text.h"

namespace llmfleet::model {

tokenizer tokenizer::load(const std::string& model_dir_or_file) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const bool is_dir = fs::is_directory(model_dir_or_file, ec);
    const std::string path = is_dir ? (fs::path(model_dir_or_file) / "tokenizer.json").string() : model_dir_or_file;
    if (!fs::exists(path, ec)) {
        throw not_found(fmt::format("no tokenizer at '{}': expected {}; copy the model's tokenizer.json there "
                                    "(llmfleet make-model writes one), or give prompts as token ids",
                                    path, is_dir ? "tokenizer.json in the model directory" : "a tokenizer.json file"));
    }
    return from_json(read_file(path, "tokenizer"), path);
}

tokenizer tokenizer::from_json(std::string_view json_text, std::string_view origin) {
    try {
        return tokenizer(parse_tokenizer_json(json_text));
    } catch (const error& e) {
        throw e.with_context(origin);
    }
}

tokenizer::tokenizer(tokenizer_spec spec)
    : _model(spec.vocab, spec.merges, spec.ignore_merges, "model"),
      _added(std::move(spec.added_tokens), spec.normalizer, "added_tokens"),
      _pretokenizer(std::move(spec.pretokenizer)), _normalizer(spec.normalizer),
      _prefix_ids(std::move(spec.prefix_ids)), _suffix_ids(std::move(spec.suffix_ids)) {
    int64_t max_id = _model.max_id();
    for (const added_token& t : _added.tokens()) {
        max_id = std::max<int64_t>(max_id, t.id);
        _has_normalized_added = _has_normalized_added || t.normalized;
    }
    _entries.resize(static_cast<size_t>(max_id + 1));
    for (int32_t id = 0; id <= _model.max_id(); ++id) {
        if (_model.has_id(id)) {
            _entries[static_cast<size_t>(id)].kind = id_kind::vocab;
        }
    }
    // An added token wins over a vocabulary token with the same id, as in Hugging Face's id → token lookup.
    for (size_t i = 0; i < _added.tokens().size(); ++i) {
        const added_token& t = _added.tokens()[i];
        _entries[static_cast<size_t>(t.id)] = {t.special ? id_kind::special : id_kind::added, static_cast<uint32_t>(i)};
    }
    for (const std::vector<int32_t>* ids : {&_prefix_ids, &_suffix_ids}) {
        for (int32_t id : *ids) {
            if (id < 0 || id > max_id || _entries[static_cast<size_t>(id)].kind == id_kind::none) {
                throw invalid_input(fmt::format("post_processor: special token id {} is not a token of this file "
                                                "(ids 0..{})",
                                                id, max_id));
            }
        }
    }
}

const tokenizer::id_entry& tokenizer::entry(int32_t id) const {
    if (id < 0 || id >= vocab_size()) {
        throw invalid_input(fmt::format("token id {} is outside the tokenizer's vocabulary [0, {})", id, vocab_size()));
    }
    const id_entry& e = _entries[static_cast<size_t>(id)];
    if (e.kind == id_kind::none) {
        throw invalid_input(fmt::format("token id {} has no token: tokenizer.json's vocabulary has a gap there "
                                        "(vocab_size {}); such an id cannot be decoded",
                                        id, vocab_size()));
    }
    return e;
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + _prefix_ids.size() + _suffix_ids.size() + 4);
    if (add_special_tokens) {
        ids.insert(ids.end(), _prefix_ids.begin(), _prefix_ids.end());
    }
    // Scratch reused by the thread's next calls (encode is not re-entered); cleared before use.
    thread_local std::vector<text_segment> raw_segments, segments;
    thread_local std::string normalized_storage;
    thread_local std::list<std::string> piece_storage; // a std::list allocates nothing while empty
    thread_local std::vector<std::string_view> pieces;
    raw_segments.clear();
    if (_added.empty()) {
        raw_segments.push_back({text, -1});
    } else {
        _added.split(text, false, raw_segments);
    }
    for (const text_segment& raw : raw_segments) {
        if (raw.token_id >= 0) {
            ids.push_back(raw.token_id);
            continue;
        }
        const std::string_view normalized = normalize(_normalizer, raw.text, normalized_storage);
        segments.clear();
        if (_has_normalized_added) {
            _added.split(normalized, true, segments);
        } else if (!normalized.empty()) {
            segments.push_back({normalized, -1});
        }
        for (const text_segment& segment : segments) {
            if (segment.token_id >= 0) {
                ids.push_back(segment.token_id);
                continue;
            }
            pieces.clear();
            piece_storage.clear();
            _pretokenizer.split(segment.text, piece_storage, pieces);
            for (std::string_view piece : pieces) {
                _model.encode(piece, ids);
            }
        }
    }
    if (add_special_tokens) {
        ids.insert(ids.end(), _suffix_ids.begin(), _suffix_ids.end());
    }
    return ids;
}

void tokenizer::append_bytes(int32_t id, bool skip_special_tokens, std::string& out) const {
    const id_entry& e = entry(id);
    if (e.kind == id_kind::vocab) {
        out += _model.token_bytes(id);
    } else if (e.kind == id_kind::added || !skip_special_tokens) {
        out += _added.tokens()[e.added_index].content; // added tokens are text, not byte-level strings
    }
}

std::string tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    std::string out;
    out.reserve(ids.size() * 4);
    for (int32_t id : ids) {
        append_bytes(id, skip_special_tokens, out);
    }
    return out;
}

std::optional<int32_t> tokenizer::token_to_id(std::string_view token) const {
    if (const added_token* t = _added.find(token)) {
        return t->id;
    }
    if (const int32_t* id = _model.find(token)) {
        return *id;
    }
    return std::nullopt;
}

std::string_view tokenizer::id_to_token(int32_t id) const {
    const id_entry& e = entry(id);
    return e.kind == id_kind::vocab ? std::string_view(_model.token(id))
                                    : std::string_view(_added.tokens()[e.added_index].content);
}

bool tokenizer::is_special(int32_t id) const {
    return id >= 0 && id < vocab_size() && _entries[static_cast<size_t>(id)].kind == id_kind::special;
}

std::string tokenizer::describe() const {
    int64_t n_ids = 0, n_special = 0;
    for (const id_entry& e : _entries) {
        n_ids += e.kind != id_kind::none;
        n_special += e.kind == id_kind::special;
    }
    int64_t n_regex = 0;
    bool all_jit = true;
    for (const pretokenizer_step& step : _pretokenizer.steps()) {
        if (step.type == pretokenizer_step::kind::split) {
            ++n_regex;
            all_jit = all_jit && step.regex->jit();
        }
    }
    return fmt::format("byte-level BPE: {} ids of vocab_size {} ({} added, {} special), {} merges, normaliser {}, "
                       "{} regex(es){}",
                       n_ids, vocab_size(), _added.tokens().size(), n_special, _model.n_merges(),
                       to_string(_normalizer), n_regex, n_regex == 0 ? "" : (all_jit ? " (JIT)" : " (no JIT)"));
}

} // namespace llmfleet::model
