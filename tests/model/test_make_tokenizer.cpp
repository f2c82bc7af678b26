// model/make_tokenizer and bpe_trainer: hand-computed training steps, the special-token layouts of every preset,
// and that make-model's tokenizer files load, agree with config.json's bos/eos ids, cover every id and
// round-trip text; the chat template detected from the written tokenizer_config.json.
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "common/text.h"
#include "model/bpe.h"
#include "model/bpe_trainer.h"
#include "model/chat_template.h"
#include "model/make_model.h"
#include "model/make_tokenizer.h"
#include "model/stream_decoder.h"
#include "model/tokenizer.h"
#include "tests/test_support.h"

namespace llmfleet::embedded {
extern const std::string_view tokenizer_training_corpus;
}

namespace llmfleet::model {
namespace {

namespace fs = std::filesystem;
using ids = std::vector<int32_t>;
using merge_list = std::vector<std::pair<std::string, std::string>>;

TEST(bpe_trainer, most_frequent_pair_first_then_smaller_ids) {
    const std::vector<std::string_view> words = {"ab", "ab", "abc", "bc"};
    // (a, b) occurs 3 times, (b, c) twice: "ab" first. Then (ab, c) and (b, c) occur once each: with
    // min_count 2 training stops; with 1 the tie goes to the smaller left id, b (98) < ab (256).
    bpe_training t = train_bpe(words, 10, 2);
    EXPECT_EQ(t.merges, (merge_list{{"a", "b"}}));
    t = train_bpe(words, 10, 1);
    EXPECT_EQ(t.merges, (merge_list{{"a", "b"}, {"b", "c"}, {"ab", "c"}}));
    EXPECT_EQ(t.new_tokens, (std::vector<std::string>{"ab", "bc", "abc"}));
    // The budget of new tokens is respected; byte-level strings come out ("Ġ" for a space).
    t = train_bpe({" a", " a", " a"}, 1, 1);
    EXPECT_EQ(t.merges, (merge_list{{"Ġ", "a"}}));
    EXPECT_EQ(train_bpe(words, 0, 1).merges.size(), 0u);
}

TEST(make_tokenizer, special_token_layouts) {
    special_token_layout q = special_token_layout_for(architecture::qwen2, 512);
    EXPECT_EQ(q.tokens, (std::vector<std::pair<std::string, int32_t>>{
                            {"<|endoftext|>", 509}, {"<|im_start|>", 510}, {"<|im_end|>", 511}}));
    EXPECT_EQ(q.bos_id, 509);
    EXPECT_EQ(q.eos_ids, (ids{511, 509}));
    const special_token_layout l = special_token_layout_for(architecture::llama, 512);
    EXPECT_EQ(l.tokens.front(), (std::pair<std::string, int32_t>{"<|begin_of_text|>", 507}));
    EXPECT_EQ(l.tokens.back(), (std::pair<std::string, int32_t>{"<|eot_id|>", 511}));
    EXPECT_EQ(l.bos_id, 507);
    EXPECT_EQ(l.eos_ids, (ids{511, 508}));
    q = special_token_layout_for(architecture::qwen2, 151936);
    ASSERT_EQ(q.tokens.size(), 22u);
    EXPECT_EQ(q.tokens[2], (std::pair<std::string, int32_t>{"<|im_end|>", 151645}));
    EXPECT_EQ(q.tokens[14], (std::pair<std::string, int32_t>{"<tool_call>", 151657}));
    EXPECT_FALSE(q.special[14]);
    EXPECT_EQ(q.tokens.back().second, 151664);
    EXPECT_EQ(q.eos_ids, (ids{151645, 151643}));
    const special_token_layout big_llama = special_token_layout_for(architecture::llama, 151936);
    EXPECT_EQ(big_llama.tokens.size(), 256u);
    EXPECT_EQ(big_llama.tokens[6], (std::pair<std::string, int32_t>{"<|start_header_id|>", 128006}));
    EXPECT_EQ(big_llama.tokens[9], (std::pair<std::string, int32_t>{"<|eot_id|>", 128009}));
    EXPECT_EQ(big_llama.tokens[255], (std::pair<std::string, int32_t>{"<|reserved_special_token_247|>", 128255}));
    EXPECT_EQ(big_llama.eos_ids, (ids{128009, 128001}));
    EXPECT_NE(test::error_of([] { special_token_layout_for(architecture::qwen2, 200); }).find("too small"),
              std::string::npos);
}

std::string written_model(const std::string& name, architecture arch) {
    const std::string dir = (fs::path(LLMFLEET_BINARY_DIR) / "tests" / ("make_tokenizer." + name)).string();
    fs::remove_all(dir);
    make_model({arch, "tiny", 1, dtype::bf16, 1, dir});
    return dir;
}

// Every id decodes; the named specials sit at config's ids; the corpus round-trips.
void expect_consistent(const std::string& dir, const std::vector<std::string>& specials) {
    const model_config c = load_config(dir);
    const tokenizer t = tokenizer::load(dir);
    EXPECT_EQ(t.vocab_size(), c.vocab_size);
    for (int32_t id = 0; id < t.vocab_size(); ++id) {
        ASSERT_NO_THROW((void)t.decode(ids{id})) << id;
        EXPECT_EQ(t.id_to_token(id).find("filler"), std::string_view::npos) << "tiny has room for merges only";
    }
    for (const std::string& name : specials) {
        ASSERT_TRUE(t.token_to_id(name)) << name;
        EXPECT_TRUE(t.is_special(*t.token_to_id(name))) << name;
    }
    ASSERT_TRUE(c.bos_token_id);
    EXPECT_TRUE(t.is_special(static_cast<int32_t>(*c.bos_token_id)));
    for (int64_t eos : c.eos_token_ids) {
        EXPECT_TRUE(t.is_special(static_cast<int32_t>(eos))) << eos;
    }
    const std::string corpus(embedded::tokenizer_training_corpus);
    const ids encoded = t.encode(corpus, false);
    EXPECT_EQ(t.decode(encoded), corpus);
    EXPECT_LT(encoded.size(), corpus.size() * 2 / 3) << "the learned merges should compress the corpus they came from";
}

TEST(make_tokenizer, tiny_qwen2_files_match_the_config) {
    const std::string dir = written_model("qwen2", architecture::qwen2);
    expect_consistent(dir, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
    const model_config c = load_config(dir);
    EXPECT_EQ(c.bos_token_id, 509);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{511, 509}));
    EXPECT_EQ(detect_chat_template(dir), chat_template::chatml);
    const tokenizer t = tokenizer::load(dir);
    EXPECT_EQ(t.normalizer(), normalization::nfc);
    const std::string prompt = apply_chat_template(chat_template::chatml, {{"user", "Hi!"}}, true);
    const ids x = t.encode(prompt, false);
    EXPECT_EQ(x.front(), 510);                         // <|im_start|>
    EXPECT_EQ(t.encode(prompt, true), x);              // Qwen2 adds nothing around the text
    EXPECT_EQ(std::count(x.begin(), x.end(), 511), 2); // <|im_end|> after the system and user turns
    EXPECT_EQ(t.decode(x), prompt);
    EXPECT_EQ(read_file(dir + "/tokenizer.json", "t"), make_tokenizer_json(architecture::qwen2, 512) + "\n");
}

TEST(make_tokenizer, tiny_llama_files_match_the_config) {
    const std::string dir = written_model("llama", architecture::llama);
    expect_consistent(
        dir, {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"});
    EXPECT_EQ(detect_chat_template(dir), chat_template::llama3);
    const tokenizer t = tokenizer::load(dir);
    EXPECT_EQ(t.encode("Hi").front(), 507); // <|begin_of_text|> from TemplateProcessing
    EXPECT_EQ(t.encode("Hi", false).front(), *t.token_to_id("H"));
    const std::string prompt = apply_chat_template(chat_template::llama3, {{"user", "Hi!"}}, true);
    const ids x = t.encode(prompt, false);
    EXPECT_EQ(x.front(), 507);
    EXPECT_EQ(x[x.size() - 3], 510); // <|end_header_id|>, then "\n\n" as two byte tokens (no merge for it in tiny)
    EXPECT_EQ(t.decode(x, true), "user\n\nHi!assistant\n\n");
}

TEST(make_tokenizer, qwen25_sized_vocabulary_covers_every_id) {
    const std::string json = make_tokenizer_json(architecture::qwen2, 151936);
    EXPECT_EQ(json, make_tokenizer_json(architecture::qwen2, 151936)); // deterministic
    const tokenizer t = tokenizer::from_json(json, "qwen2.5 tokenizer.json");
    EXPECT_EQ(t.vocab_size(), 151936);
    EXPECT_EQ(t.token_to_id("<|im_start|>"), 151644);
    EXPECT_EQ(t.token_to_id("<|file_sep|>"), 151664);
    EXPECT_FALSE(t.is_special(151657)); // <tool_call>
    EXPECT_EQ(t.decode(ids{151700}), " filler151700");
    EXPECT_EQ(t.decode(ids{151642}), " filler151642");
    int64_t n_learned = 0;
    for (int32_t id = 256; id < 151643; ++id) {
        n_learned += t.id_to_token(id).find("filler") == std::string_view::npos;
    }
    EXPECT_GT(n_learned, 1000) << "the corpus should yield a few thousand merges";
    const std::string text = "Hello, wörld! 日本語 😀 12345 <|im_end|>";
    EXPECT_EQ(t.decode(t.encode(text)), text);
    EXPECT_EQ(t.encode(text).back(), 151645);
}

// Random text mixing ASCII, multi-byte characters, combining marks, ill-formed bytes and pieces of special
// tokens: the Llama tiny tokenizer (no normaliser) round-trips it exactly, the Qwen2 one (NFC) reaches a fixed
// point after one round trip, and streaming gives what decode gives. (A cheap, deterministic fuzz.)
TEST(make_tokenizer, random_text_round_trips) {
    const tokenizer llama = tokenizer::from_json(make_tokenizer_json(architecture::llama, 512), "llama tiny");
    const tokenizer qwen = tokenizer::from_json(make_tokenizer_json(architecture::qwen2, 512), "qwen2 tiny");
    const std::vector<std::string> atoms = {"a",
                                            "Z",
                                            " ",
                                            "  ",
                                            "\n",
                                            "\r\n",
                                            "\t",
                                            "7",
                                            "123",
                                            "'s",
                                            "'LL",
                                            "é",
                                            "e\xCC\x81",
                                            "\xCC\x81",
                                            "日",
                                            "本語",
                                            "😀",
                                            "👍🏽",
                                            "\xF0\x9F",
                                            "\x80",
                                            "\xFF",
                                            "\xC0\xAF",
                                            "\xED\xA0\x80",
                                            "<|im_start|>",
                                            "<|eot_id|>",
                                            "<|",
                                            "|>",
                                            "<|im_end",
                                            "\xE2\x80\xAF",
                                            "\x00",
                                            "Ω",
                                            "ﬁ"};
    std::mt19937 rng(12345);
    for (int n = 0; n < 3000; ++n) {
        std::string text;
        const int length = static_cast<int>(rng() % 24);
        for (int k = 0; k < length; ++k) {
            text += atoms[rng() % atoms.size()];
        }
        for (bool special : {false, true}) {
            ASSERT_EQ(llama.decode(llama.encode(text, special), /*skip_special_tokens=*/false).substr(special ? 17 : 0),
                      text);
            const std::string once = qwen.decode(qwen.encode(text, special));
            ASSERT_EQ(qwen.decode(qwen.encode(once, special)), once);
        }
        const ids encoded = llama.encode(text, false);
        stream_decoder stream(llama);
        std::string streamed;
        for (int32_t id : encoded) {
            streamed += stream.push(id);
        }
        ASSERT_EQ(streamed + stream.flush(), text);
    }
}

} // namespace
} // namespace llmfleet::model
