#include "vision/model_copy.h"

#include <cstring>
#include <filesystem>

#include "common/shared.h"

namespace fs = std::filesystem;

namespace dsvl::test {

std::string copy_model(const std::string& src_dir, const std::string& tag,
                       const std::function<bool(io::OwnedTensor&)>& edit) {
  const std::string dst = temp_dir(tag);
  for (const auto& e : fs::directory_iterator(src_dir))
    if (e.path().extension() == ".json")
      fs::copy_file(e.path(), fs::path(dst) / e.path().filename());
  const io::WeightStore src = io::WeightStore::open(src_dir);
  std::vector<io::OwnedTensor> out;
  for (const std::string& key : src.keys()) {
    const TensorView& v = src.get(key);
    io::OwnedTensor t{key, v.dtype, v.shape, {}};
    t.bytes.resize(v.nbytes());
    std::memcpy(t.bytes.data(), v.data, v.nbytes());
    if (edit(t)) out.push_back(std::move(t));
  }
  io::write_safetensors(dst + "/model.safetensors", out);
  return dst;
}

void perturb(io::OwnedTensor& t, float delta) {
  const int64_t n = shape_numel(t.shape);
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kF32) {
      float* p = reinterpret_cast<float*>(t.bytes.data()) + i;
      *p += delta;
    } else {
      uint16_t* p = reinterpret_cast<uint16_t*>(t.bytes.data()) + i;
      *p = t.dtype == DType::kF16 ? f32_to_f16(f16_to_f32(*p) + delta)
                                  : f32_to_bf16(bf16_to_f32(*p) + delta);
    }
  }
}

}  // namespace dsvl::test
