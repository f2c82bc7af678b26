// See make_tokenizer.h. The pre-tokenizer patterns are the ones Qwen2 and Llama-3 ship (they differ only in
// digits: one per pre-token for Qwen2, up to three for Llama-3).
#include "model/make_tokenizer.h"

#include <filesystem>
#include <fstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/bpe.h"
#include "model/bpe_trainer.h"
#include "model/pretokenizer.h"

namespace llmfleet::embedded {
extern const std::string_view tokenizer_training_corpus; // data/tokenizer_corpus.txt
}

namespace llmfleet::model {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view qwen2_pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view llama3_pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Jinja equivalents of the built-ins (chat_template.cpp), so that a Jinja renderer (transformers) produces the
// same prompt; tests/reference renders them with @huggingface/jinja and compares. llmfleet only detects them.
constexpr std::string_view chatml_jinja = R"({%- if messages and messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message['role'] == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message['content'] + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- elif not (loop.first and message['role'] == 'system') %}
        {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %})";

constexpr std::string_view llama3_jinja = R"({%- for message in messages %}
    {%- if loop.first %}{{- bos_token }}{%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + (message['content'] | trim) + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %})";

ordered_json byte_level_options(bool add_prefix_space, bool trim_offsets, bool use_regex) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", add_prefix_space},
            {"trim_offsets", trim_offsets},
            {"use_regex", use_regex}};
}

