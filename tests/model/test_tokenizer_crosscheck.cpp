// The tokenizer against independent implementations on the same tokenizer.json files (tests/reference, run by
// node): Hugging Face tokenizers.js, which @huggingface/transformers tokenizes with, for exact ids (with and
// without special tokens) and round trips; js-tiktoken for OpenAI's cl100k_base, o200k_base and r50k_base
// (GPT-2) vocabularies converted to tokenizer.json; @huggingface/jinja for make-model's chat templates. Corpus:
// tests/data/tokenizer_corpus.json plus the lines of data/tokenizer_corpus.txt. Exits 77 (skipped) without node
// or without tests/reference/node_modules.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "model/chat_template.h"
#include "model/make_tokenizer.h"
#include "model/tokenizer.h"

namespace llmfleet::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ids = std::vector<int32_t>;

const fs::path reference_dir = fs::path(LLMFLEET_SOURCE_DIR) / "tests" / "reference";
const fs::path script = reference_dir / "tokenizer_reference.mjs";

fs::path work_dir() {
    const fs::path dir = fs::path(LLMFLEET_BINARY_DIR) / "tests" / "tokenizer_crosscheck";
    fs::create_directories(dir);
    return dir;
}

void run_node(const std::string& args) {
    const std::string log = (work_dir() / "node.log").string();
    const std::string cmd = fmt::format("node '{}' {} > '{}' 2>&1", script.string(), args, log);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_file(log, "node log");
}

// For failure messages: the decoded text of wrong ids may be ill-formed UTF-8.
std::string quoted(const std::string& text) {
    return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

json read_json(const fs::path& path) {
    return json::parse(read_file(path.string(), "reference output"));
}

// The cross-check corpus, written where node can read it.
const std::vector<std::string>& corpus() {
    static const std::vector<std::string> lines = [] {
        std::vector<std::string> out =
            read_json(fs::path(LLMFLEET_SOURCE_DIR) / "tests" / "data" / "tokenizer_corpus.json")
                .get<std::vector<std::string>>();
        const std::string training_corpus =
            read_file(std::string(LLMFLEET_SOURCE_DIR) + "/data/tokenizer_corpus.txt", "corpus");
        for (std::string_view line : split(training_corpus, '\n')) {
            out.emplace_back(line);
        }
        std::ofstream(work_dir() / "corpus.json") << json(out).dump();
        return out;
    }();
    return lines;
}

// Loads our tokenizer from `tokenizer_json`, runs the references on the corpus and compares line by line.
void expect_same_as_references(const fs::path& tokenizer_json, const std::string& tiktoken_encoding = "",
                               const fs::path& config_json = {}) {
    const tokenizer ours = tokenizer::load(tokenizer_json.string());
    const std::vector<std::string>& lines = corpus();
    const fs::path out = work_dir() / (tokenizer_json.stem().string() + ".reference.json");
    std::string args = fmt::format("encode '{}' '{}' '{}'", tokenizer_json.string(),
                                   (work_dir() / "corpus.json").string(), out.string());
    if (!tiktoken_encoding.empty()) {
        args += " --tiktoken " + tiktoken_encoding;
    }
    if (!config_json.empty()) {
        args += fmt::format(" --config '{}'", config_json.string());
    }
    ASSERT_NO_FATAL_FAILURE(run_node(args));
    const json ref = read_json(out);
    const bool nfc = ours.normalizer() == normalization::nfc;
    int64_t n_equal = 0, n_tokens = 0, n_reported = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string& text = lines[i];
        const ids plain = ours.encode(text, false);
        const ids special = ours.encode(text, true);
        const std::string expected_text = nfc ? ref["nfc"][i].get<std::string>() : text;
        bool same = plain == ref["hf_plain"][i].get<ids>() && special == ref["hf_special"][i].get<ids>() &&
                    ours.decode(plain) == expected_text && ref["hf_decoded"][i].get<std::string>() == expected_text;
        if (!tiktoken_encoding.empty()) {
            same =
                same && plain == ref["tiktoken"][i].get<ids>() && ref["tiktoken_decoded"][i].get<std::string>() == text;
        }
        n_equal += same;
        n_tokens += static_cast<int64_t>(plain.size());
        if (!same && n_reported++ < 5) {
            ADD_FAILURE() << tokenizer_json.filename() << " line " << i << " " << quoted(text)
                          << "\n  ours:          " << json(plain).dump() << "\n  tokenizers.js: " << ref["hf_plain"][i]
                          << "\n  ours (special): " << json(special).dump()
                          << "\n  tokenizers.js (special): " << ref["hf_special"][i]
                          << (tiktoken_encoding.empty() ? "" : "\n  js-tiktoken:   " + ref["tiktoken"][i].dump())
                          << "\n  ours decoded:  " << quoted(ours.decode(plain))
                          << "\n  tokenizers.js decoded: " << ref["hf_decoded"][i];
        }
    }
    EXPECT_EQ(n_equal, static_cast<int64_t>(lines.size()));
    std::printf("%s: %lld/%zu corpus lines identical to tokenizers.js%s (%lld tokens)\n",
                tokenizer_json.filename().c_str(), static_cast<long long>(n_equal), lines.size(),
                tiktoken_encoding.empty() ? "" : " and js-tiktoken", static_cast<long long>(n_tokens));
}

