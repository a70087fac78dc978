#include "train/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"

namespace dsvl::train {
namespace fs = std::filesystem;

namespace {

DType target_dtype(const Param& p, SaveDType d) {
  switch (d) {
    case SaveDType::kSource:
      return p.stored.dtype;
    case SaveDType::kF32:
      return DType::kF32;
    case SaveDType::kBF16:
      return DType::kBF16;
    case SaveDType::kF16:
      return DType::kF16;
  }
  return DType::kF32;
}

// The tensor's current values (master copy or stored bytes) converted to `dt`.
std::vector<uint8_t> encode(const Param& p, DType dt) {
  const int64_t n = p.numel();
  std::vector<uint8_t> out(size_t(n) * dtype_size(dt));
  if (!p.trainable && p.stored.dtype == dt) {
    std::memcpy(out.data(), p.stored.data, out.size());
    return out;
  }
  auto value = [&](int64_t i) {
    return p.trainable ? p.value[size_t(i)] : load_float(p.stored, i);
  };
  if (dt == DType::kF32) {
    auto* f = reinterpret_cast<float*>(out.data());
    for (int64_t i = 0; i < n; ++i) f[i] = value(i);
  } else {
    auto* h = reinterpret_cast<uint16_t*>(out.data());
    for (int64_t i = 0; i < n; ++i)
      h[i] = dt == DType::kBF16 ? f32_to_bf16(value(i)) : f32_to_f16(value(i));
  }
  return out;
}

void copy_side_files(const std::string& src, const std::string& dst) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(src, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.find(".safetensors") != std::string::npos) continue;  // weights are rewritten
    fs::copy_file(e.path(), fs::path(dst) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw IoError((fs::path(dst) / name).string() + ": cannot copy: " + ec.message());
  }
}

}  // namespace

SaveDType parse_save_dtype(const std::string& s) {
  if (s == "source") return SaveDType::kSource;
  if (s == "f32" || s == "float32") return SaveDType::kF32;
  if (s == "bf16" || s == "bfloat16") return SaveDType::kBF16;
  if (s == "f16" || s == "float16") return SaveDType::kF16;
  throw RequestError("unknown checkpoint dtype \"" + s + "\" (source, f32, bf16, f16)");
}

void save_model(TrainModel& model, const std::string& out_dir, const SaveOptions& opt) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw IoError(out_dir + ": cannot create: " + ec.message());
  const std::string src = model.params().store().dir();
  if (!src.empty() && fs::exists(src) && fs::canonical(src) != fs::canonical(out_dir))
    copy_side_files(src, out_dir);
  // Greedy sharding in key order.
  const auto params = model.params().all();
  std::vector<std::vector<const Param*>> shards(1);
  int64_t cur = 0, total = 0;
  for (const Param* p : params) {
    const int64_t b = p->numel() * int64_t(dtype_size(target_dtype(*p, opt.dtype)));
    if (cur > 0 && cur + b > opt.max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(p);
    cur += b;
    total += b;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  const size_t n = shards.size();
  for (size_t s = 0; s < n; ++s) {
    char name[64];
    if (n == 1)
      std::snprintf(name, sizeof name, "model.safetensors");
    else
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n);
    std::vector<io::SafeTensorsWriter::Spec> specs;
    for (const Param* p : shards[s]) {
      specs.push_back({p->key, target_dtype(*p, opt.dtype), p->shape});
      weight_map[p->key] = name;
    }
    io::SafeTensorsWriter w((fs::path(out_dir) / name).string(), specs, {{"format", "pt"}});
    for (const Param* p : shards[s]) {
      const auto bytes = encode(*p, target_dtype(*p, opt.dtype));
      w.write(bytes.data(), bytes.size());
    }
    w.finish();
  }
  const fs::path index = fs::path(out_dir) / "model.safetensors.index.json";
  fs::remove(index, ec);
  if (n > 1) {
    nlohmann::json j = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    std::ofstream f(index);
    f << j.dump(2) << "\n";
    if (!f) throw IoError(index.string() + ": write failed");
  } else {
    // A single file replaces any shards of an earlier save into the same folder.
    for (const auto& e : fs::directory_iterator(out_dir, ec))
      if (e.path().filename().string().rfind("model-", 0) == 0 &&
          e.path().extension() == ".safetensors")
        fs::remove(e.path(), ec);
  }
}

void save_training_state(TrainModel& model, const AdamW& opt, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto& ps = model.params();
  std::vector<io::OwnedTensor> ts;
  for (Param* p : ps.trainable())
    ts.push_back(io::make_f32("master." + p->key, p->shape, p->value.data()));
  io::write_safetensors((fs::path(dir) / "training_state.safetensors").string(), ts);
  opt.save((fs::path(dir) / "optimizer.safetensors").string());
}

void load_training_state(TrainModel& model, AdamW& opt, const std::string& dir) {
  const std::string path = (fs::path(dir) / "training_state.safetensors").string();
  io::SafeTensorsFile f(path);
  size_t found = 0;
  for (Param* p : model.params().trainable()) {
    auto it = f.tensors().find("master." + p->key);
    if (it == f.tensors().end())
      throw ConfigError(path + ": no master copy of trainable tensor " + p->key);
    if (it->second.dtype != DType::kF32 || it->second.shape != p->shape)
      throw ShapeError(path + ": master." + p->key + " is " + dtype_name(it->second.dtype) + " " +
                       shape_str(it->second.shape) + ", expected F32 " + shape_str(p->shape));
    std::memcpy(p->value.data(), it->second.data, p->value.size() * sizeof(float));
    ++found;
  }
  if (found != f.tensors().size())
    throw ConfigError(path + ": holds " + std::to_string(f.tensors().size()) +
                      " master tensors, the current trainable set has " + std::to_string(found));
  opt.load((fs::path(dir) / "optimizer.safetensors").string());
}

}  // namespace dsvl::train
