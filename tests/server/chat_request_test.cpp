#include "server/chat_request.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace dsvl::server {
namespace {

using nlohmann::json;

const ImageLoader kEcho = [](const std::string& url, const std::string&) { return "bytes:" + url; };

ChatRequest parse(const std::string& body, ChatLimits limits = {}) {
  return parse_chat_request(json::parse(body), limits, kEcho);
}

// The ApiError a body raises (status 0 when none).
ApiError error_of(const std::string& body, ChatLimits limits = {}) {
  try {
    parse_chat_request(parse_json_body(body), limits, kEcho);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "", "");
}

TEST(ChatRequest, StringContent) {
  auto r = parse(R"({"model":"m","messages":[{"role":"system","content":"be brief"},
                    {"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.request.messages.size(), 2u);
  EXPECT_EQ(r.request.messages[0].role, "system");
  EXPECT_EQ(r.request.messages[1].content, "hi");
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.seed_given);
}

TEST(ChatRequest, InterleavedPartsPlaceImagesInOrder) {
  auto r = parse(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"first"},
      {"type":"image_url","image_url":{"url":"data:A"}},
      {"type":"text","text":"then"},
      {"type":"text","text":"and"},
      {"type":"image_url","image_url":"data:B"}]}]})");
  const Message& m = r.request.messages[0];
  EXPECT_EQ(m.content, "first<image_placeholder>then\nand<image_placeholder>");
  ASSERT_EQ(m.images.size(), 2u);
  EXPECT_EQ(m.images[0].bytes, "bytes:data:A");
  EXPECT_EQ(m.images[1].bytes, "bytes:data:B");
}

TEST(ChatRequest, SamplingFields) {
  auto r = parse(R"({"messages":[{"role":"developer","content":"x"},{"role":"user","content":"y"}],
      "temperature":0,"top_p":0.5,"top_k":7,"min_p":0.1,"seed":-1,"max_completion_tokens":9,
      "presence_penalty":1,"frequency_penalty":-1,"logprobs":true,"top_logprobs":3,
      "stop":["a",5],"stop_token_ids":[7],"n":1,"stream":true,"stream_options":{"include_usage":true},
      "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}})");
  const SamplingParams& s = r.request.sampling;
  EXPECT_EQ(r.request.messages[0].role, "system");
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_p, 0.5f);
  EXPECT_EQ(s.top_k, 7);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_EQ(s.seed, ~uint64_t(0));
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(s.max_tokens, 9);
  EXPECT_EQ(s.presence_penalty, 1.0f);
  EXPECT_EQ(s.frequency_penalty, -1.0f);
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.top_logprobs, 3);
  EXPECT_EQ(s.stop, std::vector<std::string>{"a"});
  EXPECT_EQ(s.stop_ids, (std::vector<int32_t>{5, 7}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(s.response_format, "json_schema");
  EXPECT_EQ(s.json_schema, R"({"type":"object"})");
}

TEST(ChatRequest, DefaultsComeFromLimits) {
  ChatLimits limits;
  limits.default_max_tokens = 123;
  auto r = parse(R"({"messages":[{"role":"user","content":"y"}],"stop":"END",
                     "response_format":{"type":"json_object"}})",
                 limits);
  EXPECT_EQ(r.request.sampling.max_tokens, 123);
  EXPECT_EQ(r.request.sampling.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.request.sampling.response_format, "json_object");
}

TEST(ChatRequest, InvalidBodiesName400AndTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"messages":)", ""},
      {R"([1,2])", ""},
      {R"({})", "messages"},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"messages":[{"role":"tool","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"audio"}]}]})",
       "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
       "messages[0].content[0].image_url"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":3})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1.5})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":2})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[""]})", "stop[0]"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":{}})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
       "response_format.type"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})",
       "response_format.json_schema"},
      {R"({"messages":[{"role":"assistant","content":[{"type":"image_url","image_url":"u"}]}]})",
       "messages[0].content"},
  };
  for (const auto& [body, param] : cases) {
    ApiError e = error_of(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.param, param) << body;
    EXPECT_FALSE(std::string(e.what()).empty()) << body;
  }
}

TEST(ChatRequest, TooManyImagesRefusedBeforeLoadingAny) {
  int loads = 0;
  ImageLoader counting = [&](const std::string&, const std::string&) {
    ++loads;
    return std::string("x");
  };
  ChatLimits limits;
  limits.max_images = 1;
  auto body = json::parse(R"({"messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"a"}},{"type":"image_url","image_url":{"url":"b"}}]}]})");
  try {
    parse_chat_request(body, limits, counting);
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "too_many_images");
  }
  EXPECT_EQ(loads, 0);
}

TEST(ChatRequest, DeepNestingAndGarbageAreRefusedWithoutCrashing) {
  std::string deep(100000, '[');
  EXPECT_EQ(error_of(deep).status, 400);
  EXPECT_EQ(error_of(std::string("\xff\xfe\x00", 3)).status, 400);
  EXPECT_EQ(error_of("").status, 400);
  // A bracket inside a string does not count as nesting.
  EXPECT_EQ(
      error_of(R"({"messages":[{"role":"user","content":")" + std::string(100, '[') + R"("}]})")
          .status,
      0);
}

TEST(ChatRequest, CapOnMaxTokens) {
  ChatLimits limits;
  limits.max_tokens_cap = 10;
  EXPECT_EQ(
      error_of(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":11})", limits).status,
      400);
  EXPECT_EQ(
      error_of(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":10})", limits).status,
      0);
}

}  // namespace
}  // namespace dsvl::server
