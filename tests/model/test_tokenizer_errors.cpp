// model/tokenizer: malformed and unsupported tokenizer.json files are refused with the JSON path, the expected
// form and, for unsupported components, the supported ones; nothing falls back silently.
#include <gtest/gtest.h>

#include "model/tokenizer.h"
#include "tests/model/tokenizer_test_util.h"
#include "tests/test_support.h"

namespace llmfleet::model {
namespace {

using json = nlohmann::ordered_json;
using llmfleet::test::error_of;

// The message of loading `j`, which must fail.
std::string load_error(const json& j) {
    return error_of([&] { test::make_tokenizer(j); });
}

json base() {
    return test::small_tokenizer_json({"ab"}, {"a b"});
}

#define EXPECT_ERROR_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << (message)

TEST(tokenizer_errors, malformed_json_and_missing_parts) {
    EXPECT_ERROR_HAS(error_of([] { tokenizer::from_json("{\"model\": ", "x/tokenizer.json"); }),
                     "x/tokenizer.json: malformed JSON at byte");
    EXPECT_ERROR_HAS(error_of([] { tokenizer::from_json("[]", "t.json"); }),
                     "t.json: expected a tokenizer.json object");
    // Found by fuzz/fuzz_tokenizer.cpp: nlohmann reports a number too large for a double as out_of_range.
    EXPECT_ERROR_HAS(error_of([] { tokenizer::from_json("{\"model\": 2e999999}", "t.json"); }),
                     "t.json: malformed JSON: [json.exception.out_of_range.406] number overflow");
    json j = base();
    j.erase("model");
    EXPECT_ERROR_HAS(load_error(j), "test tokenizer.json: top level: missing required field 'model'");
    j = base();
    j["model"]["vocab"]["ab"] = "x";
    EXPECT_ERROR_HAS(load_error(j), "model.vocab[\"ab\"]: expected an id in [0, 4194303], got \"x\"");
    j = base();
    j["model"]["vocab"]["ab"] = -3;
    EXPECT_ERROR_HAS(load_error(j), "model.vocab[\"ab\"]: expected an id in [0, 4194303], got -3");
    j["model"]["vocab"]["ab"] = 2147483647; // would mean gigabytes of per-id tables
    EXPECT_ERROR_HAS(load_error(j), "model.vocab[\"ab\"]: expected an id in [0, 4194303], got 2147483647");
}

TEST(tokenizer_errors, vocabulary_and_merges) {
    json j = base();
    j["model"]["vocab"]["zz"] = 256;
    EXPECT_ERROR_HAS(load_error(j), "model.vocab: id 256 is given to both");
    j = base();
    j["model"]["vocab"].erase("Ġ");
    EXPECT_ERROR_HAS(load_error(j),
                     "model.vocab: byte-level BPE needs all 256 byte tokens, but 'Ġ' (byte 0x20) is missing");
    j = base();
    j["model"]["merges"].push_back("a q q");
    EXPECT_ERROR_HAS(load_error(j), "model.merges[1]: expected \"left right\" (two tokens, one space), got \"a q q\"");
    j = base();
    j["model"]["merges"].push_back("x yz");
    EXPECT_ERROR_HAS(load_error(j), "model.merges[1]: merge 'x' + 'yz': 'yz' is not in model.vocab");
    j = base();
    j["model"]["merges"].push_back("b a");
    EXPECT_ERROR_HAS(load_error(j), "model.merges[1]: merge 'b' + 'a': the merged token 'ba' is not in model.vocab");
    j = base();
    j["model"]["merges"].push_back(json::array({"a"}));
    EXPECT_ERROR_HAS(load_error(j), "model.merges[1]: expected \"left right\" or [\"left\", \"right\"]");
}

TEST(tokenizer_errors, unsupported_components_name_the_supported_ones) {
    json j = base();
    j["model"]["type"] = "Unigram";
    EXPECT_ERROR_HAS(load_error(j), "model.type: model 'Unigram' is not supported; supported: BPE (byte-level)");
    j = base();
    j["model"]["byte_fallback"] = true;
    EXPECT_ERROR_HAS(load_error(j), "model.byte_fallback: byte_fallback true");
    j = base();
    j["model"]["dropout"] = 0.1;
    EXPECT_ERROR_HAS(load_error(j), "model.dropout: BPE dropout 0.1 is not supported");
    j = base();
    j["model"]["continuing_subword_prefix"] = "##";
    EXPECT_ERROR_HAS(load_error(j), "model.continuing_subword_prefix: '##' is not supported; supported: null");
    j = base();
    j["normalizer"] = {{"type", "NFKC"}};
    EXPECT_ERROR_HAS(load_error(j),
                     "normalizer.type: normalizer 'NFKC' is not supported; supported: NFC, a Sequence of NFC, or null");
    j = base();
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "Lowercase"}}})}};
    EXPECT_ERROR_HAS(load_error(j), "normalizer.normalizers[0].type: normalizer 'Lowercase' is not supported");
    j = base();
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}};
    EXPECT_ERROR_HAS(load_error(j), "pre_tokenizer.type: pre-tokenizer 'Metaspace' is not supported; supported: "
                                    "Sequence, Split (a Regex or String pattern, behavior Isolated, invert false), "
                                    "ByteLevel");
    j = base();
    j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
    EXPECT_ERROR_HAS(load_error(j), "pre_tokenizer.pretokenizers[0].behavior: Split behavior 'Removed' is not "
                                    "supported; supported: Isolated");
    j = base();
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "(\\p{L"}};
    EXPECT_ERROR_HAS(load_error(j),
                     "pre_tokenizer.pretokenizers[0].pattern: regex '(\\p{L' does not compile with PCRE2");
    j = base();
    j["pre_tokenizer"] = j["pre_tokenizer"]["pretokenizers"][0];
    EXPECT_ERROR_HAS(load_error(j), "pre_tokenizer: no ByteLevel pre-tokenizer; only byte-level BPE tokenizers");
    j = base();
    j["pre_tokenizer"]["pretokenizers"] =
        json::array({j["pre_tokenizer"]["pretokenizers"][1], j["pre_tokenizer"]["pretokenizers"][0]});
    EXPECT_ERROR_HAS(load_error(j),
                     "pre_tokenizer.pretokenizers[1]: a Split pre-tokenizer after ByteLevel is not supported");
    j = base();
    j["post_processor"] = {{"type", "RobertaProcessing"}};
    EXPECT_ERROR_HAS(load_error(j), "post_processor.type: post-processor 'RobertaProcessing' is not supported; "
                                    "supported: TemplateProcessing, ByteLevel, a Sequence of those, or null");
    j = base();
    j["decoder"] = {{"type", "WordPiece"}};
    EXPECT_ERROR_HAS(load_error(j), "decoder.type: decoder 'WordPiece' is not supported; supported: ByteLevel");
    j = base();
    j["decoder"] = nullptr;
    EXPECT_ERROR_HAS(load_error(j), "decoder: decoder 'null' is not supported");
}

