// The released checkpoints' key layout binds: every vision_model.* / aligner.* key of
// ../shared/spec/keys-deepseek-vl-{7b,1.3b}.txt, with the released config.json, loads into the
// towers and aligner at full size. The weights file is sparse (a real header, zero data), so
// the test costs no disk and no time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aligner/aligner.h"
#include "common/shared.h"
#include "io/config.h"
#include "vision/vision.h"

namespace dsvl::vision {
namespace {

// Writes DIR/model.safetensors holding the vision_model.* and aligner.* keys of `keys_file`,
// as F16 with the listed shapes and all-zero (sparse) data.
void write_sparse_checkpoint(const std::string& keys_file, const std::string& dir) {
  std::ifstream in(keys_file);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  int64_t offset = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    const std::string key = line.substr(0, tab);
    if (key.rfind("vision_model.", 0) != 0 && key.rfind("aligner.", 0) != 0) continue;
    const auto shape = nlohmann::json::parse(line.substr(tab + 1)).get<std::vector<int64_t>>();
    int64_t bytes = 2;
    for (int64_t d : shape) bytes *= d;
    header[key] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  const std::string path = dir + "/model.safetensors";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ASSERT_GE(fd, 0) << path;
  const uint64_t n = text.size();
  ASSERT_EQ(::write(fd, &n, 8), 8);
  ASSERT_EQ(::write(fd, text.data(), n), ssize_t(n));
  ASSERT_EQ(::ftruncate(fd, off_t(8 + n + uint64_t(offset))), 0);
  ::close(fd);
}

void check_layout(const std::string& model, int image_size, int low_res, int n_embed) {
  const std::string spec = test::shared_path("spec");
  if (spec.empty()) GTEST_SKIP() << "../shared/spec not found";
  const std::string dir = test::temp_dir("layout-" + model);
  write_sparse_checkpoint(spec + "/keys-" + model + ".txt", dir);
  const std::string chat = model + "-chat";
  const io::ModelConfig cfg = io::load_model_config(spec + "/configs/" + chat);
  const io::WeightStore store = io::WeightStore::open(dir);
  const auto vision = VisionModel::load(cfg, store);
  EXPECT_EQ(vision->image_size(), image_size);
  EXPECT_EQ(vision->low_res_size(), low_res);
  EXPECT_EQ(vision->width(), 1024);
  EXPECT_EQ(vision->tokens_per_image(), 576);
  const auto aligner = aligner::Aligner::load(cfg, store);
  EXPECT_EQ(aligner->out_dim(), n_embed);
}

TEST(VisionRealLayout, Binds7B) { check_layout("deepseek-vl-7b", 1024, 384, 4096); }
TEST(VisionRealLayout, Binds1_3B) { check_layout("deepseek-vl-1.3b", 384, 0, 2048); }

}  // namespace
}  // namespace dsvl::vision
