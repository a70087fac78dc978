#include "server/image_source.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <random>
#include <thread>

#include "server/api_error.h"

namespace dsvl::server {
namespace {

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e.status;
  }
  return 0;
}

TEST(Base64, RoundTripsAllLengths) {
  std::mt19937 rng(1);
  for (size_t n = 0; n < 40; ++n) {
    std::string s(n, '\0');
    for (auto& c : s) c = char(rng());
    auto back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, s) << n;
  }
}

TEST(Base64, KnownValuesAndLeniencies) {
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("aGVsbG8"), "hello");       // padding optional
  EXPECT_EQ(*base64_decode("aGVs\nbG8=\n"), "hello");  // line breaks skipped
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad : {"a", "aGVsbG8===", "aGV$bG8=", "aG=VsbG8", "aGVsbG8=x", "a==="})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(DataUrl, ParsesAndRefuses) {
  auto d = parse_data_url("data:image/png;base64,aGVsbG8=", "p");
  EXPECT_EQ(d.mime, "image/png");
  EXPECT_EQ(d.bytes, "hello");
  for (const char* bad :
       {"data:image/png;base64", "data:text/plain;base64,aGk=", "data:image/png,aGk=",
        "data:image/png;base64,@@@@", "data:image/png;base64,"}) {
    try {
      parse_data_url(bad, "the.param");
      ADD_FAILURE() << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.param, "the.param");
    }
  }
}

TEST(ImageUrl, RemoteHostsOffByDefault) {
  ImageFetchPolicy none;
  for (const char* url : {"http://127.0.0.1:1/x.png", "https://example.com/a.png",
                          "file:///etc/passwd", "ftp://x/y", "http://user@127.0.0.1/x"})
    EXPECT_EQ(status_of([&] { load_image_url(url, none, "p"); }), 400) << url;
}

// A loopback HTTP server standing in for an allowed image host.
class ImageHost : public ::testing::Test {
 protected:
  void SetUp() override {
    srv_.Get("/ok.png", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("\x89PNG-ish", "image/png");
    });
    srv_.Get("/big.png", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(5000, 'x'), "image/png");
    });
    srv_.Get("/redirect",
             [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ok.png"); });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    policy_.allowed_hosts = {"127.0.0.1"};
    policy_.max_bytes = 1000;
  }
  void TearDown() override {
    srv_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  ImageFetchPolicy policy_;
};

TEST_F(ImageHost, FetchesFromAllowedHost) {
  EXPECT_EQ(load_image_url(url("/ok.png"), policy_, "p"), "\x89PNG-ish");
}

TEST_F(ImageHost, RefusesOtherHostsRedirectsErrorsAndOversize) {
  ImageFetchPolicy other = policy_;
  other.allowed_hosts = {"localhost"};
  EXPECT_EQ(status_of([&] { load_image_url(url("/ok.png"), other, "p"); }), 400);
  EXPECT_EQ(status_of([&] { load_image_url(url("/redirect"), policy_, "p"); }), 400);
  EXPECT_EQ(status_of([&] { load_image_url(url("/missing"), policy_, "p"); }), 400);
  EXPECT_EQ(status_of([&] { load_image_url(url("/big.png"), policy_, "p"); }), 400);
}

}  // namespace
}  // namespace dsvl::server