TEST(tokenizer_errors, added_tokens_and_templates) {
    json j = base();
    j["added_tokens"] = json::array({{{"id", 300}, {"content", ""}, {"special", true}}});
    EXPECT_ERROR_HAS(load_error(j), "added_tokens[0]: content is empty");
    j["added_tokens"] = json::array(
        {{{"id", 300}, {"content", "<a>"}, {"special", true}}, {{"id", 301}, {"content", "<a>"}, {"special", true}}});
    EXPECT_ERROR_HAS(load_error(j), "added_tokens[1]: content '<a>' is already added_tokens[0]");
    j["added_tokens"] = json::array({{{"id", "300"}, {"content", "<a>"}}});
    EXPECT_ERROR_HAS(load_error(j), "added_tokens[0].id: expected an integer");
    j = base();
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                   {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                           {"special_tokens", json::object()}};
    EXPECT_ERROR_HAS(load_error(j), "post_processor.special_tokens: missing required field '<s>'");
    j["post_processor"]["special_tokens"]["<s>"] = {{"id", "<s>"}, {"ids", {999}}, {"tokens", {"<s>"}}};
    EXPECT_ERROR_HAS(load_error(j), "post_processor: special token id 999 is not a token of this file");
    j["post_processor"]["single"] = json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}});
    EXPECT_ERROR_HAS(load_error(j), "post_processor.single: expected an array holding {\"Sequence\"");
}

} // namespace
} // namespace llmfleet::model