// Qwen2: NFC, Split + ByteLevel, ByteLevel post-processor, merges as "a b" strings.
// Llama-3: no normaliser, Split + ByteLevel, <|begin_of_text|> by TemplateProcessing, ignore_merges, [a, b] merges.
ordered_json pipeline(architecture arch, const special_token_layout& layout) {
    const bool qwen = arch == architecture::qwen2;
    ordered_json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = ordered_json::array();
    for (size_t i = 0; i < layout.tokens.size(); ++i) {
        j["added_tokens"].push_back({{"id", layout.tokens[i].second},
                                     {"content", layout.tokens[i].first},
                                     {"single_word", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"normalized", false},
                                     {"special", static_cast<bool>(layout.special[i])}});
    }
    j["normalizer"] = qwen ? ordered_json{{"type", "NFC"}} : ordered_json(nullptr);
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"},
                             {"pattern", {{"Regex", qwen ? qwen2_pattern : llama3_pattern}}},
                             {"behavior", "Isolated"},
                             {"invert", false}},
                            byte_level_options(false, !qwen, false)}}};
    if (qwen) {
        j["post_processor"] = byte_level_options(false, false, false);
        j["decoder"] = byte_level_options(false, false, false);
    } else {
        const std::string bos = "<|begin_of_text|>";
        const ordered_json bos_item = {{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
        ordered_json templ = {{"type", "TemplateProcessing"},
                              {"single", {bos_item, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                              {"pair",
                               {bos_item,
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                bos_item,
                                {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
                              {"special_tokens", {{bos, {{"id", bos}, {"ids", {layout.bos_id}}, {"tokens", {bos}}}}}}};
        j["post_processor"] = {{"type", "Sequence"},
                               {"processors", {byte_level_options(true, false, true), std::move(templ)}}};
        j["decoder"] = byte_level_options(true, true, true);
    }
    return j;
}

} // namespace

special_token_layout special_token_layout_for(architecture arch, int64_t vocab_size) {
    special_token_layout l;
    const auto add = [&](std::string content, int64_t id, bool special = true) {
        l.tokens.emplace_back(std::move(content), static_cast<int32_t>(id));
        l.special.push_back(special);
    };
    const int64_t n_small = arch == architecture::qwen2 ? 3 : 5;
    if (vocab_size < 256 + 16 + n_small) {
        throw invalid_input(fmt::format("vocab_size {} is too small for a tokenizer: need 256 byte tokens, some "
                                        "merges and {} special tokens",
                                        vocab_size, n_small));
    }
    if (arch == architecture::qwen2) {
        const bool real = vocab_size >= 151665;
        const int64_t base = real ? 151643 : vocab_size - 3;
        add("<|endoftext|>", base);
        add("<|im_start|>", base + 1);
        add("<|im_end|>", base + 2);
        if (real) {
            int64_t id = base + 3;
            for (const char* name : {"<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
                                     "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                                     "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"}) {
                add(name, id++);
            }
            for (const char* name : {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
                                     "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}) {
                add(name, id++, false); // not special in Qwen2.5: decode keeps them when skipping specials
            }
        }
        l.bos_id = static_cast<int32_t>(base);
        l.eos_ids = {static_cast<int32_t>(base + 2), static_cast<int32_t>(base)};
    } else if (vocab_size >= 128256) {
        const int64_t base = 128000;
        const char* named[] = {"<|begin_of_text|>",
                               "<|end_of_text|>",
                               nullptr,
                               nullptr,
                               "<|finetune_right_pad_id|>",
                               nullptr,
                               "<|start_header_id|>",
                               "<|end_header_id|>",
                               "<|eom_id|>",
                               "<|eot_id|>",
                               "<|python_tag|>"};
        int64_t n_reserved = 0;
        for (int64_t k = 0; k < 256; ++k) {
            const char* name = k < 11 ? named[k] : nullptr;
            add(name != nullptr ? std::string(name) : fmt::format("<|reserved_special_token_{}|>", n_reserved++),
                base + k);
        }
        l.bos_id = static_cast<int32_t>(base);
        l.eos_ids = {static_cast<int32_t>(base + 9), static_cast<int32_t>(base + 1)};
    } else {
        const int64_t base = vocab_size - 5;
        int64_t id = base;
        for (const char* name :
             {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
            add(name, id++);
        }
        l.bos_id = static_cast<int32_t>(base);
        l.eos_ids = {static_cast<int32_t>(base + 4), static_cast<int32_t>(base + 1)};
    }
    l.first_added_id = l.tokens.front().second;
    l.last_added_id = l.tokens.back().second;
    return l;
}

std::string make_tokenizer_json(architecture arch, int64_t vocab_size) {
    const special_token_layout layout = special_token_layout_for(arch, vocab_size);
    const split_regex regex(arch == architecture::qwen2 ? qwen2_pattern : llama3_pattern, "make-model pre-tokenizer");
    std::vector<std::string_view> pieces;
    regex.split_isolated(embedded::tokenizer_training_corpus, pieces);
    const bpe_training training = train_bpe(pieces, static_cast<size_t>(layout.first_added_id - 256), /*min_count=*/2);

    ordered_json j = pipeline(arch, layout);
    // Appended to the object's underlying vector: ordered_json's operator[] searches linearly, O(n²) for 151936
    // tokens. The keys are distinct by construction (learned tokens never mix letters and digits, fillers do).
    ordered_json vocab = ordered_json::object();
    auto& entries = vocab.get_ref<ordered_json::object_t&>();
    entries.reserve(static_cast<size_t>(vocab_size));
    int64_t id = 0;
    for (const std::string& c : byte_level_alphabet()) {
        entries.emplace_back(c, id++);
    }
    for (const std::string& t : training.new_tokens) {
        entries.emplace_back(t, id++);
    }
    for (; id < vocab_size; ++id) {
        if (id < layout.first_added_id || id > layout.last_added_id) {
            entries.emplace_back(byte_level_encode(fmt::format(" filler{}", id)), id);
        }
    }
    ordered_json merges = ordered_json::array();
    for (const auto& [left, right] : training.merges) {
        if (arch == architecture::qwen2) {
            merges.push_back(left + " " + right);
        } else {
            merges.push_back({left, right});
        }
    }
    j["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", arch == architecture::llama},
                  {"vocab", std::move(vocab)},
                  {"merges", std::move(merges)}};
    return j.dump(1);
}

std::string make_tokenizer_config_json(architecture arch, int64_t vocab_size, int64_t model_max_length) {
    const special_token_layout layout = special_token_layout_for(arch, vocab_size);
    const auto name_of = [&](int32_t id) {
        for (const auto& [content, token_id] : layout.tokens) {
            if (token_id == id) {
                return content;
            }
        }
        return std::string();
    };
    const bool qwen = arch == architecture::qwen2;
    ordered_json decoder = ordered_json::object();
    for (size_t i = 0; i < layout.tokens.size(); ++i) {
        decoder[std::to_string(layout.tokens[i].second)] = {{"content", layout.tokens[i].first},
                                                            {"lstrip", false},
                                                            {"normalized", false},
                                                            {"rstrip", false},
                                                            {"single_word", false},
                                                            {"special", static_cast<bool>(layout.special[i])}};
    }
    ordered_json j;
    j["add_bos_token"] = false; // the tokenizer.json post-processor (Llama-3) or nothing (Qwen2) decides
    j["added_tokens_decoder"] = std::move(decoder);
    // Qwen2.5 has no BOS token name (config.json still gives <|endoftext|>'s id); Llama-3 names <|begin_of_text|>.
    j["bos_token"] = qwen ? ordered_json(nullptr) : ordered_json(name_of(layout.bos_id));
    j["chat_template"] = qwen ? chatml_jinja : llama3_jinja;
    j["clean_up_tokenization_spaces"] = false; // llmfleet decodes the exact bytes
    j["eos_token"] = name_of(layout.eos_ids.front());
    j["model_max_length"] = model_max_length;
    j["pad_token"] = name_of(layout.eos_ids.back());
    j["tokenizer_class"] = qwen ? "Qwen2Tokenizer" : "PreTrainedTokenizerFast";
    j["unk_token"] = nullptr;
    return j.dump(2);
}

void write_tokenizer_files(architecture arch, int64_t vocab_size, int64_t model_max_length, const std::string& dir) {
    namespace fs = std::filesystem;
    const std::pair<std::string, std::string> files[] = {
        {"tokenizer.json", make_tokenizer_json(arch, vocab_size)},
        {"tokenizer_config.json", make_tokenizer_config_json(arch, vocab_size, model_max_length)}};
    for (const auto& [name, text] : files) {
        const fs::path path = fs::path(dir) / name;
        std::ofstream out(path, std::ios::binary);
        if (!(out << text << "\n")) {
            throw error(status_code::unavailable, fmt::format("cannot write '{}'", path.string()));
        }
    }
}

} // namespace llmfleet::model
