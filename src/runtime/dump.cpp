#include "runtime/dump.h"

#include <algorithm>

#include "core/error.h"
#include "io/safetensors.h"
#include "runtime/chat_template.h"
#include "runtime/kv_cache.h"
#include "runtime/pipeline.h"

namespace dsvl::runtime {
namespace {

int32_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;  // first index on ties, as torch.argmax
  return int32_t(best);
}

io::OwnedTensor tensor_of(const std::string& name, const Tensor& t, Shape shape = {}) {
  return io::make_f32(name, shape.empty() ? t.shape : shape, t.ptr());
}

}  // namespace

void dump(const DumpParams& p) {
  if (p.ids.empty()) throw RequestError("--ids: no token ids given");
  if (p.steps < 0 || p.steps > 4096) throw RequestError("--steps must be in [0, 4096]");
  PipelineOptions opts;
  opts.precision = Precision::kF32;  // goldens are compared at 1e-4: exact float32 only
  auto pipe = Pipeline::load(p.model_dir, opts);
  const auto& cfg = pipe->config();
  const int64_t V = cfg.llm.vocab_size, D = cfg.llm.hidden_size;
  const int32_t image_id = p.image_token_id ? *p.image_token_id : [&] {
    if (!pipe->has_tokenizer())
      throw RequestError(p.model_dir +
                         " has no tokenizer.json: give the image token id with --image-token-id");
    return pipe->image_token_id();
  }();
  for (int32_t id : p.ids)
    if (id < 0 || id >= V)
      throw RequestError("--ids: id " + std::to_string(id) + " is outside the vocabulary [0, " +
                         std::to_string(V) + ")");

  // Processor: expand each image id to 576 slots and build the masks.
  const size_t n_img = p.images.size();
  const int64_t per = pipe->image_tokens();
  const std::vector<int32_t> ids = expand_image_tokens(p.ids, image_id, n_img, size_t(per));
  const int64_t T = int64_t(ids.size());
  if (T + p.steps > pipe->llm().max_positions())
    throw LimitError("prompt of " + std::to_string(T) + " tokens plus " + std::to_string(p.steps) +
                     " steps exceeds max_position_embeddings " +
                     std::to_string(pipe->llm().max_positions()));

  std::vector<io::OwnedTensor> out;
  out.push_back(io::make_i64("input_ids", {1, T}, std::vector<int64_t>(ids.begin(), ids.end())));
  out.push_back(io::make_i64("attention_mask", {1, T}, std::vector<int64_t>(size_t(T), 1)));
  std::vector<uint8_t> seq_mask(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) seq_mask[size_t(t)] = ids[size_t(t)] == image_id;
  out.push_back(io::make_bool("images_seq_mask", {1, T}, seq_mask));
  const int64_t n_slots = std::max<int64_t>(1, int64_t(n_img));
  std::vector<uint8_t> emb_mask(size_t(n_slots * per), 0);
  std::fill(emb_mask.begin(), emb_mask.begin() + ptrdiff_t(n_img * per), 1);
  out.push_back(io::make_bool("images_emb_mask", {1, n_slots, per}, emb_mask));

  // Vision + aligner.
  Tensor image_embeds({int64_t(n_img), per, D});
  if (n_img > 0) {
    std::vector<PreparedImage> prepared;
    for (auto& f : p.images) prepared.push_back(pipe->prepare_file(f));
    std::vector<const PreparedImage*> ptrs;
    for (auto& im : prepared) ptrs.push_back(&im);
    vision::VisionFeatures feats;
    vision::DebugTaps taps;
    image_embeds = pipe->encode_images(ptrs, &feats, p.debug ? &taps : nullptr);

    const int S = pipe->vision().image_size();
    Tensor pv({int64_t(n_img), 3, S, S});
    for (size_t i = 0; i < n_img; ++i)
      std::copy(prepared[i].px.pixel_values.begin(), prepared[i].px.pixel_values.end(),
                pv.data.begin() + ptrdiff_t(i * 3 * S * S));
    out.push_back(tensor_of("pixel_values", pv));
    if (cfg.is_hybrid()) {
      const int L = pipe->vision().low_res_size();
      Tensor lr({int64_t(n_img), 3, L, L});
      for (size_t i = 0; i < n_img; ++i)
        std::copy(prepared[i].low_res.begin(), prepared[i].low_res.end(),
                  lr.data.begin() + ptrdiff_t(i * 3 * L * L));
      out.push_back(tensor_of("low_res_input", lr));
      out.push_back(tensor_of("vision.high", feats.high));
      out.push_back(tensor_of("vision.low", feats.low));
    } else {
      out.push_back(tensor_of("vision.out", feats.out));
    }
    out.push_back(tensor_of("aligner.out", image_embeds));
    for (auto& [name, t] : taps.tensors) out.push_back(tensor_of(name, t));
  }

  // Language model: every position's logits, then greedy steps.
  const llm::Llm& lm = pipe->llm();
  Tensor embeds =
      lm.prepare_inputs_embeds(ids.data(), T, image_id, image_embeds.ptr(), int64_t(n_img));
  out.push_back(tensor_of("inputs_embeds", embeds, {1, T, D}));
  KvCache kv(cfg.llm, T + p.steps, kv_dtype(lm.precision()));
  llm::Workspace ws(cfg.llm, 256, T + p.steps);
  Tensor logits({1, T, V});
  lm.forward(embeds.ptr(), T, kv.view(), ws, 0, logits.ptr());
  out.push_back(tensor_of("logits", logits));

  std::vector<int64_t> tokens;
  Tensor step_logits({int64_t(p.steps), V});
  std::vector<float> cur(logits.data.end() - V, logits.data.end());
  std::vector<float> x(static_cast<size_t>(D));
  for (int s = 0; s < p.steps; ++s) {
    std::copy(cur.begin(), cur.end(), step_logits.data.begin() + ptrdiff_t(s * V));
    const int32_t tok = argmax(cur.data(), V);
    tokens.push_back(tok);
    if (s + 1 == p.steps) break;
    lm.embed(&tok, 1, x.data());
    lm.forward(x.data(), 1, kv.view(), ws, 0, cur.data());
  }
  out.push_back(io::make_i64("greedy.tokens", {int64_t(p.steps)}, tokens));
  out.push_back(tensor_of("greedy.step_logits", step_logits));
  io::write_safetensors(p.out, out);
}

}  // namespace dsvl::runtime
