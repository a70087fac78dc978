// Safetensors files: mmapped, zero-copy, every header field checked. A model folder is either
// one model.safetensors or shards listed by model.safetensors.index.json (the official 7B).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dsvl::io {

// One mmapped .safetensors file. Views returned point into the mapping and live as long as
// this object. Throws IoError naming the file and the problem for any malformed header.
class SafeTensorsFile {
 public:
  explicit SafeTensorsFile(const std::string& path);
  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Reads the whole file into the mapping now, in file order (prefault_pages).
  void prefault() const;

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses a safetensors byte image already in memory (used by SafeTensorsFile and the fuzzer).
// `name` is used in error messages.
void parse_safetensors(const uint8_t* bytes, size_t size, const std::string& name,
                       std::map<std::string, TensorView>* tensors,
                       std::map<std::string, std::string>* metadata);

// All weights of a model folder.
class WeightStore {
 public:
  // `dir` holds model.safetensors, or model.safetensors.index.json and its shards.
  static WeightStore open(const std::string& dir);
  // A single explicit file (tests, dumps).
  static WeightStore open_file(const std::string& path);

  bool has(const std::string& key) const { return index_.count(key) > 0; }
  // IoError naming the key if it is absent.
  const TensorView& get(const std::string& key) const;
  // As get(), and ShapeError "file: key: shape [a, b], expected [c, d]" if the shape differs.
  const TensorView& require(const std::string& key, const Shape& expected) const;
  // File holding `key`.
  const std::string& file_of(const std::string& key) const;

  std::vector<std::string> keys() const;
  size_t bytes_on_disk() const;
  const std::string& dir() const { return dir_; }
  // Prefaults every file (SafeTensorsFile::prefault): for weights used in place, as mapped.
  void prefault() const;

 private:
  struct Entry {
    const TensorView* view;
    const SafeTensorsFile* file;
  };
  std::string dir_;
  std::vector<std::shared_ptr<SafeTensorsFile>> files_;
  std::map<std::string, Entry> index_;
};

// Writes `path` to disk and drops it from the page cache, so the next reader reads it cold, as
// it would a downloaded checkpoint after a restart (in large folios: see prefault_pages).
// Errors are ignored.
void drop_from_page_cache(const std::string& path);

// Writes a safetensors file tensor by tensor (a 7B shard is 5 GB: never all in memory).
// Construct with every tensor's spec (in file order), then call write() once per tensor in
// that order with its bytes (or append() its bytes in pieces), then finish().
class SafeTensorsWriter {
 public:
  struct Spec {
    std::string name;
    DType dtype;
    Shape shape;
  };
  SafeTensorsWriter(const std::string& path, std::vector<Spec> specs,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafeTensorsWriter();
  // The whole next tensor at once.
  void write(const void* data, size_t nbytes);
  // The next bytes of the current tensor, in pieces of any size (a 7B embedding table is
  // 800 MB; synth streams it in chunks). A tensor is complete when all its bytes are in.
  void append(const void* data, size_t nbytes);
  void finish();

 private:
  std::string path_;
  std::vector<Spec> specs_;
  size_t next_ = 0;
  size_t written_ = 0;    // bytes of specs_[next_] written so far
  void* file_ = nullptr;  // FILE*
};

// A tensor to be written in one go (small files: dumps, test fixtures).
struct OwnedTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<uint8_t> bytes;
};
OwnedTensor make_f32(const std::string& name, const Shape& shape, const float* data);
OwnedTensor make_i64(const std::string& name, const Shape& shape, const std::vector<int64_t>& v);
OwnedTensor make_bool(const std::string& name, const Shape& shape, const std::vector<uint8_t>& v);
void write_safetensors(const std::string& path, const std::vector<OwnedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace dsvl::io
