// Hand-made hostile inputs the fuzzers are unlikely to reach within their time budget (they
// need hundreds of kilobytes of structure), fed through the same harnesses: each must be
// refused cleanly. Plus the config sizes that are bounded before any tensor is seen.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "core/error.h"
#include "fuzz/targets/targets.h"
#include "io/config.h"
#include "io/synth.h"

namespace dsvl::test {
namespace {

std::string nested(int depth) {
  return std::string(size_t(depth), '[') + std::string(size_t(depth), ']');
}

// 200000 levels: walking or dumping such a value recursively overflows any thread's stack.
TEST(HostileInputs, DeeplyNestedJsonIsRefusedByEveryLoader) {
  const std::string deep = nested(200000);
  for (const char* target : {"config", "tokenizer_json", "server_request"}) {
    SCOPED_TRACE(target);
    const std::string inputs[] = {"{\"vision_config\": {\"cls\": " + deep + "}}",
                                  "{\"model\": " + deep + "}", "{\"messages\": " + deep + "}"};
    for (const std::string& in : inputs) EXPECT_NO_THROW(fuzz::find_target(target)->run(in));
  }
  std::string header = "{\"__metadata__\": {\"a\": " + deep + "}}";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
  EXPECT_NO_THROW(fuzz::find_target("safetensors")->run(file + header));
}

TEST(HostileInputs, DeeplyNestedConfigNamesTheLimit) {
  try {
    io::parse_model_config("{\"a\": " + nested(300) + "}", "config.json");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper than 256 levels"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(io::parse_model_config("{\"a\": " + nested(100) + "}", "config.json"),
               ConfigError);  // missing keys, but parsed
}

// Sizes the key table or token counts are computed from before any tensor is compared.
TEST(HostileInputs, ConfigSizesWithoutATensorAreBounded) {
  const std::string base = io::synth_config_json("1.3b-chat", true, 592, DType::kF32);
  auto with = [&](const char* key, int value) {
    nlohmann::json j = nlohmann::json::parse(base);
    j["vision_config"]["params"]["arch"][key] = value;
    if (std::string(key) == "image_size") j["vision_config"]["params"].erase("arch");
    if (std::string(key) == "image_size") j["vision_config"]["params"][key] = value;
    return j.dump();
  };
  EXPECT_NO_THROW(io::parse_model_config(with("layers", 1024), "config.json"));
  EXPECT_THROW(io::parse_model_config(with("layers", 1025), "config.json"), ConfigError);
  EXPECT_THROW(io::parse_model_config(with("image_size", 1 << 20), "config.json"), ConfigError);
}

TEST(HostileInputs, ProcessorMinSizeAboveImageSizeIsRefused) {
  const std::string dir = temp_dir("minsize");
  io::SynthOptions o;
  o.like = "1.3b-chat";
  o.tiny = true;
  o.out_dir = dir + "/m";
  io::synth_model(o);
  nlohmann::json pp = nlohmann::json::parse(std::ifstream(o.out_dir + "/preprocessor_config.json"));
  pp["min_size"] = 384;
  std::ofstream(o.out_dir + "/preprocessor_config.json") << pp.dump();
  EXPECT_NO_THROW(io::load_model_config(o.out_dir));
  pp["min_size"] = 385;
  std::ofstream(o.out_dir + "/preprocessor_config.json") << pp.dump();
  EXPECT_THROW(io::load_model_config(o.out_dir), ConfigError);
}

}  // namespace
}  // namespace dsvl::test
