// tokenizer.json → tokenizer_spec (tokenizer.h), one component at a time. Only what byte-level BPE needs is
// accepted; anything else is refused naming the component and listing the supported ones, never skipped.
#include <algorithm>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/log.h"
#include "model/tokenizer.h"

namespace llmfleet::model {

namespace {

namespace jr = json_read;
using json = nlohmann::json;

bool optional_bool(const json& obj, std::string_view key, bool fallback, std::string_view path) {
    const json* value = jr::optional_member(obj, key, path);
    return value == nullptr || value->is_null() ? fallback : jr::boolean(*value, jr::child(path, key));
}

std::string type_of(const json& obj, std::string_view path) {
    return jr::string(jr::member(obj, "type", path), jr::child(path, "type"));
}

[[noreturn]] void unsupported(std::string_view path, std::string_view what, std::string_view supported) {
    throw invalid_input(fmt::format("{}: {} is not supported; supported: {}", path, what, supported));
}

normalization parse_normalizer(const json& j, std::string_view path) {
    static constexpr std::string_view supported = "NFC, a Sequence of NFC, or null";
    if (j.is_null()) {
        return normalization::none;
    }
    const std::string type = type_of(j, path);
    if (type == "NFC") {
        return normalization::nfc;
    }
    if (type == "Sequence") {
        const std::string list_path = jr::child(path, "normalizers");
        const json& list = jr::member(j, "normalizers", path);
        if (!list.is_array()) {
            throw invalid_input(fmt::format("{}: expected an array of normalizers", list_path));
        }
        normalization n = normalization::none;
        for (size_t i = 0; i < list.size(); ++i) {
            n = std::max(n, parse_normalizer(list[i], jr::index(list_path, i)));
        }
        return n;
    }
    unsupported(jr::child(path, "type"), fmt::format("normalizer '{}'", type), supported);
}

// Appends the steps of one pre-tokenizer; `byte_level_seen` tracks that ByteLevel comes last, once.
void parse_pretokenizer(const json& j, std::string_view path, std::vector<pretokenizer_step>& steps,
                        bool& byte_level_seen) {
    static constexpr std::string_view supported =
        "Sequence, Split (a Regex or String pattern, behavior Isolated, invert false), ByteLevel";
    if (j.is_null()) {
        return;
    }
    const std::string type = type_of(j, path);
    if (byte_level_seen) {
        throw invalid_input(fmt::format("{}: a {} pre-tokenizer after ByteLevel is not supported: ByteLevel must be "
                                        "the last step (Qwen2 and Llama-3 use Sequence[Split, ByteLevel])",
                                        path, type));
    }
    if (type == "Sequence") {
        const std::string list_path = jr::child(path, "pretokenizers");
        const json& list = jr::member(j, "pretokenizers", path);
        if (!list.is_array()) {
            throw invalid_input(fmt::format("{}: expected an array of pre-tokenizers", list_path));
        }
        for (size_t i = 0; i < list.size(); ++i) {
            parse_pretokenizer(list[i], jr::index(list_path, i), steps, byte_level_seen);
        }
    } else if (type == "Split") {
        const std::string behavior = jr::string(jr::member(j, "behavior", path), jr::child(path, "behavior"));
        if (behavior != "Isolated") {
            unsupported(jr::child(path, "behavior"), fmt::format("Split behavior '{}'", behavior), "Isolated");
        }
        if (optional_bool(j, "invert", false, path)) {
            unsupported(jr::child(path, "invert"), "invert true", "invert false");
        }
        const std::string pattern_path = jr::child(path, "pattern");
        const json& pattern = jr::member(j, "pattern", path);
        std::string regex;
        if (const json* r = jr::optional_member(pattern, "Regex", pattern_path)) {
            regex = jr::string(*r, jr::child(pattern_path, "Regex"));
        } else if (const json* s = jr::optional_member(pattern, "String", pattern_path)) {
            for (char c : jr::string(*s, jr::child(pattern_path, "String"))) {
                const bool plain = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                   static_cast<uint8_t>(c) >= 0x80;
                regex += plain ? std::string(1, c) : std::string{'\\', c}; // PCRE2: \ + non-alphanumeric = literal
            }
        } else {
            throw invalid_input(fmt::format("{}: expected {{\"Regex\": ...}} or {{\"String\": ...}}", pattern_path));
        }
        steps.push_back({pretokenizer_step::kind::split, std::make_shared<split_regex>(regex, pattern_path)});
    } else if (type == "ByteLevel") {
        byte_level_seen = true;
        if (optional_bool(j, "add_prefix_space", false, path)) {
            steps.push_back({pretokenizer_step::kind::add_prefix_space, nullptr});
        }
        if (optional_bool(j, "use_regex", true, path)) {
            steps.push_back({pretokenizer_step::kind::split, std::make_shared<split_regex>(gpt2_split_pattern, path)});
        }
    } else {
        unsupported(jr::child(path, "type"), fmt::format("pre-tokenizer '{}'", type), supported);
    }
}

void parse_bpe(const json& j, tokenizer_spec& spec) {
    const std::string path = "model";
    const std::string type = type_of(j, path);
    if (type != "BPE") {
        unsupported("model.type", fmt::format("model '{}'", type), "BPE (byte-level)");
    }
    if (const json* d = jr::optional_member(j, "dropout", path);
        d != nullptr && !d->is_null() && jr::number(*d, "model.dropout") != 0) {
        unsupported("model.dropout", fmt::format("BPE dropout {}", d->dump()), "null (encoding is deterministic)");
    }
    if (optional_bool(j, "byte_fallback", false, path)) {
        unsupported("model.byte_fallback", "byte_fallback true (SentencePiece-style <0xNN> tokens)",
                    "false (byte-level BPE encodes every byte)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const json* v = jr::optional_member(j, key, path);
        if (v != nullptr && !v->is_null() && !jr::string(*v, jr::child(path, key)).empty()) {
            unsupported(jr::child(path, key), fmt::format("'{}'", v->get<std::string>()), "null");
        }
    }
    spec.ignore_merges = optional_bool(j, "ignore_merges", false, path);

    const json& vocab = jr::member(j, "vocab", path);
    if (!vocab.is_object()) {
        throw invalid_input(fmt::format("model.vocab: expected an object of token → id, got {}", vocab.type_name()));
    }
    spec.vocab.reserve(vocab.size());
    for (const auto& [token, id] : vocab.items()) {
        // The path is formatted only on error: real vocabularies hold 100k-200k entries.
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > max_token_id) {
            const std::string id_path = fmt::format("model.vocab[\"{}\"]", token);
            throw invalid_input(fmt::format("{}: expected an id in [0, {}], got {}", id_path, max_token_id, id.dump()));
        }
        spec.vocab.push_back({token, static_cast<int32_t>(id.get<int64_t>())});
    }

    const json& merges = jr::member(j, "merges", path);
    if (!merges.is_array()) {
        throw invalid_input(fmt::format("model.merges: expected an array, got {}", merges.type_name()));
    }
    spec.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        const json& m = merges[i];
        const auto merge_path = [i] { return jr::index("model.merges", i); };
        if (m.is_string()) { // "Ġ t": the two tokens, separated by the one space (byte-level tokens hold none)
            const std::string& text = m.get_ref<const std::string&>();
            const size_t space = text.find(' ');
            if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos || space == 0 ||
                space + 1 == text.size()) {
                throw invalid_input(
                    fmt::format("{}: expected \"left right\" (two tokens, one space), got \"{}\"", merge_path(), text));
            }
            spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            throw invalid_input(fmt::format("{}: expected \"left right\" or [\"left\", \"right\"], got {}",
                                            merge_path(), m.dump().substr(0, 60)));
        }
    }
}

