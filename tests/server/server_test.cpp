// The server end to end in-process: a FakeEngine behind a real socket, driven with
// httplib's client (no model needed).
#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "server/fake_engine.h"

namespace dsvl::server {
namespace {

using nlohmann::json;

const char* kPng =
    "data:image/"
    "png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg"
    "==";

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions so = {}, FakeEngineOptions fo = {}, int load_ms = 0) {
    so.port = 0;
    server_ = std::make_unique<Server>(so, [this, fo, load_ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(load_ms));
      auto e = std::make_unique<FakeEngine>(fo);
      fake_ = e.get();
      return std::unique_ptr<Engine>(std::move(e));
    });
    port_ = server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10);
  }
  // One engine slot, no queue, 2 ms per token: a second request finds the server full.
  void start_one_slot() {
    ServerOptions so;
    so.parallel = 1;
    so.queue = 0;
    FakeEngineOptions fo;
    fo.parallel = 1;
    fo.token_delay_us = 2000;
    start(so, fo);
    wait_ready();
  }
  void wait_ready() {
    for (int i = 0; i < 2000 && !server_->ready(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_TRUE(server_->ready());
  }
  httplib::Result post(const std::string& path, const std::string& body,
                       const httplib::Headers& h = {}) {
    return client_->Post(path.c_str(), h, body, "application/json");
  }
  static std::string chat(const std::string& text, const std::string& extra = "") {
    return R"({"messages":[{"role":"user","content":)" + json(text).dump() + "}]" + extra + "}";
  }
  static json error_of(const httplib::Result& r) { return json::parse(r->body)["error"]; }

  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
  FakeEngine* fake_ = nullptr;
  int port_ = 0;
};

TEST_F(ServerTest, HealthIs503WhileLoading) {
  start({}, {}, 300);
  auto r = client_->Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  auto c = post("/v1/chat/completions", chat("hi"));
  EXPECT_EQ(c->status, 503);
  EXPECT_EQ(error_of(c)["code"], "model_loading");
  wait_ready();
  EXPECT_EQ(client_->Get("/health")->status, 200);
}

TEST_F(ServerTest, CompletionAndModels) {
  start();
  wait_ready();
  auto r = post("/v1/chat/completions", chat("hi", R"(,"temperature":0)"));
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "You said: hi");
  EXPECT_EQ(j["model"], "dsvl-fake");
  auto m = client_->Get("/v1/models");
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "dsvl-fake");
  EXPECT_EQ(client_->Get("/v1/models/dsvl-fake")->status, 200);
  EXPECT_EQ(client_->Get("/v1/models/other")->status, 404);
  auto page = client_->Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
}

TEST_F(ServerTest, StreamingEndsWithDone) {
  start();
  wait_ready();
  auto r =
      post("/v1/chat/completions",
           chat("hi", R"(,"temperature":0,"stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  std::string text;
  size_t pos = 0;
  int n_events = 0;
  std::string last;
  while ((pos = r->body.find("data: ", pos)) != std::string::npos) {
    size_t end = r->body.find("\n\n", pos);
    last = r->body.substr(pos + 6, end - pos - 6);
    if (last != "[DONE]") {
      json c = json::parse(last);
      if (!c["choices"].empty()) text += c["choices"][0]["delta"].value("content", "");
    }
    ++n_events;
    pos = end;
  }
  EXPECT_EQ(text, "You said: hi");
  EXPECT_EQ(last, "[DONE]");
  EXPECT_GT(n_events, 5);
}

TEST_F(ServerTest, ImagesAndErrors) {
  start();
  wait_ready();
  std::string img =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":")" +
      std::string(kPng) + R"("}},{"type":"text","text":"what?"}]}],"temperature":0})";
  auto ok = post("/v1/chat/completions", img);
  ASSERT_EQ(ok->status, 200) << ok->body;
  json j = json::parse(ok->body);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["image_tokens"], 16);
  EXPECT_NE(j["choices"][0]["message"]["content"].get<std::string>().find("I see 1 image"),
            std::string::npos);

  std::string not_image =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,aGVsbG8="}}]}]})";
  EXPECT_EQ(post("/v1/chat/completions", not_image)->status, 400);
  std::string bad_b64 =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,%%%"}}]}]})";
  EXPECT_EQ(post("/v1/chat/completions", bad_b64)->status, 400);
  std::string remote =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://127.0.0.1:1/a.png"}}]}]})";
  auto rr = post("/v1/chat/completions", remote);
  EXPECT_EQ(rr->status, 400);
  EXPECT_EQ(error_of(rr)["code"], "image_host_not_allowed");
  auto bad_json = post("/v1/chat/completions", "{\"messages\": [");
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(error_of(bad_json)["type"], "invalid_request_error");
  auto fail = post("/v1/chat/completions", chat("[[fail]]"));
  EXPECT_EQ(fail->status, 500);
  EXPECT_EQ(error_of(fail)["type"], "server_error");
  auto nf = client_->Get("/v2/nothing");
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(error_of(nf)["code"], "not_found");
}

TEST_F(ServerTest, ContextOverflow) {
  FakeEngineOptions fo;
  fo.ctx = 100;
  start({}, fo);
  wait_ready();
  auto r = post("/v1/chat/completions", chat(std::string(200, 'x')));
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_of(r)["code"], "context_length_exceeded");
}

