// common: strict number parsing, KEY=VALUE splitting, JSON field errors that name the path.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet {
namespace {

TEST(text, strict_numbers) {
    EXPECT_DOUBLE_EQ(parse_double(" 2.5 ", "x"), 2.5);
    EXPECT_EQ(parse_int("-12", "x"), -12);
    EXPECT_THROW(parse_double("2.5x", "x"), error);
    EXPECT_THROW(parse_double("", "x"), error);
    EXPECT_THROW(parse_double("inf", "x"), error);
    EXPECT_THROW(parse_int("3.0", "x"), error);
    try {
        parse_double("abc", "--rate");
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(std::string(e.what()), "--rate: expected a finite number, got 'abc'");
        EXPECT_EQ(e.code(), status_code::invalid_argument);
    }
}

TEST(text, key_value) {
    EXPECT_EQ(split_key_value("H100-SXM=2.5", "--price"), (std::pair<std::string, std::string>{"H100-SXM", "2.5"}));
    EXPECT_THROW(split_key_value("H100-SXM", "--price"), error);
    EXPECT_THROW(split_key_value("=2", "--price"), error);
    EXPECT_EQ(split("a,,b", ',').size(), 3u);
}

TEST(json_read, errors_name_the_path) {
    const auto doc = json_read::parse(R"({"a": {"b": [1, "x"]}, "m": [[1, 2], [3]]})", "f.json");
    try {
        json_read::number_array(doc["a"]["b"], "f.a.b");
        FAIL();
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("f.a.b[1]: expected a number, got string"), std::string::npos) << e.what();
    }
    try {
        json_read::non_negative_matrix(doc["m"], "f.m");
        FAIL();
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("ragged matrix: row 1 has 1 columns but row 0 has 2"), std::string::npos);
    }
    EXPECT_THROW(json_read::member(doc, "zzz", "f"), error);
    EXPECT_THROW(json_read::parse("{\"a\": ", "f.json"), error);
}

TEST(result, holds_value_or_status) {
    result<int> ok(3);
    EXPECT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), 3);
    result<int> bad(status(status_code::not_found, "nope"));
    EXPECT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.error_status().code(), status_code::not_found);
}

} // namespace
} // namespace llmfleet
