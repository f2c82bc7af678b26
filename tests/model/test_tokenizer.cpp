// model/tokenizer: hand-computed BPE on small tokenizer.json files (merge order by rank, leftmost ties,
// ignore_merges), added/special tokens, byte fallback and exact round trips of ill-formed UTF-8, NFC, the
// GPT-2 ByteLevel pre-tokenizer, Llama-3's TemplateProcessing, streaming detokenisation, threads, and the
// errors for malformed or unsupported files.
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "model/stream_decoder.h"
#include "model/tokenizer.h"
#include "tests/model/tokenizer_test_util.h"
#include "tests/test_support.h"

namespace llmfleet::model {
namespace {

using json = nlohmann::ordered_json;
using llmfleet::test::error_of;
using test::id_of;
using test::make_tokenizer;
using test::small_tokenizer_json;
using ids = std::vector<int32_t>;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// ids 256.. : bc ab abc aa
tokenizer abc_tokenizer(bool ignore_merges) {
    json j = small_tokenizer_json({"bc", "ab", "abc", "aa"}, {"b c", "a b", "ab c", "a a"});
    j["model"]["ignore_merges"] = ignore_merges;
    return make_tokenizer(j);
}

TEST(tokenizer, merges_apply_lowest_rank_first) {
    const tokenizer t = abc_tokenizer(false);
    const int32_t a = id_of(t, "a"), b = id_of(t, "b"), c = id_of(t, "c");
    ASSERT_EQ(id_of(t, "bc"), 256);
    // "abc": rank 0 (b c) merges first, leaving a + bc, which has no merge. Merging left to right, or by the
    // rank of "a b" first, would give "ab" + "c" → "abc" (id 258) instead.
    EXPECT_EQ(t.encode("abc"), (ids{a, 256}));
    // "abd": no "b c" pair, so "a b" (rank 1) applies.
    EXPECT_EQ(t.encode("abd"), (ids{257, id_of(t, "d")}));
    // Equal ranks: leftmost first. "aaa" → aa + a, not a + aa.
    EXPECT_EQ(t.encode("aaa"), (ids{259, a}));
    EXPECT_EQ(t.encode("aaaaa"), (ids{259, 259, a}));
    // Pre-tokens never merge across: "ab" + " c" (the pattern splits before the space).
    EXPECT_EQ(t.encode("ab c"), (ids{257, id_of(t, " "), c}));
    EXPECT_EQ(t.decode(t.encode("abc abd aaa")), "abc abd aaa");
    (void)b;
}

TEST(tokenizer, ignore_merges_takes_whole_pre_tokens_from_the_vocabulary) {
    const tokenizer t = abc_tokenizer(true);
    EXPECT_EQ(t.encode("abc"), (ids{258}));                                // "abc" is a token: no merges run
    EXPECT_EQ(t.encode("abcc"), (ids{id_of(t, "a"), 256, id_of(t, "c")})); // not a token: merges as usual
}

TEST(tokenizer, later_merges_build_on_earlier_ones) {
    // "hello": l l (0), he (1), ll o (2), he llo (3) → one token.
    const tokenizer t = make_tokenizer(
        small_tokenizer_json({"ll", "he", "llo", "hello", "Ġhello"}, {"l l", "h e", "ll o", "he llo", "Ġ hello"}));
    EXPECT_EQ(t.encode("hello"), (ids{259}));
    EXPECT_EQ(t.encode("hello hello"), (ids{259, 260}));
    EXPECT_EQ(t.encode("hellohello"), (ids{259, 259}));
    EXPECT_EQ(t.encode("help"), (ids{257, id_of(t, "l"), id_of(t, "p")}));
    EXPECT_EQ(t.id_to_token(260), "Ġhello");
    EXPECT_EQ(t.token_to_id("Ġhello"), 260);
    EXPECT_FALSE(t.token_to_id("nope"));
    EXPECT_EQ(t.vocab_size(), 261);
}

TEST(tokenizer, merges_as_pairs_equal_merges_as_strings) {
    json j = small_tokenizer_json({"bc", "ab", "abc", "aa"}, {});
    j["model"]["merges"] = json::array(
        {json::array({"b", "c"}), json::array({"a", "b"}), json::array({"ab", "c"}), json::array({"a", "a"})});
    const tokenizer pairs = make_tokenizer(j);
    const tokenizer strings = abc_tokenizer(false);
    for (const char* text : {"abc", "abd", "aaa", "cab abc aab"}) {
        EXPECT_EQ(pairs.encode(text), strings.encode(text)) << text;
    }
}

TEST(tokenizer, any_bytes_round_trip_through_byte_tokens) {
    const tokenizer t = abc_tokenizer(false);
    std::string all_bytes;
    for (int b = 0; b < 256; ++b) {
        all_bytes += static_cast<char>(b);
    }
    const ids encoded = t.encode(all_bytes);
    EXPECT_EQ(t.decode(encoded), all_bytes);
    // Ill-formed UTF-8 (lone continuation, truncated sequence, overlong, surrogate): each bad byte is its own token.
    const std::string bad = "a\x80z\xE2\x82 \xC0\xAF\xED\xA0\x80\xFF";
    const ids bad_ids = t.encode(bad);
    EXPECT_EQ(t.decode(bad_ids), bad);
    EXPECT_EQ(bad_ids[1], *t.token_to_id(std::string(byte_level_char(0x80))));
    // Multi-byte characters with no merges become their UTF-8 bytes: "é" = C3 A9, "😀" = F0 9F 98 80.
    EXPECT_EQ(t.encode("é"), (ids{id_of(t, "\xC3"), id_of(t, "\xA9")}));
    EXPECT_EQ(t.encode("😀").size(), 4u);
    EXPECT_EQ(t.decode(t.encode("😀 日本語 ")), "😀 日本語 ");
    EXPECT_TRUE(t.encode("").empty());
}

TEST(tokenizer, byte_level_map_is_gpt2s) {
    EXPECT_EQ(byte_level_char(' '), "Ġ");
    EXPECT_EQ(byte_level_char('\n'), "Ċ");
    EXPECT_EQ(byte_level_char('a'), "a");
    EXPECT_EQ(byte_level_char(0x00), "Ā");
    EXPECT_EQ(byte_level_char(0xAD), "Ń"); // the soft hyphen is remapped, like the control characters
    EXPECT_EQ(byte_level_alphabet().front(), "!");
    std::string bytes;
    EXPECT_TRUE(byte_level_decode("ĠhelloĊ", bytes));
    EXPECT_EQ(bytes, " hello\n");
    EXPECT_FALSE(byte_level_decode("日", bytes));
}

json with_added(json j, const std::vector<json>& tokens) {
    for (const json& t : tokens) {
        j["added_tokens"].push_back(t);
    }
    return j;
}

json added(int id, const std::string& content, bool special, bool lstrip = false, bool rstrip = false,
           bool single_word = false) {
    return {{"id", id},         {"content", content},  {"single_word", single_word}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
}

TEST(tokenizer, added_tokens_are_split_out_before_bpe) {
    const tokenizer t = make_tokenizer(
        with_added(small_tokenizer_json({"ab"}, {"a b"}),
                   {added(300, "<|im_start|>", true), added(301, "<|im_end|>", true), added(302, "<|im", false)}));
    EXPECT_EQ(t.vocab_size(), 303);
    const int32_t nl = id_of(t, "\n");
    EXPECT_EQ(t.encode("<|im_start|>ab\n<|im_end|>"), (ids{300, 256, nl, 301}));
    // Longest match wins over the shorter "<|im"; a near miss stays text.
    EXPECT_EQ(t.encode("<|im<|im_end|"),
              (ids{302, 302, id_of(t, "_"), id_of(t, "e"), id_of(t, "n"), id_of(t, "d"), id_of(t, "|")}));
    // add_special_tokens has no post-processor tokens to add here, and never stops recognition.
    EXPECT_EQ(t.encode("<|im_end|>", false), (ids{301}));
    EXPECT_TRUE(t.is_special(300));
    EXPECT_FALSE(t.is_special(302));
    EXPECT_FALSE(t.is_special(256));
    EXPECT_EQ(t.token_to_id("<|im_end|>"), 301);
    EXPECT_EQ(t.id_to_token(301), "<|im_end|>");
    const ids x = t.encode("<|im_start|>ab<|im|im_end|>");
    EXPECT_EQ(t.decode(x), "<|im_start|>ab<|im|im_end|>");
    EXPECT_EQ(t.decode(x, /*skip_special_tokens=*/true), "ab<|im|im_end|>"); // <|im is added but not special
}

TEST(tokenizer, added_token_strip_and_single_word) {
    const tokenizer t =
        make_tokenizer(with_added(small_tokenizer_json({}, {}), {added(300, "<mask>", true, true, true),
                                                                 added(301, "cat", false, false, false, true)}));
    const int32_t a = id_of(t, "a"), b = id_of(t, "b");
    // lstrip/rstrip swallow the whitespace around the token (tabs and newlines too).
    EXPECT_EQ(t.encode("a  <mask>\t\nb"), (ids{a, 300, b}));
    // single_word: a match inside a word stays text.
    EXPECT_EQ(t.encode("cat"), (ids{301}));
    EXPECT_EQ(t.encode("a cat!"), (ids{a, id_of(t, " "), 301, id_of(t, "!")}));
    EXPECT_EQ(t.encode("concat").size(), 6u);
    EXPECT_EQ(t.encode("cats").size(), 4u);
}

TEST(tokenizer, nfc_normaliser_composes_only_when_asked) {
    json j = small_tokenizer_json({"Ã©"}, {"Ã ©"}); // "é" (C3 A9) as one token
    const tokenizer plain = make_tokenizer(j);
    j["normalizer"] = {{"type", "NFC"}};
    const tokenizer nfc = make_tokenizer(j);
    EXPECT_EQ(nfc.normalizer(), normalization::nfc);
    const std::string decomposed = "e\xCC\x81"; // e + U+0301 COMBINING ACUTE ACCENT
    EXPECT_EQ(nfc.encode(decomposed), (ids{256}));
    EXPECT_EQ(nfc.decode(nfc.encode(decomposed)), "é");
    EXPECT_EQ(plain.encode(decomposed), (ids{id_of(plain, "e"), id_of(plain, "\xCC"), id_of(plain, "\x81")}));
    EXPECT_EQ(plain.decode(plain.encode(decomposed)), decomposed);
    // Ill-formed bytes survive normalisation; the text around them is still composed.
    EXPECT_EQ(nfc.decode(nfc.encode("e\xCC\x81\xFF"
                                    "e\xCC\x81")),
              "é\xFF"
              "é");
    // A Sequence of NFC is NFC.
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}};
    EXPECT_EQ(make_tokenizer(j).encode(decomposed), (ids{256}));
}

TEST(tokenizer, gpt2_byte_level_pre_tokenizer_with_prefix_space) {
    json j = small_tokenizer_json({"Ġw", "Ġwo"}, {"Ġ w", "Ġw o"});
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
    const tokenizer t = make_tokenizer(j);
    // add_prefix_space: "wo" is encoded as " wo"; GPT-2's regex keeps "'s" as its own pre-token.
    EXPECT_EQ(t.encode("wo"), (ids{257}));
    EXPECT_EQ(t.encode("wo's wo"), (ids{257, id_of(t, "'"), id_of(t, "s"), 257}));
    EXPECT_EQ(t.decode(t.encode("wo")), " wo");
}

TEST(tokenizer, template_processing_adds_bos_when_asked) {
    json j = with_added(small_tokenizer_json({}, {}), {added(300, "<|begin_of_text|>", true)});
    const json bos = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
    j["post_processor"] = {
        {"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
          {{"type", "TemplateProcessing"},
           {"single", {bos, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
           {"pair", json::array()},
           {"special_tokens",
            {{"<|begin_of_text|>",
              {{"id", "<|begin_of_text|>"}, {"ids", {300}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}};
    const tokenizer t = make_tokenizer(j);
    EXPECT_EQ(t.encode("a"), (ids{300, id_of(t, "a")}));
    EXPECT_EQ(t.encode("a", false), (ids{id_of(t, "a")}));
    EXPECT_EQ(t.encode(""), (ids{300}));
    EXPECT_EQ(t.decode(t.encode("a"), true), "a");
}

TEST(stream_decoder, holds_back_a_split_emoji) {
    const tokenizer t = abc_tokenizer(false);
    const ids x = t.encode("a😀b"); // a, F0, 9F, 98, 80, b
    ASSERT_EQ(x.size(), 6u);
    stream_decoder s(t);
    EXPECT_EQ(s.push(x[0]), "a");
    EXPECT_EQ(s.push(x[1]), "");
    EXPECT_EQ(s.push(x[2]), "");
    EXPECT_EQ(s.push(x[3]), "");
    EXPECT_EQ(s.n_pending_bytes(), 3u);
    EXPECT_EQ(s.push(x[4]), "😀");
    EXPECT_EQ(s.push(x[5]), "b");
    EXPECT_EQ(s.flush(), "");
    // An unfinished character at the end comes out of flush(); a byte that can start nothing is not held.
    EXPECT_EQ(s.push(x[1]), "");
    EXPECT_EQ(s.flush(), "\xF0");
    EXPECT_EQ(s.push(*t.token_to_id(std::string(byte_level_char(0xFF)))), "\xFF");
    // F0 followed by 'a' can never complete: both come out at once.
    EXPECT_EQ(s.push(x[1]), "");
    EXPECT_EQ(s.push(x[0]), "\xF0"
                            "a");
}

TEST(stream_decoder, concatenation_equals_decode) {
    const tokenizer t = make_tokenizer(with_added(small_tokenizer_json({"bc"}, {"b c"}), {added(300, "<|x|>", true)}));
    const std::string text = "héllo <|x|>wörld 日本 😀👍🏽 \xE2\x82 end\xF0\x9F";
    const ids x = t.encode(text);
    for (bool skip : {false, true}) {
        stream_decoder s(t, skip);
        std::string streamed;
        for (int32_t id : x) {
            const std::string piece = s.push(id);
            EXPECT_EQ(utf8_incomplete_tail(piece), 0u);
            streamed += piece;
        }
        streamed += s.flush();
        EXPECT_EQ(streamed, t.decode(x, skip));
    }
}

TEST(stream_decoder, utf8_helpers) {
    EXPECT_EQ(utf8_incomplete_tail("ab\xE6\x97"), 2u);
    EXPECT_EQ(utf8_incomplete_tail("ab\xE6\x97\xA5"), 0u);
    EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x98"), 3u);
    EXPECT_EQ(utf8_incomplete_tail("\xE0\x80"), 0u); // E0 80 is overlong: cannot complete
    EXPECT_EQ(utf8_incomplete_tail("\x80\x80"), 0u);
    EXPECT_EQ(to_valid_utf8("a\xFF"
                            "b\xE6\x97"
                            "c😀"),
              "a\uFFFD"
              "b\uFFFD"
              "c😀");
}

TEST(tokenizer, decode_rejects_unknown_ids) {
    json j = small_tokenizer_json({}, {});
    j["model"]["vocab"]["far"] = 300; // ids 256..299 have no token
    const tokenizer t = make_tokenizer(j);
    EXPECT_EQ(t.vocab_size(), 301);
    EXPECT_TRUE(contains(error_of([&] {
                             t.decode(ids{1, 301});
                         }),
                         "token id 301 is outside the tokenizer's vocabulary [0, 301)"));
    EXPECT_TRUE(contains(error_of([&] { t.decode(ids{-1}); }), "token id -1 is outside"));
    EXPECT_TRUE(contains(error_of([&] { t.decode(ids{280}); }), "token id 280 has no token"));
    EXPECT_TRUE(contains(error_of([&] { (void)t.id_to_token(280); }), "token id 280 has no token"));
    EXPECT_EQ(t.decode(ids{300}), "far");
}

TEST(tokenizer, concurrent_encodes_agree) {
    const tokenizer t = make_tokenizer(
        small_tokenizer_json({"ll", "he", "llo", "hello", "Ġhello"}, {"l l", "h e", "ll o", "he llo", "Ġ hello"}));
    std::string text;
    for (int i = 0; i < 200; ++i) {
        text += "hello wörld " + std::to_string(i * 7919) + " héllo\n";
    }
    const ids expected = t.encode(text);
    std::vector<ids> results(4);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < results.size(); ++k) {
        threads.emplace_back([&, k] {
            for (int rep = 0; rep < 20; ++rep) {
                results[k] = t.encode(text);
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    for (const ids& r : results) {
        EXPECT_EQ(r, expected);
    }
}

TEST(tokenizer, load_from_directory_or_file) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(LLMFLEET_BINARY_DIR) / "tests" / "tokenizer.load";
    fs::remove_all(dir);
    fs::create_directories(dir);
    EXPECT_TRUE(contains(error_of([&] { tokenizer::load(dir.string()); }), "tokenizer.json in the model directory"));
    std::ofstream(dir / "tokenizer.json") << small_tokenizer_json({"ab"}, {"a b"}).dump();
    EXPECT_EQ(tokenizer::load(dir.string()).encode("ab"), (ids{256}));
    EXPECT_EQ(tokenizer::load((dir / "tokenizer.json").string()).encode("ab"), (ids{256}));
    try {
        tokenizer::load((dir / "missing.json").string());
        ADD_FAILURE() << "no error";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), status_code::not_found);
    }
    EXPECT_TRUE(contains(tokenizer::load(dir.string()).describe(), "byte-level BPE: 257 ids"));
}

} // namespace
} // namespace llmfleet::model
