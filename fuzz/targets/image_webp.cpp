// The WEBP decoder on its own (the sniffing in image::decode_memory is covered by the
// server_request target). Pixels are capped at 1 MP so one input stays fast; the cap itself is
// checked from the header like every limit. Small results also go
// through the processor (resize + pad), as a request's images do.
#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"
#include "image/decode_internal.h"

namespace dsvl::fuzz {

void image_webp(std::string_view input) {
  expect_clean([&] {
    const std::string name = "fuzz.webp";
    image::DecodeLimits limits;
    limits.max_pixels = 1'000'000;
    const image::detail::Source src{reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                                    name, limits};
    check_decoded(image::detail::decode_webp(src));
  });
}

}  // namespace dsvl::fuzz
