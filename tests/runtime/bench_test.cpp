// runtime/bench.h: statistics, the work model against hand-computed numbers for the released
// 1.3B config, and the exact JSON line of `dsvl bench --json`.
#include "runtime/bench.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <nlohmann/json.hpp>

#include "image/image.h"
#include "io/synth.h"
#include "llm/weights.h"
#include "runtime/bench_run.h"
#include "runtime/kv_cache.h"

namespace dsvl::runtime::bench {
namespace {

io::ModelConfig released(const std::string& like) {
  return io::parse_model_config(io::released_config_file(like, "config.json"), like);
}

TEST(BenchStats, MeanAndSampleStddev) {
  const Stats s = stats({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.stddev, 1.2909944487, 1e-9);
  EXPECT_EQ(stats({7}).stddev, 0.0);
  EXPECT_EQ(stats({}).mean, 0.0);
}

TEST(BenchWork, LlmFlopsAndBytesOfThe1p3bConfig) {
  const io::LlmConfig c = released("1.3b-chat").llm;
  // 24 layers × (4·2048² + 3·2048·5632).
  EXPECT_EQ(llm_layer_matrix_params(c), 1233125376);
  // 576 tokens: 2·params·576 + 4·2048·24·(576·577/2) attention + 2·102400·2048 (one logit).
  EXPECT_DOUBLE_EQ(llm_forward_flops(c, 576, 0, 1), 1453651394560.0);
  // One decode row after 100 cached positions: 101 keys, all logits of the row.
  EXPECT_DOUBLE_EQ(llm_forward_flops(c, 1, 100, 1),
                   2.0 * 1233125376 + 4.0 * 2048 * 24 * 101 + 2.0 * 102400 * 2048);
  // float32 K and V: 2 · 24 layers · 2048 · 4 bytes per position.
  EXPECT_EQ(KvCache::bytes_per_position(c), 393216u);
  // bf16 K and V (the bf16 path's cache, what `--probe` counts there): half.
  EXPECT_EQ(KvCache::bytes_per_position(c, DType::kBF16), 196608u);
  EXPECT_DOUBLE_EQ(decode_bytes_per_token(2886082560.0, 393216.0, 577),
                   2886082560.0 + 393216.0 * 577);
  EXPECT_EQ(llm_layer_matrix_params(released("7b-chat").llm), 6071255040);
}

TEST(BenchWork, WeightBytesFollowTheDtypesHeld) {
  const io::LlmConfig c = released("1.3b-chat").llm;
  llm::LlmWeights w;
  const int64_t h = c.hidden_size, I = c.intermediate_size;
  w.lm_head = TensorView{DType::kF16, {c.vocab_size, h}, nullptr};
  w.norm.assign(size_t(h), 1.0f);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    llm::LayerWeights L;
    L.q_proj = L.k_proj = L.v_proj = L.o_proj = TensorView{DType::kF16, {h, h}, nullptr};
    L.gate_proj = L.up_proj = TensorView{DType::kF16, {I, h}, nullptr};
    L.down_proj = TensorView{DType::kF16, {h, I}, nullptr};
    L.input_layernorm.assign(size_t(h), 1.0f);
    L.post_attention_layernorm.assign(size_t(h), 1.0f);
    w.layers.push_back(L);
  }
  // 2 bytes × (layer matrices + lm_head) + 4 bytes × (2 norms × 24 layers + final) × 2048.
  EXPECT_DOUBLE_EQ(llm_weight_bytes(w), 2886082560.0);
}

TEST(BenchWork, VisionFlops) {
  // SigLIP-L/16 at 384: 24 × (2·576·1024·(4·1024 + 2·4096) + 4·576²·1024) + 2·576·1024·768.
  EXPECT_DOUBLE_EQ(siglip_flops(released("1.3b-chat").vision.siglip), 381413228544.0);
  // SAM-B at 1024 (windows of 14 padded to 70, 4 global blocks, two neck paths).
  EXPECT_DOUBLE_EQ(sam_flops(*released("7b-chat").vision.sam), 969913073664.0);
}

TEST(BenchOutput, JsonLineHasTheContractKeysInOrder) {
  Row r = make_row("prefill", 16, {{0.5, 0.9}, {0.25, 0.5}}, false);
  r.threads = 2;
  r.precision = "f32";
  r.work = 1e9;
  set_limit(r, "fp32 peak", 4e9);
  const auto j = nlohmann::ordered_json::parse(json_line(r));
  const std::vector<std::string> contract = {"test", "n",       "tok_per_s", "stddev",
                                             "ms",   "threads", "precision"};
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  ASSERT_GE(keys.size(), contract.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 7), contract);
  EXPECT_EQ(j["test"], "prefill");
  EXPECT_EQ(j["n"], 16);
  EXPECT_NEAR(j["tok_per_s"].get<double>(), 48.0, 1e-9);  // (32 + 64) / 2
  EXPECT_NEAR(j["stddev"].get<double>(), 22.6274, 1e-4);
  EXPECT_NEAR(j["ms"].get<double>(), 375.0, 1e-9);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["precision"], "f32");
  EXPECT_NEAR(j["cpu_ms"].get<double>(), 700.0, 1e-9);
  EXPECT_EQ(j["limit"], "fp32 peak");
  EXPECT_NEAR(j["limit_tok_per_s"].get<double>(), 64.0, 1e-9);  // 16 tokens per 0.25 s
  EXPECT_NEAR(j["pct_limit"].get<double>(), 75.0, 1e-9);
  EXPECT_TRUE(j.contains("peak_rss_mb"));
  EXPECT_EQ(json_line(r).find('\n'), std::string::npos);
  EXPECT_TRUE(j.contains("peak_gflops"));
  EXPECT_FALSE(j.contains("read_gbps"));
}

