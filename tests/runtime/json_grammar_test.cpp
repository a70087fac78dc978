// The JSON grammar (json_schema.h) and its byte acceptor (json_acceptor.h): valid documents
// are accepted, invalid ones refused at the first bad byte, min_bytes_to_end() is exact, and
// random walks that respect the byte budget always end in a document that parses and
// matches the schema.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "runtime/json_acceptor.h"
#include "runtime/json_schema.h"
#include "runtime/json_test_util.h"

namespace dsvl::runtime::json {
namespace {

using nlohmann::json;

bool accepts(const Grammar& g, const std::string& doc) {
  Acceptor a(g);
  return a.push(doc) && a.can_end();
}

TEST(JsonGrammar, ObjectModeAcceptsObjectsOnly) {
  auto g = object_grammar();
  for (const char* ok :
       {"{}", "{\"a\":1}", "{ \"a\" : [1, -2.5e3, \"x\", true, null, {\"b\": {}}] }",
        "{\"\\u00e9\\n\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", "{\"a\":0.5,\"a\":-0}"})
    EXPECT_TRUE(accepts(*g, ok)) << ok;
  for (const char* bad : {"",
                          " {}",
                          "[]",
                          "1",
                          "\"x\"",
                          "{",
                          "{\"a\"}",
                          "{\"a\":01}",
                          "{\"a\":1.}",
                          "{\"a\":-}",
                          "{\"a\":\"\\ud800\"}",
                          "{\"a\":\"\x01\"}",
                          "{\"a\":\"\xc0\xaf\"}",
                          "{\"a\":\"\xed\xa0\x80\"}",
                          "{} ",
                          "{}x",
                          "{\"a\":1,}",
                          "{,}",
                          "{\"a\":tru}",
                          "{\"a\":1e}",
                          "{\"a\":\"\\x\"}"})
    EXPECT_FALSE(accepts(*g, bad)) << bad;
}

TEST(JsonGrammar, SchemaModeFollowsTheSchema) {
  auto g = schema_grammar(test::kRichSchema);
  const std::string ok1 = R"({"name":"Al","age":3,"tags":["a"],"nested":{"x":1.5}})";
  const std::string ok2 =
      R"({"nested": {"y": null, "x": -1}, "tags": ["ab", "c", ""], "age": -12, "name": "Zoë",
          "color": 7, "ok": false, "score": 1e-3, "anything": [{"q": null}], "free": {"k": []}})";
  EXPECT_TRUE(accepts(*g, ok1));
  EXPECT_TRUE(accepts(*g, ok2));
  for (const std::string& bad : {
           std::string(R"({"name":"Al","age":3,"tags":["a"]})"),                     // missing
           std::string(R"({"name":"","age":3,"tags":["a"],"nested":{"x":1}})"),      // minLength
           std::string(R"({"name":"Al","age":3.5,"tags":["a"],"nested":{"x":1}})"),  // integer
           std::string(R"({"name":"Al","age":3,"tags":[],"nested":{"x":1}})"),       // minItems
           std::string(R"({"name":"Al","age":3,"tags":["a","b","c","d"],"nested":{"x":1}})"),
           std::string(R"({"name":"Al","age":3,"tags":["a"],"nested":{"x":1},"zz":1})"),  // extra
           std::string(R"({"name":"Al","name":"B","age":3,"tags":["a"],"nested":{"x":1}})"),
           std::string(R"({"name":"Al","age":3,"tags":["a"],"nested":{"x":1},"color":"pink"})"),
           std::string(R"({"name":"Al","age":3,"tags":["a"],"nested":{"x":1},"ok":1})"),
       })
    EXPECT_FALSE(accepts(*g, bad)) << bad;
  // Scalars and arrays at the top level; a number ends only where the document ends.
  auto num = schema_grammar(R"({"type": "number"})");
  EXPECT_TRUE(accepts(*num, "-12.5e+3"));
  Acceptor a(*num);
  ASSERT_TRUE(a.push("12"));
  EXPECT_TRUE(a.can_end());
  EXPECT_FALSE(a.complete());
  EXPECT_TRUE(
      accepts(*schema_grammar(R"({"type":"array","items":{"enum":["a","ab"]}})"), R"(["ab","a"])"));
  EXPECT_TRUE(accepts(*schema_grammar(R"({"enum":[1,12]})"), "12"));
  EXPECT_TRUE(accepts(*schema_grammar(R"({"enum":[1,12]})"), "1"));
  EXPECT_FALSE(accepts(*schema_grammar(R"({"enum":[1,12]})"), "2"));
}

