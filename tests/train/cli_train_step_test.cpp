// The contract command: dsvl train-step --case CASE.json --out OUT.safetensors.
#include <gtest/gtest.h>

#include <cstring>

#include "common/shared.h"
#include "train/kit_check.h"

namespace dsvl::test {
namespace {

std::vector<io::OwnedTensor> read_all(const std::string& path) {
  io::SafeTensorsFile f(path);
  std::vector<io::OwnedTensor> out;
  for (const auto& [name, v] : f.tensors()) {
    io::OwnedTensor t{name, v.dtype, v.shape, {}};
    t.bytes.resize(v.nbytes());
    std::memcpy(t.bytes.data(), v.data, v.nbytes());
    out.push_back(std::move(t));
  }
  return out;
}

TEST(TrainStepCli, WritesTheKitTensors) {
  const std::string kit = shared_path("conformance-train");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  for (const char* c : {"tiny-siglip-c_stage2_text", "tiny-siglip-c_mcppl"}) {
    const std::string out = temp_dir("train_step") + "/out.safetensors";
    std::string log;
    const std::string cmd =
        dsvl_binary() + " train-step --case " + kit + "/cases/" + c + ".json --out " + out;
    ASSERT_EQ(run_command(cmd, &log), 0) << log;
    const auto golden = io::WeightStore::open_file(kit + "/cases/" + c + ".safetensors");
    const auto bad = compare_with_kit(golden, read_all(out), nullptr);
    for (const auto& b : bad) ADD_FAILURE() << c << ": " << b.tensor << ": " << b.what;
  }
}

TEST(TrainStepCli, ClearErrors) {
  std::string log;
  EXPECT_EQ(run_command(dsvl_binary() + " train-step --out x.safetensors", &log), 2);
  EXPECT_NE(log.find("--case"), std::string::npos) << log;
  EXPECT_NE(
      run_command(dsvl_binary() + " train-step --case /nonexistent/c.json --out /tmp/x", &log), 0);
  EXPECT_NE(log.find("/nonexistent/c.json"), std::string::npos) << log;
}

}  // namespace
}  // namespace dsvl::test
