#include "vision/vision_case.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "image/image.h"

namespace fs = std::filesystem;

namespace dsvl::test {
namespace {

// Processor rescale (spec §4): float32(float64(u8) · 0.00392156862745098).
float rescale(uint8_t v) { return float(double(v) * 0.00392156862745098); }

}  // namespace

std::vector<std::string> vision_case_names() {
  std::vector<std::string> names;
  const std::string dir = shared_path("conformance/cases");
  if (dir.empty()) return names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    const auto j = nlohmann::json::parse(in);
    if (!j.value("images", nlohmann::json::array()).empty()) names.push_back(e.path().stem());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<VisionCase> load_vision_case(const std::string& name, PixelSource source) {
  const std::string kit = shared_path("conformance");
  if (kit.empty()) return std::nullopt;
  std::ifstream in(kit + "/cases/" + name + ".json");
  const auto j = nlohmann::json::parse(in);
  VisionCase c;
  c.name = name;
  c.model_dir = kit + "/models/" + j.at("model").get<std::string>();
  c.images = j.at("images").get<std::vector<std::string>>();
  c.n = int(c.images.size());
  c.image_size = j.at("image_size").get<int>();
  c.golden = std::make_shared<io::WeightStore>(
      io::WeightStore::open_file(kit + "/cases/" + name + ".safetensors"));
  const io::ModelConfig cfg = io::load_model_config(c.model_dir);
  if (source == PixelSource::kOurPreprocessing) {
    const io::ImageProcessorConfig& p = cfg.image_processor;
    const image::PreprocessConfig pc{p.image_size, p.image_mean, p.min_size, p.rescale_factor};
    for (const std::string& file : c.images) {
      const image::PixelInputs px =
          image::make_pixel_inputs(image::decode_file(kit + "/images/" + file), pc);
      c.pixels.insert(c.pixels.end(), px.pixel_values.begin(), px.pixel_values.end());
      if (cfg.is_hybrid()) {
        const auto low = image::resized_pixel_values(px, cfg.vision.siglip.image_size);
        c.low_res.insert(c.low_res.end(), low.begin(), low.end());
      }
    }
    return c;
  }
  // The kit's preprocess goldens: the processor output is exactly u8·factor.
  for (const auto& f : j.at("preprocess_files")) {
    const auto pre = io::WeightStore::open_file(kit + "/preprocess/" + f.get<std::string>());
    const TensorView& u8 = pre.get("pixel_values_u8");
    const auto* p = static_cast<const uint8_t*>(u8.data);
    for (int64_t i = 0; i < u8.numel(); ++i) c.pixels.push_back(rescale(p[i]));
    if (cfg.is_hybrid()) {
      const Tensor lr = to_float(pre.get("low_res_input"));
      c.low_res.insert(c.low_res.end(), lr.data.begin(), lr.data.end());
    }
  }
  return c;
}

::testing::AssertionResult matches_golden(const Tensor& got, const TensorView& golden,
                                          const std::string& name, double rel_tol) {
  if (got.shape != golden.shape)
    return ::testing::AssertionFailure()
           << name << ": shape " << shape_str(got.shape) << ", golden " << shape_str(golden.shape);
  const Tensor g = to_float(golden);
  double max_ref = 0, max_err = 0;
  for (float v : g.data) max_ref = std::max(max_ref, double(std::fabs(v)));
  const double tol = rel_tol * max_ref;
  int64_t first_bad = -1, worst = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double e = std::fabs(double(got.data[size_t(i)]) - double(g.data[size_t(i)]));
    if (!(e <= tol) && first_bad < 0) first_bad = i;
    if (!(e <= max_err)) max_err = e, worst = i;
  }
  if (std::getenv("DSVL_TEST_VERBOSE"))
    std::printf("  %-40s max abs %.3g  rel %.3g\n", name.c_str(), max_err, max_err / max_ref);
  if (first_bad < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << name << ": max abs err " << max_err << " at " << worst << ", max rel err "
         << max_err / max_ref << " (tolerance " << rel_tol << "·" << max_ref
         << "), first bad index " << first_bad << " (got " << got.data[size_t(first_bad)]
         << ", golden " << g.data[size_t(first_bad)] << ")";
}

}  // namespace dsvl::test
