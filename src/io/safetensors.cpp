#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "core/file_mappings.h"
#include "core/json_depth.h"

namespace dsvl::io {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Safetensors headers of real checkpoints are ~100 kB; 100 MB is far beyond any real one and
// keeps a corrupt length from driving a giant allocation.
constexpr uint64_t kMaxHeader = 100ull << 20;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw IoError(name + ": " + what);
}

}  // namespace

void parse_safetensors(const uint8_t* bytes, size_t size, const std::string& name,
                       std::map<std::string, TensorView>* tensors,
                       std::map<std::string, std::string>* metadata) {
  if (size == 0) fail(name, "empty file (0 bytes), not a safetensors file");
  if (size < 8)
    fail(name,
         "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > size - 8)
    fail(name, "header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (n > kMaxHeader) fail(name, "header length " + std::to_string(n) + " is implausibly large");
  if (n < 2) fail(name, "header is empty");
  json h;
  const std::string_view header(reinterpret_cast<const char*>(bytes + 8), size_t(n));
  if (json_depth(header) > kMaxJsonDepth)
    fail(name, "header nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    h = json::parse(header);
  } catch (const json::exception& e) {
    fail(name, std::string("header is not valid JSON: ") + e.what());
  }
  if (!h.is_object()) fail(name, "header is not a JSON object");
  const uint8_t* data = bytes + 8 + n;
  const uint64_t data_size = size - 8 - n;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& [key, v] : h.items()) {
    if (key == "__metadata__") {
      if (!v.is_object()) fail(name, "__metadata__ is not an object");
      for (auto& [mk, mv] : v.items())
        if (metadata) (*metadata)[mk] = mv.is_string() ? mv.get<std::string>() : mv.dump();
      continue;
    }
    const std::string where = "tensor \"" + key + "\"";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      fail(name, where + ": entry needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) fail(name, where + ": dtype is not a string");
    DType dt;
    try {
      dt = dtype_from_name(v["dtype"].get<std::string>());
    } catch (const IoError& e) {
      fail(name, where + ": " + e.what());
    }
    const auto& js = v["shape"];
    if (!js.is_array()) fail(name, where + ": shape is not an array");
    Shape shape;
    // Overflow-checked element count: a huge dimension must not wrap around.
    unsigned __int128 numel = 1;
    for (auto& d : js) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        fail(name, where + ": shape has a non-integer or negative dimension");
      shape.push_back(d.get<int64_t>());
      numel *= uint64_t(shape.back());
      if (numel > (unsigned __int128)(1) << 62) fail(name, where + ": shape is implausibly large");
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail(name, where + ": data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e)
      fail(name, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                     "] are reversed");
    if (e > data_size)
      fail(name, where + ": data_offsets end " + std::to_string(e) +
                     " is past the end of the data (" + std::to_string(data_size) +
                     " bytes): file truncated?");
    const unsigned __int128 want = numel * dtype_size(dt);
    if (want != e - b)
      fail(name, where + ": shape " + shape_str(shape) + " of " + dtype_name(dt) + " needs " +
                     std::to_string(uint64_t(want)) + " bytes but data_offsets span " +
                     std::to_string(e - b));
    ranges.emplace_back(b, e);
    if (tensors) (*tensors)[key] = TensorView{dt, shape, data + b};
  }
  // Two non-empty ranges overlap iff, in start order, one starts before the furthest end seen
  // so far (comparing only with the previous range misses an overlap across an empty tensor).
  std::sort(ranges.begin(), ranges.end());
  uint64_t furthest = 0;
  for (const auto& [b, e] : ranges) {
    if (b == e) continue;
    if (b < furthest)
      fail(name, "tensor data ranges overlap at byte " + std::to_string(b) +
                     " (data_offsets of two tensors share bytes)");
    furthest = e;
  }
}

SafeTensorsFile::SafeTensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": not a regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    map_ = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      ::close(fd);
      throw IoError(path + ": mmap failed: " + std::strerror(errno));
    }
  }
  ::close(fd);
  try {
    parse_safetensors(static_cast<const uint8_t*>(map_), size_, path, &tensors_, &metadata_);
  } catch (...) {
    if (map_) munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
  register_file_mapping(map_, size_);
}

SafeTensorsFile::~SafeTensorsFile() {
  if (map_) {
    unregister_file_mapping(map_);
    munmap(map_, size_);
  }
}

void SafeTensorsFile::prefault() const { prefault_pages(map_, size_); }

WeightStore WeightStore::open_file(const std::string& path) {
  WeightStore s;
  s.dir_ = fs::path(path).parent_path().string();
  auto f = std::make_shared<SafeTensorsFile>(path);
  for (auto& [k, v] : f->tensors()) s.index_[k] = Entry{&v, f.get()};
  s.files_.push_back(std::move(f));
  return s;
}

WeightStore WeightStore::open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(dir + ": model folder not found");
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  // A single file wins over an index, as in transformers' from_pretrained.
  if (fs::exists(single, ec) || !fs::exists(index, ec)) {
    if (!fs::exists(single, ec))
      throw IoError(dir + ": no model.safetensors or model.safetensors.index.json in the folder");
    WeightStore s = open_file(single.string());
    s.dir_ = dir;
    return s;
  }
  json j;
  {
    std::ifstream in(index);
    if (!in) throw IoError(index.string() + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    if (json_depth(text.str()) > kMaxJsonDepth)
      throw IoError(index.string() + ": nests deeper than " + std::to_string(kMaxJsonDepth) +
                    " levels");
    try {
      j = json::parse(text.str());
    } catch (const json::exception& e) {
      throw IoError(index.string() + ": not valid JSON: " + e.what());
    }
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw IoError(index.string() + ": missing \"weight_map\" object");
  WeightStore s;
  s.dir_ = dir;
  std::map<std::string, std::shared_ptr<SafeTensorsFile>> shards;
  for (auto& [key, file] : j["weight_map"].items()) {
    if (!file.is_string())
      throw IoError(index.string() + ": weight_map[\"" + key + "\"] is not a file name");
    const std::string fname = file.get<std::string>();
    if (fname.find('/') != std::string::npos || fname == "..")
      throw IoError(index.string() + ": shard name \"" + fname + "\" must be a plain file name");
    auto it = shards.find(fname);
    if (it == shards.end()) {
      const fs::path p = fs::path(dir) / fname;
      if (!fs::exists(p, ec))
        throw IoError(index.string() + ": names shard \"" + fname +
                      "\", which is missing from the folder");
      it = shards.emplace(fname, std::make_shared<SafeTensorsFile>(p.string())).first;
      s.files_.push_back(it->second);
    }
    auto t = it->second->tensors().find(key);
    if (t == it->second->tensors().end())
      throw IoError(it->second->path() + ": the index says it holds \"" + key +
                    "\", but it does not");
    s.index_[key] = Entry{&t->second, it->second.get()};
  }
  return s;
}

const TensorView& WeightStore::get(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) throw IoError(dir_ + ": missing tensor \"" + key + "\"");
  return *it->second.view;
}

const TensorView& WeightStore::require(const std::string& key, const Shape& expected) const {
  const TensorView& v = get(key);
  if (v.shape != expected)
    throw ShapeError(fs::path(file_of(key)).filename().string() + ": " + key + ": shape " +
                     shape_str(v.shape) + ", expected " + shape_str(expected));
  // Kernels read weights in place as float / uint16 arrays. The safetensors library aligns
  // every tensor (header padded to 8, tensors sorted by dtype size); a file that does not would
  // make those reads misaligned, so it is refused here rather than read with undefined behaviour.
  if (reinterpret_cast<uintptr_t>(v.data) % dtype_size(v.dtype) != 0)
    throw IoError(fs::path(file_of(key)).filename().string() + ": " + key + ": data is not " +
                  "aligned to its " + std::to_string(dtype_size(v.dtype)) +
                  "-byte elements (re-save the file with the safetensors library)");
  return v;
}

const std::string& WeightStore::file_of(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) throw IoError(dir_ + ": missing tensor \"" + key + "\"");
  return it->second.file->path();
}

