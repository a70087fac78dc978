// dsvl — DeepSeek-VL in C++. The public API: the only header the command-line tool, the
// server and outside users include.
//
// A dsvl::Engine owns one loaded model (weights mmapped, tokenizer, image processor) and a
// scheduler thread that runs every request submitted to it, batching the decode steps of
// concurrent requests. Requests are described as chat messages (text + images); results
// stream back through a callback called on the scheduler thread.
//
// Thread-safety: every Engine method may be called from any thread; callbacks must be
// quick (they run on the compute thread) and must not call back into the Engine except
// Engine::cancel. Errors are thrown as dsvl::Error (see Error::kind) from load() and
// submit(); errors that happen later arrive in Result::error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dsvl/error.h"

namespace dsvl {

inline constexpr int kApiVersion = 1;

enum class Precision {
  kAuto,  // bf16 fast path for F16/BF16 checkpoints, f32 for F32 ones
  kF32,   // exact float32 (what `dsvl dump` and the conformance checks use)
  kBF16,  // bf16 GEMMs with float32 accumulation
};

struct LoadParams {
  std::string model_dir;  // a Hugging Face download, as is
  int n_threads = 0;      // 0: all cores
  int ctx = 4096;         // context length (tokens), ≤ max_position_embeddings
  int parallel = 1;       // sequences decoded together (server slots)
  Precision precision = Precision::kAuto;
  // bf16 path: also copy BF16 weight matrices into memory (2 MB pages) instead of reading
  // them mapped from the page cache — faster decode, but the file is read at every start.
  // F16/F32 checkpoints are always converted into memory on the bf16 path.
  bool no_mmap = false;
  // bf16 path: the LLM's weight matrices are repacked at load into the GEMM kernels' tile
  // layout (a bf16 copy in memory, the mapped pages handed back; decode ~15% faster, prefill
  // packs nothing per call). no_repack keeps them as stored: mapped, zero-copy, instant start.
  bool no_repack = false;
  bool progress = false;  // print load progress to stderr
  // Resource limits applied to every request (LimitError when exceeded). The prompt and the
  // new tokens together never exceed `ctx`.
  int64_t max_image_pixels = 64'000'000;    // refused before decoding
  int max_images = 8;                       // per request
  int max_tokens_cap = 0;                   // > 0: SamplingParams::max_tokens above it refused
  int64_t image_cache_bytes = 256ll << 20;  // image-embedding cache (0 disables)
  // KV prefix cache, in positions (0 disables). A position costs 384 KiB (1.3B) / 960 KiB
  // (7B) with the float32 cache of the f32 path, half that with the bf16 path's bf16 cache.
  int64_t prefix_cache_tokens = 4096;
};

// One image of a request: either a file path or the encoded bytes (PNG, JPEG, WebP, GIF, BMP).
struct ImageInput {
  std::string path;
  std::string bytes;
  std::string name;  // for error messages
};

// A message of the "deepseek" chat template. In `content`, each "<image_placeholder>" (or
// "<image>") marks where the next image of `images` goes; with none written, the images are
// put before the text, one placeholder each.
struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
  std::vector<ImageInput> images;
};

struct SamplingParams {
  float temperature = 0.2f;  // 0: greedy
  float top_p = 0.95f;
  int top_k = 50;  // 0: off
  float min_p = 0.0f;
  float repetition_penalty = 1.1f;  // on generated tokens only, as HF generate
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;  // same seed + same request → same output
  int max_tokens = 512;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  std::vector<int32_t> stop_ids;  // stop token ids besides EOS
  int top_logprobs = 0;           // alternatives reported per token (0..20)
  bool logprobs = false;
  // Grammar-constrained output: "" (none), "json_object", or a JSON schema (as text).
  std::string response_format;
  std::string json_schema;
};

struct Request {
  std::vector<Message> messages;       // chat mode (template applied, BOS added)
  std::optional<std::string> raw;      // raw mode: the prompt text as is (base models)
  std::vector<ImageInput> raw_images;  // images for raw mode, one per placeholder
  bool add_system_prompt = true;       // the official system prompt when no system message
  SamplingParams sampling;
};

struct TokenLogprob {
  int32_t id;
  std::string text;
  float logprob;
};

// One streamed step: `text` is the newly completed UTF-8 text (never a broken sequence nor
// a partial stop string; may be empty while bytes are held back).
struct Delta {
  int32_t token = -1;
  std::string text;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // sampling.top_logprobs alternatives
};

struct Usage {
  int prompt_tokens = 0;  // image tokens included
  int image_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // reused from the prefix cache
};

struct Timings {
  double load_ms = 0, image_encode_ms = 0, prefill_ms = 0, decode_ms = 0;
  int prefill_tokens = 0, decode_tokens = 0;
};

struct Result {
  std::string text;
  std::string finish_reason;  // "stop", "length", "cancelled", "error"
  std::string error;          // set when finish_reason == "error"
  ErrorKind error_kind = ErrorKind::kInternal;
  std::vector<Delta> tokens;  // filled when sampling.logprobs
  Usage usage;
  Timings timings;
};

struct ModelInfo {
  std::string name;          // folder name
  std::string architecture;  // "siglip" (1.3B layout) or "hybrid" (7B layout)
  int64_t n_params = 0;
  int ctx = 0;
  int max_position_embeddings = 0;
  int vocab_size = 0;
  int image_tokens = 576;
  std::string precision;  // "f32" or "bf16"
};

using RequestId = uint64_t;

class Engine {
 public:
  virtual ~Engine() = default;

  // Loads a model folder. Throws dsvl::Error naming the file / tensor on a broken folder.
  static std::unique_ptr<Engine> load(const LoadParams& params);

  virtual const ModelInfo& info() const = 0;
  virtual bool ready() const = 0;

  // Validates and queues a request; throws Error(kRequest / kLimit) for a bad one (bad image,
  // too many images, prompt longer than the context, ...). on_delta runs for every streamed
  // step, on_done exactly once at the end. Returns an id for cancel().
  virtual RequestId submit(const Request& request, std::function<void(const Delta&)> on_delta,
                           std::function<void(const Result&)> on_done) = 0;
  // Stops a request at the next step (its on_done reports "cancelled"); frees its slot.
  virtual void cancel(RequestId id) = 0;

  // Blocking convenience: submit and wait.
  Result generate(const Request& request, std::function<void(const Delta&)> on_delta = {});

  // Number of tokens the request's prompt has after templating and image expansion.
  virtual int count_prompt_tokens(const Request& request) = 0;

  virtual std::vector<int32_t> tokenize(const std::string& text, bool add_special) const = 0;
  virtual std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  // Queue and slot counters for /metrics.
  struct Stats {
    int queued = 0, running = 0, slots = 0;
    int64_t image_cache_hits = 0, image_cache_misses = 0, prefix_cache_hit_tokens = 0;
  };
  virtual Stats stats() const = 0;
};

}  // namespace dsvl
