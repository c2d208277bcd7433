// The one JSON writer: what scripts parse from `-o json` and from device exports.
#include "common/json.h"

#include <cmath>

#include <gtest/gtest.h>

namespace preau {
namespace {

TEST(JsonTest, KeepsKeyOrderAndIndents) {
  Json o = Json::Object();
  o.Set("zeta", Json::Int(-3)).Set("alpha", Json::Uint(18446744073709551615ull));
  o.Set("list", Json::Array().Add(Json::Bool(true)).Add(Json::Null()));
  o.Set("empty", Json::Object());
  EXPECT_EQ(o.Dump(0),
            R"({"zeta":-3,"alpha":18446744073709551615,"list":[true,null],"empty":{}})");
  EXPECT_EQ(Json::Array().Add(Json::Int(1)).Dump(2), "[\n  1\n]");
}

TEST(JsonTest, EscapesControlsAndReplacesInvalidUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote("\xff" "ok"), R"("\ufffdok")");
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a UTF-16 surrogate
  EXPECT_EQ(JsonQuote("élève"), "\"élève\"");
}

TEST(JsonTest, NumbersRawAndCsv) {
  EXPECT_EQ(Json::Number(0.25).Dump(), "0.25");
  EXPECT_EQ(Json::Number(std::nan("")).Dump(), "null");
  EXPECT_EQ(Json::Raw(R"({"a":1})").Dump(), R"({"a":1})");
  EXPECT_EQ(Json::Raw("").Dump(), "null");
  EXPECT_EQ(Json::Array().Add(Json::String("x")).Add(Json::Int(2)).CsvText(), "x;2");
  EXPECT_EQ(Json::Null().CsvText(), "");
  EXPECT_EQ(Json::Bool(false).CsvText(), "false");
}

}  // namespace
}  // namespace preau
