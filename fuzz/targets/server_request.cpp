// A /v1/chat/completions body all the way to model inputs: the server's JSON parsing and
// validation (server::parse_json_body, parse_chat_request; images as data: URLs), then the
// engine's request preparation on a tiny synthesized model (runtime::prepare_request: chat
// template, tokenization, image-token expansion, the limits, image sniffing and decoding).
#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"
#include "runtime/request_prep.h"
#include "server/chat_request.h"
#include "server/image_source.h"

namespace dsvl::fuzz {

void server_request(std::string_view input) {
  const runtime::Pipeline& pipe = tiny_pipeline();
  expect_clean([&] {
    server::ChatLimits limits;
    limits.max_images = 4;
    limits.default_max_tokens = 16;
    limits.max_tokens_cap = 4096;
    const auto loader = [](const std::string& url, const std::string& param) {
      return server::parse_data_url(url, param).bytes;  // never the network
    };
    const server::ChatRequest req =
        server::parse_chat_request(server::parse_json_body(std::string(input)), limits, loader);
    LoadParams lp;
    lp.max_images = 4;
    lp.max_image_pixels = 1'000'000;
    const runtime::PreparedRequest prep = runtime::prepare_request(pipe, req.request, lp, 4096);
    for (const image::RgbImage& img : prep.images) check_decoded(img);
  });
}

}  // namespace dsvl::fuzz
