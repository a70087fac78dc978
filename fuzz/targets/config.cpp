// config.json (io::parse_model_config). An accepted config then drives the key table that
// `dsvl info` and the loaders walk, so that runs too: a config must not make it huge.
#include "io/config.h"

#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"
#include "io/model_keys.h"

namespace dsvl::fuzz {

void config(std::string_view input) {
  expect_clean([&] {
    const io::ModelConfig cfg = io::parse_model_config(std::string(input), "config.json");
    const std::vector<io::KeySpec> keys = io::model_keys(cfg);
    (void)io::count_params(keys).total();
  });
}

}  // namespace dsvl::fuzz
