// Turning a public dsvl::Request into model inputs: the chat prompt (deepseek template),
// token ids with each image expanded to its 576 slots, decoded images, and the checks that
// must fail before a request is queued (image count, pixels, context).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dsvl/dsvl.h"
#include "image/image.h"
#include "runtime/pipeline.h"

namespace dsvl::runtime {

struct PreparedRequest {
  std::vector<int32_t> ids;  // expanded prompt ids (BOS first)
  std::vector<image::RgbImage> images;
  std::vector<uint64_t> image_hashes;  // of the encoded bytes: the image-embedding cache key
  int64_t n_images = 0;
  std::vector<std::string> stop;  // stop strings (request's + template's)
};

// "<image>" → "<image_placeholder>"; with no placeholder written, one per image in front.
// RequestError when a message writes a different number of placeholders than it has images.
std::string place_images(const std::string& content, size_t n_images, const std::string& tag);

// RequestError / LimitError for a bad request; never returns a half-checked one.
// count_only: just the ids (for counting prompt tokens): no context check, images neither
// read nor decoded (image_hashes and images stay empty).
PreparedRequest prepare_request(const Pipeline& pipe, const Request& req, const LoadParams& limits,
                                int64_t n_ctx, bool count_only = false);

uint64_t fnv1a64(const void* data, size_t n);

}  // namespace dsvl::runtime