TEST(BenchOutput, VisionMsArePerImageAndTableRowsLineUp) {
  const Row r = make_row("vision.siglip", 4, {{2.0, 3.0}}, true);
  EXPECT_NEAR(r.ms, 500.0, 1e-9);
  EXPECT_NEAR(r.tok_per_s, 2.0, 1e-9);
  const std::string header = table_header(), row = table_row(r);
  EXPECT_NE(row.find("vision.siglip"), std::string::npos);
  EXPECT_NE(row.find("2.00 ± 0.00"), std::string::npos);
  EXPECT_EQ(json_line(r).find("limit"), std::string::npos);  // no probe, no limit keys
}

// Touches `mib` MiB of fresh anonymous pages (not the allocator's: under ASan freed memory
// stays resident) and unmaps them.
void touch_and_unmap(size_t mib) {
  const size_t bytes = mib << 20;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < bytes; i += 4096) static_cast<volatile char*>(p)[i] = 1;
  munmap(p, bytes);
}

// A probe's buffer does not count in the peak RSS, and the peak before it is kept.
TEST(BenchRss, OutsidePeakRssSetsAProbesBufferAside) {
  touch_and_unmap(64);  // a peak the tests reached before the probe
  const double before = peak_rss_mb();
  bool ran = false;
  if (!outside_peak_rss([&] {
        ran = true;
        touch_and_unmap(512);
      }))
    GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
  EXPECT_TRUE(ran);
  EXPECT_GE(peak_rss_mb(), before);        // carried across the reset
  EXPECT_LT(peak_rss_mb(), before + 256);  // the 512 MiB are not counted
  const double carried = peak_rss_mb();
  touch_and_unmap(512);  // outside: counted
  EXPECT_GT(peak_rss_mb(), carried + 256);
}

TEST(BenchImage, SyntheticBmpIsAValidImage) {
  const std::string bmp = synthetic_bmp(33, 17);
  EXPECT_EQ(bmp.substr(0, 2), "BM");
  EXPECT_EQ(bmp.size(), 54u + 17u * 100u);  // rows of 99 bytes padded to 100
  const image::RgbImage img =
      image::decode_memory(reinterpret_cast<const uint8_t*>(bmp.data()), bmp.size(), "x.bmp");
  ASSERT_EQ(img.width, 33);
  ASSERT_EQ(img.height, 17);
  // Top-right pixel: red ramp at its end, green ramp at its start, grid cell (1, 0) → 200.
  const uint8_t* px = img.rgb.data() + 3 * 32;
  EXPECT_EQ(px[0], 255);
  EXPECT_EQ(px[1], 0);
  EXPECT_EQ(px[2], 200);
}

}  // namespace
}  // namespace dsvl::runtime::bench
