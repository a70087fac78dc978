// The GIF decoder on its own (the sniffing in image::decode_memory is covered by the
// server_request target). Pixels are capped at 1 MP so one input stays fast; the cap itself is
// checked from the header like every limit. Small results also go
// through the processor (resize + pad), as a request's images do.
#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"

namespace dsvl::fuzz {

void image_gif(std::string_view input) {
  fuzz_decoder(input, "fuzz.gif", image::detail::decode_gif);
}

}  // namespace dsvl::fuzz
