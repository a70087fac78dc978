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

// A batch packed for the model: real tokens of all rows back to back, one segment per row.
struct PackedBatch {
  Segments seg;
  std::vector<int64_t> ids;
  std::vector<uint8_t> is_image;  // images_seq_mask
  std::vector<const ImageInput*> images;
  std::vector<int64_t> loss_rows, targets;  // position t predicts labels[t + 1]
};

PackedBatch pack_batch(const std::vector<Row>& rows, int64_t image_token_id) {
  if (rows.empty()) throw RequestError("empty batch: no rows");
  PackedBatch p;
  for (size_t b = 0; b < rows.size(); ++b) {
    const Row& r = rows[b];
    const int64_t L = int64_t(r.ids.size()), base = p.seg.total();
    if (L == 0) throw RequestError("batch row " + std::to_string(b) + " is empty");
    if (int64_t(r.labels.size()) != L)
      throw ShapeError("batch row " + std::to_string(b) + ": " + std::to_string(r.labels.size()) +
                       " labels for " + std::to_string(L) + " ids");
    p.seg.add(L);
    p.ids.insert(p.ids.end(), r.ids.begin(), r.ids.end());
    p.images.insert(p.images.end(), r.images.begin(), r.images.end());
    for (int64_t t = 0; t + 1 < L; ++t)
      if (r.labels[size_t(t + 1)] != kIgnoreIndex) {
        p.loss_rows.push_back(base + t);
        p.targets.push_back(r.labels[size_t(t + 1)]);
      }
    // images_seq_mask = (ids == image id), as the official processor builds it; a row's count
    // must be 576 per image (the official masked assignment would crash otherwise). Text-only
    // rows keep image ids as ordinary tokens.
    int64_t count = 0;
    for (int64_t t = 0; t < L; ++t) {
      const bool img = !r.images.empty() && r.ids[size_t(t)] == image_token_id;
      p.is_image.push_back(img);
      count += img;
    }
    if (count != int64_t(r.images.size()) * kImageTokens)
      throw RequestError("batch row " + std::to_string(b) + ": " + std::to_string(count) +
                         " image tokens for " + std::to_string(r.images.size()) +
                         " images (expected 576 per image)");
  }
  return p;
}

}  // namespace

void TrainModel::encode_images(const std::vector<const ImageInput*>& images, bool siglip_grad,
                               ImageFeatures& f) {
  const int64_t n = int64_t(images.size()), D = cfg_.llm.hidden_size;
  const bool hybrid = cfg_.is_hybrid();
  const int S = siglip_.dims.image_size;
  std::vector<float> pix(size_t(n * 3 * S * S));
  for (int64_t i = 0; i < n; ++i)
    siglip_pixels(*images[size_t(i)], hybrid, S, pix.data() + i * 3 * S * S);
  f.low.resize(size_t(n * kImageTokens * siglip_.dims.width));
  siglip_forward(siglip_, pix.data(), n, siglip_acts_, f.low.data(), siglip_grad);
  if (hybrid) {
    const int64_t Ch = aligner_.high_up_proj.in();
    f.high.resize(size_t(n * kImageTokens * Ch));
    for (int64_t i = 0; i < n; ++i) {
      const Tensor& h = images[size_t(i)]->high_features;
      if (h.shape != Shape{kImageTokens, Ch})
        throw ShapeError("image " + images[size_t(i)]->name + ": SAM features " +
                         shape_str(h.shape) + ", expected " + shape_str({kImageTokens, Ch}));
      std::copy(h.data.begin(), h.data.end(), f.high.begin() + i * kImageTokens * Ch);
    }
  }
  f.emb.resize(size_t(n * kImageTokens * D));
  aligner_forward(aligner_, hybrid ? f.high.data() : nullptr, f.low.data(), n * kImageTokens,
                  aligner_acts_, f.emb.data());
}

StepResult TrainModel::run(const std::vector<Row>& rows, bool backward, double grad_scale) {
  const int64_t D = cfg_.llm.hidden_size;
  const PackedBatch p = pack_batch(rows, image_token_id_);
  const int64_t M = p.seg.total(), n_img = int64_t(p.images.size());
  const bool siglip_grad = backward && siglip_trainable();
  // Forward: vision towers → aligner → embedding merge → LLM → loss on the loss rows.
  ImageFeatures f;
  if (n_img > 0) encode_images(p.images, siglip_grad, f);
  std::vector<float> embeds(size_t(M * D));
  embed_forward(p.ids.data(), p.is_image.data(), M, llm_.embed_tokens,
                n_img ? f.emb.data() : nullptr, embeds.data());
  llm_forward(llm_, p.seg, embeds.data(), llm_acts_);
  StepResult res;
  std::vector<float> nll(p.loss_rows.size());
  res.n_loss = int64_t(p.loss_rows.size());
  if (grad_scale <= 0) grad_scale = res.n_loss ? 1.0 / double(res.n_loss) : 0.0;
  std::vector<float> dh(backward ? size_t(M * D) : 0, 0.0f);
  res.nll_sum =
      lm_head_cross_entropy(llm_acts_.h_final.data(), D, p.loss_rows, p.targets, llm_.lm_head,
                            grad_scale, nll.data(), backward ? dh.data() : nullptr);
  res.token_nll.resize(rows.size());
  for (size_t b = 0; b < rows.size(); ++b) res.token_nll[b].assign(rows[b].ids.size() - 1, 0.0f);
  for (size_t i = 0; i < p.loss_rows.size(); ++i) {
    const int64_t m = p.loss_rows[i];
    const size_t b = size_t(std::upper_bound(p.seg.start.begin(), p.seg.start.end(), m) -
                            p.seg.start.begin() - 1);
    res.token_nll[b][size_t(m - p.seg.start[b])] = nll[i];
  }
  if (!backward) return res;
  // Backward: LLM → embedding merge → aligner → SigLIP (SAM is frozen).
  res.d_embeds.assign(size_t(M * D), 0.0f);
  llm_backward(llm_, llm_acts_, dh.data(), llm_grads_, res.d_embeds.data());
  std::vector<float> d_img(size_t(n_img * kImageTokens * D));
  embed_backward(res.d_embeds.data(), p.ids.data(), p.is_image.data(), M, llm_.embed_tokens,
                 n_img ? d_img.data() : nullptr);
  if (n_img > 0) {
    const bool hybrid = cfg_.is_hybrid();
    res.d_vision.assign(f.low.size(), 0.0f);
    aligner_backward(aligner_, hybrid ? f.high.data() : nullptr, f.low.data(), n_img * kImageTokens,
                     aligner_acts_, d_img.data(), static_cast<float*>(nullptr),
                     res.d_vision.data());
    if (siglip_grad) siglip_backward(siglip_, siglip_acts_, res.d_vision.data());
  }
  return res;
}

}  // namespace dsvl::train
