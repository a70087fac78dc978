// `dsvl synth`: model folders in the released layout filled with random weights, for loader
// tests, benchmarks of full-size models and the README's quick start (--tiny). Every tensor of
// model_keys() is written with its real name and shape, streamed chunk by chunk (a 7B folder
// is ~15 GB and never sits in memory). Values are a pure function of (seed, tensor, element),
// so a folder is the same whatever the thread count or shard count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/config.h"

namespace dsvl::io {

struct SynthOptions {
  std::string like = "1.3b-chat";  // "1.3b-chat" or "7b-chat"
  std::string out_dir;
  DType dtype = DType::kF16;  // the dtype config.json names
  uint64_t seed = 0;
  int shards = 1;             // > 1: model-0000i-of-0000K.safetensors + index json
  std::string tokenizer_dir;  // copy tokenizer.json & co from here; empty: build a small one
  bool tiny = false;          // small widths/depths through `arch` and language_config
  // Called after each written chunk: bytes of tensor data written so far and in all.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct SynthResult {
  ModelConfig config;
  std::vector<std::string> files;  // weight files written, in order
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t data_bytes = 0;  // tensor bytes (the index's total_size)
  int tokenizer_ids = 0;    // ids the tokenizer uses (vocab rows >= this)
};

// Writes the folder. Throws RequestError for bad options, IoError for I/O problems.
SynthResult synth_model(const SynthOptions& opt);

// ---- pieces, exposed for tests ----

// config.json, preprocessor_config.json or processor_config.json of a released model, byte
// for byte. like: "1.3b-chat" / "7b-chat".
const char* released_config_file(const std::string& like, const std::string& file);

// The config.json text synth writes (the released one, or its tiny variant with `vocab` rows).
std::string synth_config_json(const std::string& like, bool tiny, int vocab, DType dtype);

// A small byte-level BPE tokenizer in the layout of the DeepSeek LLM tokenizer.json (same
// pre-tokenizer, decoder, post-processor and special tokens): 256 byte tokens in GPT-2's
// byte-to-unicode order, merges learned from a small built-in English text, then
// <｜begin▁of▁sentence｜>, <｜end▁of▁sentence｜>, <image_placeholder> as special added tokens.
struct TokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
  std::string special_tokens_map_json;
  int n_ids = 0;  // ids 0 .. n_ids-1
};
TokenizerFiles build_small_tokenizer(int n_merges = 400);
// Largest id in a tokenizer.json (model vocab and added tokens) + 1.
int tokenizer_id_count(const std::string& tokenizer_json, const std::string& name);

// How each tensor is initialised (the conformance kit's recipe): linear/conv weights
// N(0, 1/fan_in), biases N(0, 0.05²), norm weights 1 + N(0, 0.1²), position tables and
// rel-pos N(0, 0.2²), token embeddings N(0, 1), hd_alpha_downsamples U[0.3, 0.8].
struct Init {
  enum Kind { kNormal, kUniform } kind = kNormal;
  float a = 0, b = 1;  // normal: mean a, std b; uniform: [a, b]
};
Init init_for(const std::string& name, const std::vector<int64_t>& shape);
// Elements [begin, begin + n) of tensor number `stream` under `seed`.
void fill_random(uint64_t seed, uint64_t stream, int64_t begin, int64_t n, const Init& init,
                 float* out);

}  // namespace dsvl::io
