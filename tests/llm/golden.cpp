#include "llm/golden.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/shared.h"

namespace dsvl::test {

std::vector<std::string> kit_case_names() {
  const std::string dir = shared_path("conformance/cases");
  std::vector<std::string> names;
  if (dir.empty()) return names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

KitCase load_kit_case(const std::string& name) {
  const std::string base = shared_path("conformance/cases") + "/" + name;
  std::ifstream f(base + ".json");
  const nlohmann::json j = nlohmann::json::parse(f);
  KitCase c;
  c.name = name;
  c.model = j.at("model").get<std::string>();
  c.n_images = int64_t(j.at("images").size());
  c.image_token_id = j.at("tokens").at("image").get<int32_t>();
  c.eos_id = j.at("tokens").at("eos").get<int32_t>();
  c.tensors = std::make_shared<io::WeightStore>(io::WeightStore::open_file(base + ".safetensors"));
  for (int64_t v : golden_ints(*c.tensors, "input_ids")) c.input_ids.push_back(int32_t(v));
  return c;
}

const KitModel& kit_model(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<KitModel>> models;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = models[name];
  if (!slot) {
    const std::string dir = shared_path("conformance/models/" + name);
    slot = std::make_unique<KitModel>();
    slot->config = io::load_model_config(dir);
    slot->llm = llm::Llm::load(slot->config, io::WeightStore::open(dir));
  }
  return *slot;
}

std::vector<float> golden_floats(const io::WeightStore& s, const std::string& key) {
  return to_float(s.get(key)).data;
}

std::vector<int64_t> golden_ints(const io::WeightStore& s, const std::string& key) {
  const TensorView& v = s.get(key);
  std::vector<int64_t> out(size_t(v.numel()));
  if (v.dtype == DType::kI64) {
    std::copy_n(static_cast<const int64_t*>(v.data), out.size(), out.begin());
  } else if (v.dtype == DType::kBool || v.dtype == DType::kU8) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<const uint8_t*>(v.data)[i];
  } else {
    ADD_FAILURE() << key << ": unexpected dtype " << dtype_name(v.dtype);
  }
  return out;
}

Tensor case_embeds(const KitCase& c, const llm::Llm& m) {
  std::vector<float> img;
  if (c.tensors->has("aligner.out")) img = golden_floats(*c.tensors, "aligner.out");
  return m.prepare_inputs_embeds(c.input_ids.data(), int64_t(c.input_ids.size()), c.image_token_id,
                                 img.data(), c.n_images);
}

::testing::AssertionResult close_rel_to_max(const std::string& name, const float* got,
                                            const float* want, int64_t n, double rel_tol) {
  double max_ref = 0.0, max_abs = 0.0;
  for (int64_t i = 0; i < n; ++i) max_ref = std::max(max_ref, std::fabs(double(want[i])));
  const double tol = rel_tol * max_ref;
  int64_t first_bad = -1, worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(got[i]) - double(want[i]));
    if (!(d <= tol) && first_bad < 0) first_bad = i;
    if (!(d <= max_abs)) {
      max_abs = d;
      worst = i;
    }
  }
  std::ostringstream msg;
  msg << name << ": max abs err " << max_abs << " (at " << worst << "), rel "
      << (max_ref > 0 ? max_abs / max_ref : max_abs) << " of max|golden| " << max_ref
      << ", tolerance " << rel_tol;
  if (first_bad < 0) return ::testing::AssertionSuccess() << msg.str();
  msg << "; first bad index " << first_bad << ": got " << got[first_bad] << ", golden "
      << want[first_bad];
  return ::testing::AssertionFailure() << msg.str();
}

void expect_close(const std::string& name, const float* got, const float* want, int64_t n,
                  double rel_tol) {
  const ::testing::AssertionResult r = close_rel_to_max(name, got, want, n, rel_tol);
  EXPECT_TRUE(r);
  if (r && std::getenv("DSVL_VERBOSE")) std::printf("%s\n", r.message());
}

}  // namespace dsvl::test
