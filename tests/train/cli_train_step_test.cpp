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

// The folder saved after the AdamW updates loads in the inference commands.
TEST(TrainStepCli, SavedModelLoadsInInfoAndDump) {
  const std::string kit = shared_path("conformance-train");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  const std::string dir = temp_dir("train_step_save");
  std::string log;
  ASSERT_EQ(run_command(dsvl_binary() + " train-step --case " + kit +
                            "/cases/tiny-siglip-c_adamw.json --out " + dir +
                            "/o.safetensors --save-model " + dir + "/model --save-dtype bf16",
                        &log),
            0)
      << log;
  ASSERT_EQ(run_command(dsvl_binary() + " info " + dir + "/model", &log), 0) << log;
  EXPECT_NE(log.find("BF16"), std::string::npos) << log;
  ASSERT_EQ(run_command(dsvl_binary() + " dump --model " + dir +
                            "/model --ids 300,5,6,7 --image-token-id 315 --steps 2 --out " + dir +
                            "/d.safetensors",
                        &log),
            0)
      << log;
  const auto d = io::WeightStore::open_file(dir + "/d.safetensors");
  EXPECT_EQ(d.get("logits").shape, (Shape{1, 4, 352}));
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
