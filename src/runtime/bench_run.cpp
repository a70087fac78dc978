#include "runtime/bench_run.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/threadpool.h"
#include "io/model_keys.h"
#include "kernels/cpu/weight_arena.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "runtime/request_prep.h"

namespace dsvl::runtime::bench {
namespace {

constexpr int kImageWidth = 1024, kImageHeight = 768;  // a photo-like landscape picture
constexpr const char* kQuestion = "Describe this image in one sentence.";

void put_u16(std::string& s, uint32_t v) { s += char(v & 0xff), s += char((v >> 8) & 0xff); }
void put_u32(std::string& s, uint32_t v) { put_u16(s, v & 0xffff), put_u16(s, v >> 16); }

int32_t argmax(const float* x, int64_t n) { return int32_t(std::max_element(x, x + n) - x); }

// Greedy decoding of n tokens after whatever the cache holds, starting by feeding `token`.
void decode_tokens(const llm::Llm& m, int32_t token, int64_t n, KvCache& kv, llm::Workspace& ws,
                   std::vector<float>& logits, std::vector<float>& x) {
  for (int64_t i = 0; i < n; ++i) {
    m.embed(&token, 1, x.data());
    m.forward(x.data(), 1, kv.view(), ws, 0, logits.data());
    token = argmax(logits.data(), m.vocab_size());
  }
}

}  // namespace

std::string synthetic_bmp(int width, int height) {
  const uint32_t stride = (uint32_t(width) * 3 + 3) & ~3u;
  const uint32_t data = stride * uint32_t(height);
  std::string s = "BM";
  put_u32(s, 54 + data), put_u32(s, 0), put_u32(s, 54);
  put_u32(s, 40), put_u32(s, uint32_t(width)), put_u32(s, uint32_t(height));
  put_u16(s, 1), put_u16(s, 24), put_u32(s, 0), put_u32(s, data);
  put_u32(s, 2835), put_u32(s, 2835), put_u32(s, 0), put_u32(s, 0);
  for (int y = height - 1; y >= 0; --y) {  // bottom-up rows, BGR
    for (int x = 0; x < width; ++x) {
      s += char(((x / 32 + y / 32) % 2) * 200);
      s += char(y * 255 / std::max(1, height - 1));
      s += char(x * 255 / std::max(1, width - 1));
    }
    s.append(stride - uint32_t(width) * 3, '\0');
  }
  return s;
}

double llm_weight_bytes(const llm::LlmWeights& w) {
  double b = double(w.lm_head.nbytes()) + double(w.norm.size() * sizeof(float));
  for (const llm::LayerWeights& l : w.layers) {
    for (const TensorView* t :
         {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      b += double(t->nbytes());
    b += double((l.input_layernorm.size() + l.post_attention_layernorm.size()) * sizeof(float));
  }
  return b;
}

void check_params(const BenchParams& p, const io::ModelConfig& config) {
  auto range = [](const char* flag, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      throw RequestError(std::string(flag) + " " + std::to_string(v) + " is out of range [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  const int64_t ctx = config.llm.max_position_embeddings;
  range("-p", p.n_prompt, 1, ctx);
  range("-n", p.n_gen, 1, ctx);
  range("--images", p.n_images, 0, 64);
  range("--reps", p.reps, 1, 1000);
  range("-t", p.threads, 0, 1024);
  if (p.n_prompt + p.n_gen > ctx)
    throw RequestError("-p " + std::to_string(p.n_prompt) + " + -n " + std::to_string(p.n_gen) +
                       " = " + std::to_string(p.n_prompt + p.n_gen) +
                       " tokens do not fit the model's context of " + std::to_string(ctx) +
                       " positions (max_position_embeddings)");
}

Bench::Bench(const BenchParams& params, std::function<void(const std::string&)> log)
    : params_(params), log_(std::move(log)) {
  const io::ModelConfig cfg = io::load_model_config(params.model_dir);
  check_params(params, cfg);
  if (params.threads > 0) set_num_threads(params.threads);
  PipelineOptions po;
  po.precision = params.precision;
  po.no_mmap = params.no_mmap;
  po.no_repack = params.no_repack;
  // Room for the prompt + generated tokens, and for the ttft request (an image and a question).
  po.max_positions = std::min<int64_t>(cfg.llm.max_position_embeddings,
                                       std::max(params.n_prompt + params.n_gen, kDefaultContext));
  say("loading " + params.model_dir);
  const Timing t = timed([&] { pipe_ = Pipeline::load(params.model_dir, po); });
  info_.model = params.model_dir;
  while (info_.model.size() > 1 && info_.model.back() == '/') info_.model.pop_back();
  info_.model = info_.model.substr(info_.model.find_last_of('/') + 1);
  info_.architecture = cfg.is_hybrid() ? "hybrid" : "siglip";
  info_.n_params = io::count_params(io::model_keys(pipe_->config())).total();
  info_.llm_weight_bytes = llm_weight_bytes(pipe_->llm().weights());
  info_.load_s = t.wall_s;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(params.model_dir, ec))
    if (e.path().extension() == ".safetensors") info_.file_bytes += double(e.file_size(ec));
  info_.threads = num_threads();
  info_.precision = kernels::precision_name(pipe_->precision());
}

void Bench::say(const std::string& s) const {
  if (log_) log_(s);
}

std::vector<Row> Bench::vision_rows() {
  if (params_.n_images == 0) return {};
  const std::string bmp = synthetic_bmp(kImageWidth, kImageHeight);
  const PreparedImage im = pipe_->prepare_bytes(bmp, "synthetic.bmp");
  const std::vector<const PreparedImage*> ptrs(size_t(params_.n_images), &im);
  if (params_.warmup) {
    say("vision: warm-up");
    pipe_->encode_images({&im});
  }
  std::vector<Sample> sam, siglip;
  std::vector<double> peaks;
  for (int r = 0; r < params_.reps; ++r) {
    say("vision: run " + std::to_string(r + 1) + "/" + std::to_string(params_.reps));
    vision::VisionFeatures f;
    beside(peaks, Limit::kCompute, [&] { pipe_->encode_images(ptrs, &f); });
    sam.push_back(f.sam_time), siglip.push_back(f.siglip_time);
  }
  const io::ModelConfig& c = pipe_->config();
  std::vector<Row> rows;
  if (c.vision.sam) {
    rows.push_back(make_row("vision.sam", params_.n_images, sam, true));
    rows.back().work = sam_flops(*c.vision.sam) * params_.n_images;
  }
  rows.push_back(make_row("vision.siglip", params_.n_images, siglip, true));
  rows.back().work = siglip_flops(c.vision.siglip) * params_.n_images;
  for (Row& row : rows) row.peak_gflops = stats(peaks).mean;
  return rows;
}

std::vector<Row> Bench::llm_rows() {
  const llm::Llm& m = pipe_->llm();
  const io::LlmConfig& c = m.config();
  const int64_t p = params_.n_prompt, n = params_.n_gen, h = m.hidden_size();
  std::mt19937_64 rng(params_.seed);
  std::vector<int32_t> ids(static_cast<size_t>(p));
  for (auto& id : ids) id = int32_t(rng() % uint64_t(m.vocab_size()));
  std::vector<float> x(static_cast<size_t>(p * h)), one(static_cast<size_t>(h)),
      logits(static_cast<size_t>(m.vocab_size()));
  m.embed(ids.data(), p, x.data());
  KvCache kv(c, p + n, kv_dtype(m.precision()));
  llm::Workspace ws(c, GenerateParams{}.prefill_chunk, p + n);
  if (params_.warmup) {
    say("llm: warm-up");
    const int64_t w = std::min<int64_t>(p, 8);  // touches every weight page
    m.forward(x.data(), w, kv.view(), ws, w - 1, logits.data());
  }
  std::vector<Sample> pre, dec, dec0;
  std::vector<double> peaks, bw, bw0;
  for (int r = 0; r < params_.reps; ++r) {
    say("llm: prefill + decode, run " + std::to_string(r + 1) + "/" + std::to_string(params_.reps));
    kv.clear();
    pre.push_back(beside(peaks, Limit::kCompute,
                         [&] { m.forward(x.data(), p, kv.view(), ws, p - 1, logits.data()); }));
    const int32_t first = argmax(logits.data(), m.vocab_size());
    dec.push_back(
        beside(bw, Limit::kBandwidth, [&] { decode_tokens(m, first, n, kv, ws, logits, one); }));
  }
  for (int r = 0; r < params_.reps; ++r) {
    say("llm: decode at depth 0, run " + std::to_string(r + 1) + "/" +
        std::to_string(params_.reps));
    kv.clear();
    dec0.push_back(
        beside(bw0, Limit::kBandwidth, [&] { decode_tokens(m, ids[0], n, kv, ws, logits, one); }));
  }
  const double W = info_.llm_weight_bytes, kvpp = double(kv.bytes_per_position());
  // Step i reads depth + i + 1 cached positions (its own key included).
  auto decode_work = [&](int64_t depth) {
    double bytes = 0;
    for (int64_t i = 0; i < n; ++i) bytes += decode_bytes_per_token(W, kvpp, double(depth + i + 1));
    return bytes;
  };
  std::vector<Row> rows;
  rows.push_back(make_row("prefill", p, pre, false));
  rows.back().work = llm_forward_flops(c, p, 0, 1);
  rows.back().peak_gflops = stats(peaks).mean;
  rows.push_back(make_row("decode", n, dec, false));
  rows.back().work = decode_work(p);
  rows.back().read_gbps = stats(bw).mean;
  rows.push_back(make_row("decode0", n, dec0, false));
  rows.back().work = decode_work(0);
  rows.back().read_gbps = stats(bw0).mean;
  return rows;
}

Row Bench::ttft_row() {
  if (!pipe_->has_tokenizer()) {
    say("ttft: skipped (the folder has no tokenizer.json)");
    return {};
  }
  Request req;
  req.messages.push_back(
      {"user",
       kQuestion,
       {ImageInput{"", synthetic_bmp(kImageWidth, kImageHeight), "synthetic.bmp"}}});
  req.sampling.max_tokens = 1;
  const llm::Llm& m = pipe_->llm();
  const int64_t n_ctx = m.max_positions();
  LoadParams limits;
  int64_t n_prompt = 0;
  // The request path as the engine runs it, minus its caches: decode + preprocess, towers,
  // aligner, embeddings, chunked prefill and the first sampled token.
  auto once = [&] {
    PreparedRequest prep = prepare_request(*pipe_, req, limits, n_ctx);
    const PreparedImage im = pipe_->prepare(prep.images[0]);
    const Tensor emb = pipe_->encode_images({&im});
    n_prompt = int64_t(prep.ids.size());
    const Tensor x =
        m.prepare_inputs_embeds(prep.ids.data(), n_prompt, pipe_->image_token_id(), emb.ptr(), 1);
    GenerateParams gp;
    gp.max_new_tokens = 1;
    gp.n_ctx = n_ctx;
    gp.eos_token_id = pipe_->eos_id();
    generate(m, Prompt{x.ptr(), n_prompt, 1}, gp);
  };
  std::vector<Sample> runs;
  std::vector<double> peaks;
  for (int r = 0; r < params_.reps; ++r) {
    say("ttft: run " + std::to_string(r + 1) + "/" + std::to_string(params_.reps));
    runs.push_back(beside(peaks, Limit::kCompute, once));
  }
  Row row = make_row("ttft", n_prompt, runs, false);
  row.peak_gflops = stats(peaks).mean;
  const io::ModelConfig& c = pipe_->config();
  row.work = siglip_flops(c.vision.siglip) + (c.vision.sam ? sam_flops(*c.vision.sam) : 0.0) +
             llm_forward_flops(c.llm, n_prompt, 0, 1);
  return row;
}

Sample Bench::beside(std::vector<double>& limits, Limit kind,
                     const std::function<void()>& run) const {
  const auto sample = [&] {
    if (!params_.probe) return;
    if (kind == Limit::kCompute) {
      limits.push_back(kernels::sample_peak_gflops(info_.threads, info_.precision == "bf16"));
      return;
    }
    // The 1 GiB read buffer must not count in the tests' peak RSS.
    double gbps = 0;
    if (outside_peak_rss([&] { gbps = kernels::sample_read_gbps(info_.threads); }))
      limits.push_back(gbps);
  };
  sample();
  const Sample s = timed(run);
  sample();
  return s;
}

void Bench::set_limits(std::vector<Row>& rows) const {
  const bool bf16 = info_.precision == "bf16";
  const double peak = bf16 ? limits_.bf16_gflops : limits_.fp32_gflops;
  for (Row& r : rows) {
    // Against the limit sampled beside the row's own runs; the end-of-run probe's where
    // there are no samples.
    if (r.test == "decode" || r.test == "decode0") {
      if (!(r.read_gbps > 0)) r.read_gbps = limits_.read_gbps;
      set_limit(r, "bandwidth", 1e9 * r.read_gbps);
      continue;
    }
    if (!(r.peak_gflops > 0)) r.peak_gflops = peak;
    set_limit(r, bf16 ? "bf16 peak" : "fp32 peak", 1e9 * r.peak_gflops);
  }
}

void Bench::run(const std::function<void(const Row&)>& on_row) {
  std::vector<Row> held;
  auto emit = [&](std::vector<Row> rows) {
    for (Row& r : rows) {
      if (r.test.empty()) continue;
      r.threads = info_.threads;
      r.precision = info_.precision;
      if (params_.probe)
        held.push_back(r);
      else
        on_row(r);
    }
  };
  emit(vision_rows());
  emit(llm_rows());
  emit({ttft_row()});
  peak_rss_mb_ = bench::peak_rss_mb();
  if (!params_.probe) return;
  say("probing the machine (read bandwidth, FP32 and BF16 peaks) ...");
  limits_ = kernels::probe_machine(info_.threads);
  set_limits(held);
  for (const Row& r : held) on_row(r);
}

}  // namespace dsvl::runtime::bench