TEST_F(ServerTest, ApiKeyOnV1Routes) {
  ServerOptions so;
  so.api_key = "sekret";
  start(so);
  wait_ready();
  auto none = post("/v1/chat/completions", chat("hi"));
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(error_of(none)["code"], "invalid_api_key");
  EXPECT_EQ(post("/v1/chat/completions", chat("hi"), {{"Authorization", "Bearer wrong"}})->status,
            401);
  EXPECT_EQ(client_->Get("/v1/models")->status, 401);
  EXPECT_EQ(post("/tokenize", R"({"content":"a"})")->status, 401);
  EXPECT_EQ(post("/v1/chat/completions", chat("hi"), {{"Authorization", "Bearer sekret"}})->status,
            200);
  EXPECT_EQ(client_->Get("/health")->status, 200);  // health and the page stay open
  EXPECT_EQ(client_->Get("/")->status, 200);
}

TEST_F(ServerTest, BodyLimit413) {
  ServerOptions so;
  so.max_body_bytes = 1000;
  start(so);
  wait_ready();
  auto r = post("/v1/chat/completions", chat(std::string(5000, 'x')));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_of(r)["code"], "body_too_large");
  // Bodies whose size httplib would not bound are refused before they are read.
  auto chunked = post("/v1/chat/completions", chat("x"), {{"Transfer-Encoding", "chunked"}});
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 411);
  auto gz = post("/v1/chat/completions", chat("x"), {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->status, 415);
}

TEST_F(ServerTest, QueueFull429AndDisconnectCancels) {
  start_one_slot();
  // A long stream whose client hangs up after the first bytes.
  std::atomic<bool> got_data{false};
  std::thread streamer([&] {
    httplib::Client c("127.0.0.1", port_);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = chat("[[count 100000]]", R"(,"stream":true)");
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      got_data = true;
      return false;  // hang up
    };
    c.send(req);
  });
  for (int i = 0; i < 2000 && !got_data; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(got_data);
  // While it runs (or until the server notices the hang-up), a second request is refused.
  auto busy = post("/v1/chat/completions", chat("hi"));
  streamer.join();
  if (busy->status != 200) {
    EXPECT_EQ(busy->status, 429);
    EXPECT_EQ(error_of(busy)["code"], "queue_full");
  }
  // The hang-up frees the slot within a few steps.
  bool freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    freed = fake_->stats().running == 0 && fake_->stats().queued == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(freed);
  EXPECT_EQ(post("/v1/chat/completions", chat("hi"))->status, 200);
}

TEST_F(ServerTest, BusyServerAnswers429) {
  start_one_slot();
  std::thread slow([&] {
    httplib::Client c("127.0.0.1", port_);
    c.Post("/v1/chat/completions", chat("[[count 60]]"), "application/json");
  });
  for (int i = 0; i < 2000 && fake_->stats().running == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto busy = post("/v1/chat/completions", chat("hi"));
  EXPECT_EQ(busy->status, 429);
  slow.join();
  auto metrics = client_->Get("/metrics")->body;
  EXPECT_NE(
      metrics.find(R"(dsvl_http_requests_total{route="/v1/chat/completions",status="429"} 1)"),
      std::string::npos)
      << metrics;
}

TEST_F(ServerTest, TimeoutCancels) {
  ServerOptions so;
  so.timeout_s = 0.2;
  FakeEngineOptions fo;
  fo.token_delay_us = 2000;
  start(so, fo);
  wait_ready();
  auto r = post("/v1/chat/completions", chat("[[count 100000]]"));
  EXPECT_EQ(r->status, 504);
  auto s = post("/v1/chat/completions", chat("[[count 100000]]", R"(,"stream":true)"));
  ASSERT_EQ(s->status, 200);
  EXPECT_NE(s->body.find("\"timeout\""), std::string::npos);
  EXPECT_NE(s->body.find("data: [DONE]"), std::string::npos);
}

TEST_F(ServerTest, TokenizeDetokenize) {
  start();
  wait_ready();
  auto t = post("/tokenize", R"({"content":"hi","add_special":true})");
  EXPECT_EQ(json::parse(t->body)["tokens"], json::array({0, 107, 108}));
  auto d = post("/detokenize", R"({"tokens":[107,108]})");
  EXPECT_EQ(json::parse(d->body)["content"], "hi");
  EXPECT_EQ(post("/detokenize", R"({"tokens":["a"]})")->status, 400);
  EXPECT_EQ(post("/detokenize", R"({"tokens":[99999]})")->status, 400);
  EXPECT_EQ(post("/tokenize", R"({"content":5})")->status, 400);
}

TEST_F(ServerTest, GarbageNeverCrashes) {
  start();
  wait_ready();
  const std::string bodies[] = {
      "",
      "null",
      "[]",
      "\"x\"",
      "{\"messages\":null}",
      std::string(3000, '{'),
      std::string("\xff\x00\x01", 3),
      R"({"messages":[{"role":"user","content":[null,1,"x"]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,====" }}]}]})"};
  for (const auto& b : bodies) {
    auto r = post("/v1/chat/completions", b);
    ASSERT_TRUE(r) << b;
    EXPECT_EQ(r->status, 400) << b << " -> " << r->body;
    EXPECT_TRUE(json::parse(r->body).contains("error"));
  }
  EXPECT_EQ(client_->Get("/health")->status, 200);
}

}  // namespace
}  // namespace dsvl::server
