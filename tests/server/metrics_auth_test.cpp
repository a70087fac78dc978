#include <gtest/gtest.h>

#include "server/auth.h"
#include "server/metrics.h"

namespace dsvl::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Histogram, CumulativeBuckets) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string out;
  h.render("x", out);
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"0.1\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"1\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"+Inf\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "x_sum 5.55")) << out;
  EXPECT_TRUE(has_line(out, "x_count 3")) << out;
}

TEST(Metrics, PrometheusText) {
  Metrics m;
  m.count_request("/v1/chat/completions", 200);
  m.count_request("/v1/chat/completions", 200);
  m.count_request("/v1/chat/completions", 429);
  m.count_completion(Usage{10, 4, 5, 0}, 0.3, 0.05, 5, 0.2);
  m.set_active(2);
  Engine::Stats stats;
  stats.queued = 3;
  stats.running = 1;
  stats.slots = 4;
  std::string out = m.render(&stats, true);
  EXPECT_TRUE(
      has_line(out, R"(dsvl_http_requests_total{route="/v1/chat/completions",status="200"} 2)"));
  EXPECT_TRUE(
      has_line(out, R"(dsvl_http_requests_total{route="/v1/chat/completions",status="429"} 1)"));
  EXPECT_TRUE(has_line(out, "dsvl_prompt_tokens_total 10"));
  EXPECT_TRUE(has_line(out, "dsvl_completion_tokens_total 5"));
  EXPECT_TRUE(has_line(out, "dsvl_image_tokens_total 4"));
  EXPECT_TRUE(has_line(out, "dsvl_queue_length 3"));
  EXPECT_TRUE(has_line(out, "dsvl_requests_active 2"));
  EXPECT_TRUE(has_line(out, "dsvl_model_ready 1"));
  EXPECT_TRUE(has_line(out, R"(dsvl_time_per_output_token_seconds_bucket{le="0.05"} 1)"));
  EXPECT_TRUE(has_line(out, "# TYPE dsvl_request_duration_seconds histogram"));
  // Every sample line is "name{labels} value" or "name value".
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end - pos);
    if (line[0] != '#') {
      EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    }
    pos = end + 1;
  }
  EXPECT_TRUE(has_line(m.render(nullptr, false), "dsvl_model_ready 0"));
}

TEST(Auth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secreT", "secret"));
  EXPECT_FALSE(constant_time_equal("secret1", "secret"));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secre"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Auth, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer  abc "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token(""), "");
}

}  // namespace
}  // namespace dsvl::server