std::vector<added_token> parse_added_tokens(const json& list) {
    if (list.is_null()) {
        return {};
    }
    if (!list.is_array()) {
        throw invalid_input(fmt::format("added_tokens: expected an array, got {}", list.type_name()));
    }
    std::vector<added_token> tokens;
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string path = jr::index("added_tokens", i);
        added_token t;
        const int64_t id = jr::integer(jr::member(list[i], "id", path), jr::child(path, "id"));
        if (id < 0 || id > max_token_id) {
            throw invalid_input(fmt::format("{}.id: expected an id in [0, {}], got {}", path, max_token_id, id));
        }
        t.id = static_cast<int32_t>(id);
        t.content = jr::string(jr::member(list[i], "content", path), jr::child(path, "content"));
        t.special = optional_bool(list[i], "special", false, path);
        t.lstrip = optional_bool(list[i], "lstrip", false, path);
        t.rstrip = optional_bool(list[i], "rstrip", false, path);
        t.single_word = optional_bool(list[i], "single_word", false, path);
        t.normalized = optional_bool(list[i], "normalized", !t.special, path);
        tokens.push_back(std::move(t));
    }
    return tokens;
}

// Post-processing of a single sequence: ids before and after the text.
void parse_post_processor(const json& j, std::string_view path, tokenizer_spec& spec) {
    static constexpr std::string_view supported = "TemplateProcessing, ByteLevel, a Sequence of those, or null";
    if (j.is_null()) {
        return;
    }
    const std::string type = type_of(j, path);
    if (type == "ByteLevel") {
        return; // only adjusts offsets, which llmfleet does not report
    }
    if (type == "Sequence") {
        const std::string list_path = jr::child(path, "processors");
        const json& list = jr::member(j, "processors", path);
        for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
            parse_post_processor(list[i], jr::index(list_path, i), spec);
        }
        if (!list.is_array()) {
            throw invalid_input(fmt::format("{}: expected an array of post-processors", list_path));
        }
        return;
    }
    if (type != "TemplateProcessing") {
        unsupported(jr::child(path, "type"), fmt::format("post-processor '{}'", type), supported);
    }
    const std::string single_path = jr::child(path, "single");
    const json& single = jr::member(j, "single", path);
    const json& special = jr::member(j, "special_tokens", path);
    std::vector<int32_t> before, after;
    bool seen_sequence = false;
    for (size_t i = 0; single.is_array() && i < single.size(); ++i) {
        const std::string item_path = jr::index(single_path, i);
        if (const json* s = jr::optional_member(single[i], "Sequence", item_path)) {
            const std::string id = jr::string(jr::member(*s, "id", item_path), jr::child(item_path, "Sequence.id"));
            if (id != "A" || seen_sequence) {
                throw invalid_input(
                    fmt::format("{}: expected the text once as Sequence \"A\", got \"{}\"", item_path, id));
            }
            seen_sequence = true;
            continue;
        }
        const json& token = jr::member(single[i], "SpecialToken", item_path);
        const std::string name =
            jr::string(jr::member(token, "id", item_path), jr::child(item_path, "SpecialToken.id"));
        const std::string entry_path = fmt::format("{}.special_tokens[\"{}\"]", path, name);
        const json& entry = jr::member(special, name, jr::child(path, "special_tokens"));
        const json& ids = jr::member(entry, "ids", entry_path);
        for (size_t k = 0; ids.is_array() && k < ids.size(); ++k) {
            const int64_t id = jr::integer(ids[k], jr::index(jr::child(entry_path, "ids"), k));
            // Checked against the vocabulary when the tokenizer is built; clamped so that the cast keeps it invalid.
            (seen_sequence ? after : before).push_back(static_cast<int32_t>(std::clamp<int64_t>(id, -1, INT32_MAX)));
        }
    }
    if (!single.is_array() || !seen_sequence) {
        throw invalid_input(
            fmt::format("{}: expected an array holding {{\"Sequence\": {{\"id\": \"A\"}}}}", single_path));
    }
    // A later processor wraps what the earlier ones produced.
    spec.prefix_ids.insert(spec.prefix_ids.begin(), before.begin(), before.end());
    spec.suffix_ids.insert(spec.suffix_ids.end(), after.begin(), after.end());
}

