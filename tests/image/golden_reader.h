// A tiny safetensors reader for the image tests: header JSON + raw little-endian bytes. Kept
// private to tests/image so these tests do not depend on io/ (written concurrently).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace dsvl::test {

struct GoldenTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  std::vector<float> as_f32() const {
    if (dtype != "F32") throw std::runtime_error("tensor is " + dtype + ", not F32");
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
  }
};

// Reads every tensor of a .safetensors file; throws std::runtime_error on a malformed file.
inline std::map<std::string, GoldenTensor> read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (all.size() < 8) throw std::runtime_error(path + ": too short");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | all[size_t(i)];
  if (n > all.size() - 8) throw std::runtime_error(path + ": header length out of range");
  const auto header =
      nlohmann::json::parse(std::string(all.begin() + 8, all.begin() + 8 + int64_t(n)));
  const size_t base = 8 + size_t(n);
  std::map<std::string, GoldenTensor> out;
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__") continue;
    GoldenTensor g;
    g.dtype = t.at("dtype").get<std::string>();
    g.shape = t.at("shape").get<std::vector<int64_t>>();
    const auto off = t.at("data_offsets").get<std::vector<uint64_t>>();
    if (off.size() != 2 || off[0] > off[1] || base + off[1] > all.size())
      throw std::runtime_error(path + ": " + name + ": data_offsets out of range");
    g.bytes.assign(all.begin() + int64_t(base + off[0]), all.begin() + int64_t(base + off[1]));
    out.emplace(name, std::move(g));
  }
  return out;
}

}  // namespace dsvl::test
