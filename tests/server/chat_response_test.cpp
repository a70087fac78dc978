#include "server/chat_response.h"

#include <gtest/gtest.h>

namespace dsvl::server {
namespace {

using nlohmann::json;

const ResponseMeta kMeta{"chatcmpl-1", 1700000000, "m"};

// The JSON payloads of an SSE text ("data: X\n\n" events).
std::vector<std::string> events(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    EXPECT_EQ(sse.compare(pos, 6, "data: "), 0) << sse.substr(pos);
    size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    out.push_back(sse.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

Result sample_result() {
  Result r;
  r.text = "Hi";
  r.finish_reason = "length";
  r.usage = {10, 4, 2, 3};
  Delta d;
  d.token = 5;
  d.text = "Hi";
  d.logprob = -0.5f;
  d.top = {{5, "Hi", -0.5f}, {6, "Ho", -1.5f}};
  r.tokens = {d};
  return r;
}

TEST(ChatResponse, CompletionBody) {
  json j = json::parse(completion_body(kMeta, sample_result(), true));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hi");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(j["usage"]["completion_tokens"], 2);
  EXPECT_EQ(j["usage"]["total_tokens"], 12);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["image_tokens"], 4);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
  const json& lp = j["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(lp["token"], "Hi");
  EXPECT_EQ(lp["bytes"], json::array({72, 105}));
  EXPECT_EQ(lp["top_logprobs"].size(), 2u);
  EXPECT_TRUE(json::parse(completion_body(kMeta, sample_result(), false))["choices"][0]["logprobs"]
                  .is_null());
}

TEST(ChatResponse, FinishReasonMapping) {
  EXPECT_EQ(finish_reason("stop"), "stop");
  EXPECT_EQ(finish_reason("length"), "length");
  EXPECT_EQ(finish_reason("cancelled"), "stop");
}

TEST(StreamFormatter, ChunksInOpenAIOrder) {
  StreamFormatter f(kMeta, false, true);
  std::string sse = f.first();
  Delta d;
  d.text = "Hel";
  sse += f.delta(d);
  d.text = "";
  EXPECT_EQ(f.delta(d), "");  // held-back bytes: nothing to send
  d.text = "lo";
  sse += f.delta(d);
  sse += f.finish(sample_result());
  auto ev = events(sse);
  ASSERT_EQ(ev.size(), 6u);
  json first = json::parse(ev[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["usage"].is_null());
  EXPECT_EQ(json::parse(ev[1])["choices"][0]["delta"]["content"], "Hel");
  EXPECT_EQ(json::parse(ev[2])["choices"][0]["delta"]["content"], "lo");
  json fin = json::parse(ev[3]);
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(fin["choices"][0]["delta"].empty());
  json usage = json::parse(ev[4]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 12);
  EXPECT_EQ(ev[5], "[DONE]");
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(json::parse(ev[i])["id"], "chatcmpl-1");
}

TEST(StreamFormatter, NoUsageChunkUnlessAsked) {
  StreamFormatter f(kMeta, false, false);
  auto ev = events(f.first() + f.finish(sample_result()));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_FALSE(json::parse(ev[0]).contains("usage"));
  EXPECT_EQ(ev[2], "[DONE]");
}

TEST(StreamFormatter, HeldBackTokensKeepTheirLogprobs) {
  StreamFormatter f(kMeta, true, false);
  Delta a;
  a.token = 1;
  a.logprob = -1;
  Delta b;
  b.token = 2;
  b.text = "é";
  b.logprob = -2;
  EXPECT_EQ(f.delta(a), "");
  auto ev = events(f.delta(b));
  ASSERT_EQ(ev.size(), 1u);
  json content = json::parse(ev[0])["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["logprob"], -1.0);
  EXPECT_EQ(content[1]["token"], "é");
}

TEST(StreamFormatter, ErrorEventThenDone) {
  StreamFormatter f(kMeta, false, false);
  auto ev = events(f.error(ApiError(500, "boom", "server_error")));
  ASSERT_EQ(ev.size(), 2u);
  json e = json::parse(ev[0]);
  EXPECT_EQ(e["error"]["message"], "boom");
  EXPECT_EQ(e["error"]["type"], "server_error");
  EXPECT_TRUE(e["error"]["param"].is_null());
  EXPECT_EQ(ev[1], "[DONE]");
}

TEST(ChatResponse, InvalidUtf8IsReplacedNotThrown) {
  Result r = sample_result();
  r.text = "bad \xff byte";
  EXPECT_NO_THROW({
    const json j = json::parse(completion_body(kMeta, r, false));
    EXPECT_TRUE(j.is_object());
  });
}

TEST(ApiErrorShape, EngineKindsMapToStatus) {
  EXPECT_EQ(from_engine_error(ErrorKind::kRequest, "x").status, 400);
  EXPECT_EQ(from_engine_error(ErrorKind::kLimit, "x").status, 400);
  EXPECT_EQ(from_engine_error(ErrorKind::kIo, "x").status, 500);
  json j = json::parse(error_body(invalid_request("bad", "temperature", "c")));
  EXPECT_EQ(j["error"]["message"], "bad");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "temperature");
  EXPECT_EQ(j["error"]["code"], "c");
}

}  // namespace
}  // namespace dsvl::server