void check_decoder(const json& j, std::string_view path) {
    const std::string type = j.is_null() ? "null" : type_of(j, path);
    if (type == "Sequence") {
        const json& list = jr::member(j, "decoders", path);
        for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
            check_decoder(list[i], jr::index(jr::child(path, "decoders"), i));
        }
    } else if (type != "ByteLevel") {
        unsupported(j.is_null() ? std::string(path) : jr::child(path, "type"), fmt::format("decoder '{}'", type),
                    "ByteLevel (or a Sequence of ByteLevel)");
    }
}

} // namespace

tokenizer_spec parse_tokenizer_json(std::string_view json_text) {
    const json j = jr::parse(json_text, "");
    if (!j.is_object()) {
        throw invalid_input(fmt::format("expected a tokenizer.json object, got {}", j.type_name()));
    }
    tokenizer_spec spec;
    parse_bpe(jr::member(j, "model", "top level"), spec);
    const json null_json;
    const auto member_or_null = [&](std::string_view key) -> const json& {
        const json* v = jr::optional_member(j, key, "top level");
        return v == nullptr ? null_json : *v;
    };
    spec.normalizer = parse_normalizer(member_or_null("normalizer"), "normalizer");
    bool byte_level = false;
    parse_pretokenizer(member_or_null("pre_tokenizer"), "pre_tokenizer", spec.pretokenizer, byte_level);
    if (!byte_level) {
        throw invalid_input("pre_tokenizer: no ByteLevel pre-tokenizer; only byte-level BPE tokenizers are supported "
                            "(GPT-2, Qwen2, Llama-3, tiktoken-derived), e.g. Sequence[Split, ByteLevel]");
    }
    spec.added_tokens = parse_added_tokens(member_or_null("added_tokens"));
    parse_post_processor(member_or_null("post_processor"), "post_processor", spec);
    check_decoder(member_or_null("decoder"), "decoder");
    if (!member_or_null("truncation").is_null()) {
        LLMFLEET_LOG_WARN("tokenizer.json sets truncation; llmfleet ignores it and never truncates a prompt");
    }
    return spec;
}

} // namespace llmfleet::model
