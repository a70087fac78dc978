#include "server/fake_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace dsvl::server {
namespace {

Request user(const std::string& text) {
  Request r;
  r.messages.push_back({"user", text, {}});
  r.sampling.temperature = 0;
  return r;
}

FakeEngineOptions fast() {
  FakeEngineOptions o;
  o.token_delay_us = 0;
  return o;
}

TEST(FakeEngine, EchoesAndCounts) {
  FakeEngine e(fast());
  Result r = e.generate(user("hello"));
  EXPECT_EQ(r.text, "You said: hello");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.completion_tokens, int(r.text.size()));
  EXPECT_EQ(r.usage.prompt_tokens, e.count_prompt_tokens(user("hello")));
}

TEST(FakeEngine, StreamsUtf8WholeAndStopsOnStrings) {
  FakeEngine e(fast());
  Request req = user("[[count 12]]");
  req.sampling.stop = {"5"};
  Result r = e.generate(req);
  EXPECT_EQ(r.text, "1 2 3 4 ");
  EXPECT_EQ(r.finish_reason, "stop");
  std::string streamed;
  Result u = e.generate(user("né"), [&](const Delta& d) {
    EXPECT_NE(d.text, "\xc3");  // never half a character
    streamed += d.text;
  });
  EXPECT_EQ(streamed, u.text);
  EXPECT_EQ(u.text, "You said: né");
}

TEST(FakeEngine, SeedDecidesSampledOutput) {
  FakeEngine e(fast());
  Request a = user("x");
  a.sampling.temperature = 1;
  a.sampling.seed = 7;
  Request b = a;
  b.sampling.seed = 8;
  EXPECT_EQ(e.generate(a).text, e.generate(a).text);
  EXPECT_NE(e.generate(a).text, e.generate(b).text);
}

TEST(FakeEngine, LimitsAndBadImages) {
  FakeEngineOptions o = fast();
  o.ctx = 64;
  FakeEngine e(o);
  try {
    e.submit(user(std::string(100, 'x')), {}, {});
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.kind(), ErrorKind::kLimit);
  }
  Request bad = user("look");
  bad.messages[0].images.push_back({"", "not an image", "img"});
  try {
    e.submit(bad, {}, {});
    FAIL();
  } catch (const Error& err) {
    EXPECT_EQ(err.kind(), ErrorKind::kRequest);
  }
  Request length = user("[[count 100]]");
  length.sampling.max_tokens = 5;
  Result r = e.generate(length);
  EXPECT_EQ(r.text, "1 2 3");
  EXPECT_EQ(r.finish_reason, "length");
}

TEST(FakeEngine, CancelEndsARequestAtOnce) {
  FakeEngineOptions o;
  o.token_delay_us = 1000;
  FakeEngine e(o);
  std::atomic<bool> done{false};
  std::string reason;
  RequestId id = e.submit(user("[[count 100000]]"), {}, [&](const Result& r) {
    reason = r.finish_reason;
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  e.cancel(id);
  for (int i = 0; i < 1000 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(done);
  EXPECT_EQ(reason, "cancelled");
  for (int i = 0; i < 1000 && e.stats().running > 0; ++i)  // the slot is freed right after
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(e.stats().running, 0);
}

TEST(FakeEngine, TokenizeRoundTrip) {
  FakeEngine e(fast());
  auto ids = e.tokenize("añ", true);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(e.detokenize(ids, true), "añ");
  EXPECT_EQ(e.detokenize(ids, false), "<s>añ");
  EXPECT_THROW(e.detokenize({100000}, false), Error);
}

}  // namespace
}  // namespace dsvl::server