fs::path write_make_model_tokenizer(architecture arch, int64_t vocab_size) {
    const fs::path dir = work_dir() / fmt::format("{}_{}", arch == architecture::qwen2 ? "qwen2" : "llama", vocab_size);
    fs::create_directories(dir);
    write_tokenizer_files(arch, vocab_size, 2048, dir.string());
    const fs::path renamed = dir / fmt::format("{}.tokenizer.json", dir.filename().string());
    fs::rename(dir / "tokenizer.json", renamed); // distinct names for the reference outputs
    return renamed;
}

// A converted tiktoken vocabulary, cached in the build tree (remade when the converter changes).
fs::path converted(const std::string& encoding) {
    const fs::path path = work_dir() / (encoding + ".tokenizer.json");
    std::error_code ec;
    if (!fs::exists(path) || fs::last_write_time(path, ec) < fs::last_write_time(script, ec)) {
        run_node(fmt::format("convert {} '{}'", encoding, path.string()));
    }
    return path;
}

TEST(tokenizer_crosscheck, make_model_qwen2_tiny) {
    const fs::path t = write_make_model_tokenizer(architecture::qwen2, 512);
    expect_same_as_references(t, "", t.parent_path() / "tokenizer_config.json");
}

TEST(tokenizer_crosscheck, make_model_llama_tiny) {
    const fs::path t = write_make_model_tokenizer(architecture::llama, 512);
    expect_same_as_references(t, "", t.parent_path() / "tokenizer_config.json");
}

TEST(tokenizer_crosscheck, make_model_qwen25_0_5b) {
    expect_same_as_references(write_make_model_tokenizer(architecture::qwen2, 151936));
}

TEST(tokenizer_crosscheck, make_model_llama_151936) {
    expect_same_as_references(write_make_model_tokenizer(architecture::llama, 151936));
}

TEST(tokenizer_crosscheck, tiktoken_cl100k_base) {
    expect_same_as_references(converted("cl100k_base"), "cl100k_base");
}

TEST(tokenizer_crosscheck, tiktoken_o200k_base) {
    expect_same_as_references(converted("o200k_base"), "o200k_base");
}

TEST(tokenizer_crosscheck, tiktoken_r50k_base_gpt2_byte_level_regex) {
    expect_same_as_references(converted("r50k_base"), "r50k_base");
}

TEST(tokenizer_crosscheck, chat_templates_render_like_jinja) {
    const std::vector<std::vector<chat_message>> conversations = {
        {},
        {{"user", "Hi!"}},
        {{"system", "Be terse."}, {"user", "  2+2?\n"}, {"assistant", "4"}, {"user", "And 3+3?"}},
        {{"user", "Weather?"},
         {"assistant", "Calling."},
         {"tool", "{\"t\": 21}"},
         {"tool", "{\"rain\": 0}"},
         {"system", "late system"},
         {"user", "日本語 😀"}},
        {{"tool", "first"}, {"user", "\t tabs and spaces \n"}}};
    json input = json::array();
    for (const std::vector<chat_message>& c : conversations) {
        for (bool generation_prompt : {false, true}) {
            json messages = json::array();
            for (const chat_message& m : c) {
                messages.push_back({{"role", m.role}, {"content", m.content}});
            }
            input.push_back({{"messages", messages}, {"add_generation_prompt", generation_prompt}});
        }
    }
    const fs::path conversations_path = work_dir() / "conversations.json";
    std::ofstream(conversations_path) << input.dump();
    for (architecture arch : {architecture::qwen2, architecture::llama}) {
        const fs::path dir = write_make_model_tokenizer(arch, 512).parent_path();
        const chat_template t = detect_chat_template(dir.string());
        const fs::path out = dir / "rendered.json";
        ASSERT_NO_FATAL_FAILURE(run_node(fmt::format("chat '{}' '{}' '{}'", (dir / "tokenizer_config.json").string(),
                                                     conversations_path.string(), out.string())));
        const json rendered = read_json(out);
        size_t k = 0;
        for (const std::vector<chat_message>& c : conversations) {
            for (bool generation_prompt : {false, true}) {
                EXPECT_EQ(apply_chat_template(t, c, generation_prompt), rendered[k++].get<std::string>())
                    << to_string(t) << " conversation " << k / 2 << " generation prompt " << generation_prompt;
            }
        }
        std::printf("%s: %zu conversations rendered identically by @huggingface/jinja\n",
                    std::string(to_string(t)).c_str(), k);
    }
}

// Why the references cannot run, or "" when they can.
std::string missing_reference() {
    if (std::system("node --version > /dev/null 2>&1") != 0) {
        return "node is not installed (apt-get install nodejs npm)";
    }
    for (const char* package : {"@huggingface/tokenizers", "@huggingface/jinja", "js-tiktoken"}) {
        if (!fs::exists(reference_dir / "node_modules" / package / "package.json")) {
            return fmt::format("{} is not installed in {}/node_modules", package, reference_dir.string());
        }
    }
    return "";
}

} // namespace
} // namespace llmfleet::model

// Skipped (exit 77, which CTest reports as skipped) rather than passed when the references are missing.
int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    const std::string missing = llmfleet::model::missing_reference();
    if (!missing.empty()) {
        std::fprintf(stderr,
                     "SKIPPED: the tokenizer cross-check needs node and tests/reference/node_modules: %s. Install "
                     "them with `scripts/setup.sh --test`, or `cd tests/reference && npm ci --no-audit --no-fund`.\n",
                     missing.c_str());
        return 77;
    }
    return RUN_ALL_TESTS();
}