TEST(JsonGrammar, UnsupportedSchemasAreRequestErrors) {
  for (const char* s : {"not json", "[1]", R"({"$ref": "#/$defs/a"})", R"({"type": "tuple"})",
                        R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})",
                        R"({"anyOf": [{"type": "string"}, {"enum": ["x"]}]})",
                        R"({"type": "array", "minItems": -1})",
                        R"({"type": "string", "minLength": 5, "maxLength": 2})", "false"})
    EXPECT_THROW(schema_grammar(s), RequestError) << s;
}

// From any reachable state, always taking a byte that lowers min_bytes_to_end() by one
// reaches a whole document in exactly that many bytes: the estimate is exact, never low.
TEST(JsonGrammar, MinBytesToEndIsExact) {
  std::mt19937 rng(7);
  for (const char* schema : {test::kRichSchema, R"({"type":"object"})",
                             R"({"type":"array","items":{"type":"integer"},"minItems":3})"}) {
    auto g = schema_grammar(schema);
    for (int walk = 0; walk < 60; ++walk) {
      Acceptor a(*g);
      std::string text;
      const int prefix = int(rng() % 40);
      for (int i = 0; i < prefix && !a.complete(); ++i) {  // a random valid prefix
        std::vector<uint8_t> ok;
        for (int b = 0; b < 256; ++b) {
          Acceptor t = a;
          if (t.push(uint8_t(b))) ok.push_back(uint8_t(b));
        }
        if (ok.empty()) break;
        const uint8_t b = ok[rng() % ok.size()];
        ASSERT_TRUE(a.push(b));
        text += char(b);
      }
      int64_t need = a.min_bytes_to_end();
      while (!a.can_end()) {
        bool stepped = false;
        for (int b = 0; b < 256 && !stepped; ++b) {
          Acceptor t = a;
          if (t.push(uint8_t(b)) && t.min_bytes_to_end() == need - 1) {
            a = t;
            text += char(b);
            --need;
            stepped = true;
          }
        }
        ASSERT_TRUE(stepped) << schema << "\nstuck after: " << text << " (need " << need << ")";
      }
      EXPECT_EQ(need, 0) << text;
      const json v = json::parse(text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << text;
      EXPECT_EQ(test::schema_mismatch(v, json::parse(schema)), "") << text;
    }
  }
}

// Random byte walks under a byte budget (each byte a "token"): whatever is chosen, the text
// ends as a document that parses and matches the schema.
TEST(JsonGrammar, BudgetedRandomWalksAlwaysEndInAValidDocument) {
  std::mt19937 rng(11);
  const char* schemas[] = {test::kRichSchema, R"({"type":"object"})",
                           R"({"type":"object","properties":{"v":{"type":"number"}}})",
                           R"({"type":"array","items":{"type":"string"},"maxItems":2})"};
  for (const char* schema : schemas) {
    auto g = schema_grammar(schema);
    const int64_t shortest = Acceptor(*g).min_bytes_to_end();
    for (int walk = 0; walk < 80; ++walk) {
      const int64_t budget = shortest + int64_t(rng() % 80);
      Acceptor a(*g);
      std::string text;
      for (int64_t left = budget; left > 0 && !a.complete(); --left) {
        if (a.can_end() && rng() % 8 == 0) break;  // "EOS"
        std::vector<uint8_t> ok;
        for (int b = 0; b < 256; ++b) {
          Acceptor t = a;
          if (t.push(uint8_t(b)) && t.min_bytes_to_end() <= left - 1) ok.push_back(uint8_t(b));
        }
        ASSERT_FALSE(ok.empty()) << "no byte fits after: " << text;
        const uint8_t b = ok[rng() % ok.size()];
        a.push(b);
        text += char(b);
      }
      ASSERT_TRUE(a.can_end()) << text;
      const json v = json::parse(text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << text;
      EXPECT_EQ(test::schema_mismatch(v, json::parse(schema)), "") << text;
    }
  }
}

}  // namespace
}  // namespace dsvl::runtime::json