std::vector<std::string> WeightStore::keys() const {
  std::vector<std::string> k;
  for (auto& [name, e] : index_) k.push_back(name);
  return k;
}

void WeightStore::prefault() const {
  for (const auto& f : files_) f->prefault();
}

size_t WeightStore::bytes_on_disk() const {
  size_t n = 0;
  for (auto& f : files_) n += f->file_size();
  return n;
}

// ---- writing ----

void drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  if (fdatasync(fd) == 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

SafeTensorsWriter::SafeTensorsWriter(const std::string& path, std::vector<Spec> specs,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path), specs_(std::move(specs)) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& s : specs_) {
    if (s.name.empty() || s.name == "__metadata__" || h.contains(s.name))
      throw IoError(path + ": tensor name \"" + s.name + "\" is empty, reserved or repeated");
    const uint64_t n = uint64_t(shape_numel(s.shape)) * dtype_size(s.dtype);
    h[s.name] = {
        {"dtype", dtype_name(s.dtype)}, {"shape", s.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8 != 0) hs.push_back(' ');  // align the data section to 8 bytes
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw IoError(path + ": cannot create: " + std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t((uint64_t(hs.size()) >> (8 * i)) & 0xff);
  if (std::fwrite(len, 1, 8, f) != 8 || std::fwrite(hs.data(), 1, hs.size(), f) != hs.size()) {
    std::fclose(f);  // the destructor does not run for a constructor that throws
    throw IoError(path + ": write failed");
  }
  file_ = f;
}

SafeTensorsWriter::~SafeTensorsWriter() {
  if (file_) std::fclose(static_cast<FILE*>(file_));
}

void SafeTensorsWriter::write(const void* data, size_t nbytes) {
  if (next_ >= specs_.size()) throw IoError(path_ + ": more tensors written than declared");
  const Spec& s = specs_[next_];
  const size_t want = size_t(shape_numel(s.shape)) * dtype_size(s.dtype);
  if (nbytes != want || written_ != 0)
    throw IoError(path_ + ": " + s.name + ": got " + std::to_string(nbytes) + " bytes, expected " +
                  std::to_string(want));
  if (want == 0) {
    ++next_;  // an empty tensor is complete without any byte
    return;
  }
  append(data, nbytes);
}

void SafeTensorsWriter::append(const void* data, size_t nbytes) {
  if (!file_) throw IoError(path_ + ": write after finish()");
  if (nbytes == 0) return;
  // Empty tensors take no bytes: the bytes belong to the next non-empty one.
  while (next_ < specs_.size() && written_ == 0 && shape_numel(specs_[next_].shape) == 0) ++next_;
  if (next_ >= specs_.size()) throw IoError(path_ + ": more tensors written than declared");
  const Spec& s = specs_[next_];
  const size_t want = size_t(shape_numel(s.shape)) * dtype_size(s.dtype);
  if (nbytes > want - written_)
    throw IoError(path_ + ": " + s.name + ": " + std::to_string(written_ + nbytes) +
                  " bytes appended, more than its " + std::to_string(want));
  if (std::fwrite(data, 1, nbytes, static_cast<FILE*>(file_)) != nbytes)
    throw IoError(path_ + ": write failed (disk full?)");
  written_ += nbytes;
  if (written_ == want) {
    ++next_;
    written_ = 0;
  }
}

void SafeTensorsWriter::finish() {
  if (!file_) throw IoError(path_ + ": finish() called twice");
  // Trailing empty tensors need no bytes.
  while (next_ < specs_.size() && written_ == 0 && shape_numel(specs_[next_].shape) == 0) ++next_;
  if (next_ != specs_.size()) throw IoError(path_ + ": not every declared tensor was written");
  FILE* f = static_cast<FILE*>(file_);
  file_ = nullptr;
  if (std::fclose(f) != 0) throw IoError(path_ + ": close failed (disk full?)");
}

OwnedTensor make_f32(const std::string& name, const Shape& shape, const float* data) {
  OwnedTensor t{name, DType::kF32, shape, {}};
  t.bytes.resize(size_t(shape_numel(shape)) * 4);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), data, t.bytes.size());  // never memcpy(null)
  return t;
}

OwnedTensor make_i64(const std::string& name, const Shape& shape, const std::vector<int64_t>& v) {
  OwnedTensor t{name, DType::kI64, shape, {}};
  t.bytes.resize(v.size() * 8);
  if (!t.bytes.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

OwnedTensor make_bool(const std::string& name, const Shape& shape, const std::vector<uint8_t>& v) {
  return OwnedTensor{name, DType::kBool, shape, v};
}

void write_safetensors(const std::string& path, const std::vector<OwnedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<SafeTensorsWriter::Spec> specs;
  for (auto& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  SafeTensorsWriter w(path, specs, metadata);
  for (auto& t : tensors) w.write(t.bytes.data(), t.bytes.size());
  w.finish();
}

}  // namespace dsvl::io
