#include "train/model.h"

#include <algorithm>

#include "core/error.h"
#include "io/safetensors.h"
#include "train/loss.h"
#include "train/weights.h"

namespace dsvl::train {

int64_t count_loss_tokens(const std::vector<Row>& rows) {
  int64_t n = 0;
  for (const Row& r : rows)
    for (size_t t = 1; t < r.labels.size(); ++t) n += r.labels[t] != kIgnoreIndex;
  return n;
}

TrainModel::TrainModel(const std::string& dir)
    : cfg_(io::load_model_config(dir)), params_(io::WeightStore::open(dir)) {
  rebind();
}

TrainModel::TrainModel(io::ModelConfig cfg, ParamSet params)
    : cfg_(std::move(cfg)), params_(std::move(params)) {
  rebind();
}

void TrainModel::set_trainable(const std::vector<std::string>& prefixes,
                               const std::vector<std::string>& excluded) {
  params_.set_trainable(prefixes, excluded);
  rebind();
}

void TrainModel::rebind() {
  llm_ = bind_llm(params_, cfg_.llm);
  aligner_ = bind_aligner(params_, cfg_);
  siglip_ = bind_siglip(params_, cfg_);
}

bool TrainModel::siglip_trainable() const {
  for (const auto& b : siglip_.blocks)
    if (b.qkv.dw || b.fc1.dw || b.norm1_w.dv) return true;
  return siglip_.patch_embed.dw || siglip_.pos_embed.dv || siglip_.norm_w.dv;
}

StepResult TrainModel::forward_backward(const std::vector<Row>& rows, double grad_scale) {
  return run(rows, true, grad_scale);
}

StepResult TrainModel::forward(const std::vector<Row>& rows) { return run(rows, false, 0); }

namespace {

// SigLIP input: torchvision Normalize(0.5, 0.5) in float32 of the 384×384 image.
void siglip_pixels(const ImageInput& im, bool hybrid, int S, float* dst) {
  const Tensor& src = hybrid ? im.low_res : im.pixels;
  if (src.shape != Shape{3, S, S})
    throw ShapeError("image " + im.name + ": SigLIP input has shape " + shape_str(src.shape) +
                     ", expected " + shape_str({3, S, S}) +
                     (hybrid ? " (low_res of a hybrid model)" : ""));
  for (int64_t i = 0; i < src.numel(); ++i) dst[i] = (src.data[size_t(i)] - 0.5f) / 0.5f;
}

}  // namespace

StepResult TrainModel::run(const std::vector<Row>& rows, bool backward, double grad_scale) {
  const int64_t D = cfg_.llm.hidden_size;
  if (rows.empty()) throw RequestError("empty batch: no rows");
  // Pack the rows (only real tokens) and collect images in order.
  Segments seg;
  std::vector<int64_t> ids;
  std::vector<uint8_t> is_image;
  std::vector<const ImageInput*> images;
  std::vector<int64_t> loss_rows, targets;
  for (size_t b = 0; b < rows.size(); ++b) {
    const Row& r = rows[b];
    const int64_t L = int64_t(r.ids.size());
    if (L == 0) throw RequestError("batch row " + std::to_string(b) + " is empty");
    if (int64_t(r.labels.size()) != L)
      throw ShapeError("batch row " + std::to_string(b) + ": " + std::to_string(r.labels.size()) +
                       " labels for " + std::to_string(L) + " ids");
    const int64_t base = seg.total();
    seg.add(L);
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    images.insert(images.end(), r.images.begin(), r.images.end());
    for (int64_t t = 0; t + 1 < L; ++t)
      if (r.labels[size_t(t + 1)] != kIgnoreIndex) {
        loss_rows.push_back(base + t);
        targets.push_back(r.labels[size_t(t + 1)]);
      }
  }
  const int64_t M = seg.total();
  // images_seq_mask = (ids == image id), as the official processor builds it; a row's
  // image-id count must be 576 per image (the official code would crash in the masked
  // assignment otherwise). Text-only rows keep image ids as ordinary tokens.
  is_image.assign(size_t(M), 0);
  int64_t n_img_tokens = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    const Row& r = rows[b];
    if (r.images.empty()) continue;
    int64_t count = 0;
    for (size_t t = 0; t < r.ids.size(); ++t)
      if (r.ids[t] == image_token_id_) {
        is_image[size_t(seg.start[b]) + t] = 1;
        ++count;
      }
    if (count != int64_t(r.images.size()) * kImageTokens)
      throw RequestError("batch row " + std::to_string(b) + ": " + std::to_string(count) +
                         " image tokens for " + std::to_string(r.images.size()) +
                         " images (expected 576 per image)");
    n_img_tokens += count;
  }
  const int64_t n_img = int64_t(images.size());
  StepResult res;
  // Vision towers and aligner.
  std::vector<float> low, high, img_emb;
  const bool hybrid = cfg_.is_hybrid();
  const bool siglip_grad = backward && siglip_trainable();
  if (n_img > 0) {
    const int S = siglip_.dims.image_size;
    std::vector<float> pix(size_t(n_img * 3 * S * S));
    for (int64_t i = 0; i < n_img; ++i)
      siglip_pixels(*images[size_t(i)], hybrid, S, pix.data() + i * 3 * S * S);
    low.resize(size_t(n_img * kImageTokens * siglip_.dims.width));
    siglip_forward(siglip_, pix.data(), n_img, siglip_acts_, low.data(), siglip_grad);
    if (hybrid) {
      const int64_t Ch = aligner_.high_up_proj.in();
      high.resize(size_t(n_img * kImageTokens * Ch));
      for (int64_t i = 0; i < n_img; ++i) {
        const Tensor& h = images[size_t(i)]->high_features;
        if (h.shape != Shape{kImageTokens, Ch})
          throw ShapeError("image " + images[size_t(i)]->name + ": SAM features " +
                           shape_str(h.shape) + ", expected " + shape_str({kImageTokens, Ch}));
        std::copy(h.data.begin(), h.data.end(), high.begin() + i * kImageTokens * Ch);
      }
    }
    img_emb.resize(size_t(n_img * kImageTokens * D));
    aligner_forward(aligner_, hybrid ? high.data() : nullptr, low.data(), n_img * kImageTokens,
                    aligner_acts_, img_emb.data());
  }
  std::vector<float> embeds(size_t(M * D));
  embed_forward(ids.data(), is_image.data(), M, llm_.embed_tokens, n_img ? img_emb.data() : nullptr,
                embeds.data());
  llm_forward(llm_, seg, embeds.data(), llm_acts_);
  // Loss on the rows that carry one.
  std::vector<float> nll(loss_rows.size());
  res.n_loss = int64_t(loss_rows.size());
  if (grad_scale <= 0) grad_scale = res.n_loss ? 1.0 / double(res.n_loss) : 0.0;
  std::vector<float> dh;
  if (backward) dh.assign(size_t(M * D), 0.0f);
  res.nll_sum = lm_head_cross_entropy(llm_acts_.h_final.data(), D, loss_rows, targets, llm_.lm_head,
                                      grad_scale, nll.data(), backward ? dh.data() : nullptr);
  res.token_nll.resize(rows.size());
  for (size_t b = 0; b < rows.size(); ++b) res.token_nll[b].assign(rows[b].ids.size() - 1, 0.0f);
  for (size_t i = 0; i < loss_rows.size(); ++i) {
    const int64_t m = loss_rows[i];
    const size_t b =
        size_t(std::upper_bound(seg.start.begin(), seg.start.end(), m) - seg.start.begin() - 1);
    res.token_nll[b][size_t(m - seg.start[b])] = nll[i];
  }
  if (!backward) return res;
  // Backward: LLM → embedding merge → aligner → SigLIP.
  res.d_embeds.assign(size_t(M * D), 0.0f);
  llm_backward(llm_, llm_acts_, dh.data(), llm_grads_, res.d_embeds.data());
  std::vector<float> d_img(size_t(n_img_tokens * D));
  embed_backward(res.d_embeds.data(), ids.data(), is_image.data(), M, llm_.embed_tokens,
                 n_img ? d_img.data() : nullptr);
  if (n_img > 0) {
    res.d_vision.assign(low.size(), 0.0f);
    aligner_backward(aligner_, hybrid ? high.data() : nullptr, low.data(), n_img * kImageTokens,
                     aligner_acts_, d_img.data(), static_cast<float*>(nullptr),
                     res.d_vision.data());
    if (siglip_grad) siglip_backward(siglip_, siglip_acts_, res.d_vision.data());
  }
  return res;
}

}  // namespace dsvl::train
