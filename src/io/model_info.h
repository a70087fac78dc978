// What `dsvl info` prints about a model folder (and what the server can report): layout, tower
// and LLM sizes, parameters per component, dtypes, bytes on disk, memory and KV-cache estimates.
// Parameter counts come from the key table (io/model_keys.h) after the weights were checked
// against it, so they are the checkpoint's own numbers.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/dtype.h"
#include "io/config.h"
#include "io/model_keys.h"

namespace dsvl::io {

struct ModelInfo {
  std::string dir;
  ModelConfig config;
  ParamCounts params;  // from model_keys(config): used per component, unused
  bool has_weights = false;
  // Filled when has_weights (from the files themselves):
  std::map<DType, int64_t> tensors_by_dtype;  // every tensor in the files
  int64_t n_tensors = 0;
  int64_t params_in_files = 0;  // every tensor, used, unused or unknown
  int n_unknown = 0;            // tensors the key table does not know (ignored)
  int n_files = 0;
  uint64_t bytes_on_disk = 0;

  // Weights of the tensors the forward pass uses, stored at `bytes_per_param`.
  uint64_t weight_bytes(int bytes_per_param) const {
    return uint64_t(params.used) * uint64_t(bytes_per_param);
  }
  // K and V of every layer for one token.
  uint64_t kv_bytes_per_token(int bytes_per_elem) const;
  // "7B-style hybrid" / "1.3B-style SigLIP-only".
  std::string layout() const;
};

// From the configuration alone (no weights read): sizes, parameters and memory estimates.
ModelInfo model_info_from_config(const ModelConfig& cfg);
// Reads config and weights of `dir` and checks every tensor (check_weights). Throws the
// loader's IoError / ConfigError / ShapeError naming the file and tensor on a broken folder.
ModelInfo inspect_model(const std::string& dir);

// The human-readable summary `dsvl info` prints.
std::string format_model_info(const ModelInfo& info);
// The same facts as one JSON object (stable field names, for scripts and the server).
std::string model_info_json(const ModelInfo& info);

// 1975235584 -> "1,975,235,584".
std::string with_commas(int64_t n);
// 4294967296 -> "4.00 GiB".
std::string human_bytes(uint64_t n);

}  // namespace dsvl::io
