// The safetensors header and its offsets (io::parse_safetensors, what SafeTensorsFile runs on
// the mmapped file). Every view it returns must lie inside the input: reading each one end to
// end lets AddressSanitizer check that.
#include "io/safetensors.h"

#include <stdexcept>

#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"

namespace dsvl::fuzz {

void safetensors(std::string_view input) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(input.data());
  expect_clean([&] {
    std::map<std::string, TensorView> tensors;
    std::map<std::string, std::string> metadata;
    io::parse_safetensors(bytes, input.size(), "fuzz.safetensors", &tensors, &metadata);
    for (const auto& [name, view] : tensors) {
      const auto* p = static_cast<const uint8_t*>(view.data);
      const size_t n = view.nbytes();
      if (p < bytes || p + n > bytes + input.size())
        throw std::logic_error("tensor " + name + " points outside the file");
      volatile uint8_t sum = 0;
      for (size_t i = 0; i < n; ++i) sum = uint8_t(sum + p[i]);
    }
  });
}

}  // namespace dsvl::fuzz
