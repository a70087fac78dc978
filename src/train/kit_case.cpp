#include "train/kit_case.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/frozen_sam.h"
#include "train/mcppl.h"
#include "train/stages.h"
#include "train/weights.h"

namespace dsvl::train {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw IoError(path + ": cannot open");
  try {
    return json::parse(f);
  } catch (const std::exception& e) {
    throw IoError(path + ": invalid JSON: " + e.what());
  }
}

template <typename T>
T get(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) throw ConfigError(file + ": missing \"" + key + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const std::exception& e) {
    throw ConfigError(file + ": \"" + key + "\": " + e.what());
  }
}

// Everything a case run needs, built from the JSON.
struct Case {
  std::string file, kit, name, kind, model_name, model_dir;
  json j;
  int64_t image_id = 0;
  std::map<std::string, std::unique_ptr<ImageInput>> images;  // by image file name
};

void load_images(Case& c, TrainModel& model, const KitCaseOptions& opt) {
  if (!c.j.contains("preprocess_files")) return;
  std::unique_ptr<FrozenSam> sam;
  if (model.config().is_hybrid() && !opt.sam_features)
    sam = std::make_unique<FrozenSam>(model.config(), model.params().store());
  for (auto& [img, rel] : c.j["preprocess_files"].items()) {
    auto im = std::make_unique<ImageInput>(
        load_preprocessed_image((fs::path(c.kit) / rel.get<std::string>()).string(), img));
    if (model.config().is_hybrid()) {
      if (im->low_res.data.empty())
        throw IoError(rel.get<std::string>() + ": no low_res_input for the hybrid tower");
      im->high_features = sam ? sam->features(im->pixels) : opt.sam_features(c.model_dir, *im);
    }
    c.images[img] = std::move(im);
  }
}

// Expands placeholders and builds labels for one batch row of the JSON.
Row build_row(const Case& c, const json& r, bool sft) {
  Row row;
  for (int64_t id : get<std::vector<int64_t>>(r, "ids_before_expansion", c.file)) {
    if (id == c.image_id)
      row.ids.insert(row.ids.end(), kImageTokens, id);
    else
      row.ids.push_back(id);
  }
  for (const auto& name : get<std::vector<std::string>>(r, "images", c.file)) {
    auto it = c.images.find(name);
    if (it == c.images.end())
      throw ConfigError(c.file + ": image " + name + " has no preprocess file");
    row.images.push_back(it->second.get());
  }
  const int64_t L = int64_t(row.ids.size());
  if (r.contains("length") && r["length"].get<int64_t>() != L)
    throw ConfigError(c.file + ": row length " + std::to_string(r["length"].get<int64_t>()) +
                      " but the expanded ids have " + std::to_string(L));
  row.labels.assign(size_t(L), kIgnoreIndex);
  if (sft) {
    // SFT (mask_prompt): only the answer tokens and the closing EOS carry loss.
    const int64_t a = get<int64_t>(r, "answer_start", c.file);
    for (int64_t t = a; t < L; ++t) row.labels[size_t(t)] = row.ids[size_t(t)];
  } else {
    // Pretraining: every text token after the first.
    for (int64_t t = 1; t < L; ++t)
      if (row.ids[size_t(t)] != c.image_id) row.labels[size_t(t)] = row.ids[size_t(t)];
  }
  return row;
}

std::vector<Row> build_batch(const Case& c) {
  const json& batch = c.j.at("batch");
  const std::string rule = c.j.value("labels_rule", std::string("pretraining"));
  const bool sft = rule.rfind("SFT", 0) == 0;
  std::vector<Row> rows;
  for (const json& r : batch.at("rows")) rows.push_back(build_row(c, r, sft));
  return rows;
}

// The padded tensors describing the batch (right padding with EOS, as the kit).
void add_batch_tensors(const Case& c, const std::vector<Row>& rows, int64_t T,
                       std::vector<io::OwnedTensor>& out) {
  const int64_t B = int64_t(rows.size());
  const int64_t eos = c.j.at("tokens").at("eos").get<int64_t>();
  std::vector<int64_t> ids(size_t(B * T), eos), labels(size_t(B * T), kIgnoreIndex),
      mask(size_t(B * T), 0), pos(size_t(B * T));
  std::vector<uint8_t> seq_mask(size_t(B * T), 0);
  int64_t n_img = 0;
  for (int64_t b = 0; b < B; ++b) {
    const Row& r = rows[size_t(b)];
    for (int64_t t = 0; t < T; ++t) pos[size_t(b * T + t)] = t;
    for (size_t t = 0; t < r.ids.size(); ++t) {
      ids[size_t(b * T) + t] = r.ids[t];
      labels[size_t(b * T) + t] = r.labels[t];
      mask[size_t(b * T) + t] = 1;
      seq_mask[size_t(b * T) + t] = !r.images.empty() && r.ids[t] == c.image_id;
    }
    n_img = std::max<int64_t>(n_img, int64_t(r.images.size()));
  }
  out.push_back(io::make_i64("input_ids", {B, T}, ids));
  out.push_back(io::make_i64("labels", {B, T}, labels));
  out.push_back(io::make_i64("attention_mask", {B, T}, mask));
  out.push_back(io::make_i64("position_ids", {B, T}, pos));
  out.push_back(io::make_bool("images_seq_mask", {B, T}, seq_mask));
  if (n_img > 0)
    out.push_back(io::make_bool("images_emb_mask", {B, n_img, kImageTokens},
                                std::vector<uint8_t>(size_t(B * n_img * kImageTokens), 1)));
}

int64_t padded_len(const std::vector<Row>& rows) {
  int64_t T = 0;
  for (const Row& r : rows) T = std::max<int64_t>(T, int64_t(r.ids.size()));
  return T;
}

void check_trainable(const Case& c, TrainModel& model) {
  if (!c.j.contains("trainable_params")) return;
  std::vector<std::string> want = c.j["trainable_params"].get<std::vector<std::string>>();
  std::vector<std::string> have;
  for (Param* p : model.params().trainable()) have.push_back(p->key);
  std::sort(want.begin(), want.end());
  if (want != have)
    throw ConfigError(c.file + ": the stage's trainable set has " + std::to_string(have.size()) +
                      " tensors, the case lists " + std::to_string(want.size()));
}

void run_stage(const Case& c, TrainModel& model, std::vector<io::OwnedTensor>& out) {
  const std::vector<Row> rows = build_batch(c);
  const int64_t B = int64_t(rows.size()), T = padded_len(rows), D = model.config().llm.hidden_size;
  model.params().zero_grad();
  const StepResult r = model.forward_backward(rows);
  add_batch_tensors(c, rows, T, out);
  const float loss = float(r.loss());
  out.push_back(io::make_f32("loss", {}, &loss));
  std::vector<float> nll(size_t(B * (T - 1)), 0.0f), de(size_t(B * T * D), 0.0f);
  int64_t off = 0;
  for (int64_t b = 0; b < B; ++b) {
    const auto& tn = r.token_nll[size_t(b)];
    std::copy(tn.begin(), tn.end(), nll.begin() + b * (T - 1));
    const int64_t L = int64_t(rows[size_t(b)].ids.size());
    std::copy(r.d_embeds.begin() + off * D, r.d_embeds.begin() + (off + L) * D,
              de.begin() + b * T * D);
    off += L;
  }
  out.push_back(io::make_f32("token_nll", {B, T - 1}, nll.data()));
  out.push_back(io::make_f32("grad.inputs_embeds", {B, T, D}, de.data()));
  if (c.j.value("stage", 0) == 3 && !r.d_vision.empty()) {
    const int64_t C = model.config().vision.siglip.width;
    const int64_t n = int64_t(r.d_vision.size()) / (kImageTokens * C);
    out.push_back(io::make_f32(model.config().is_hybrid() ? "grad.vision.low" : "grad.vision.out",
                               {n, kImageTokens, C}, r.d_vision.data()));
  }
  for (Param* p : model.params().trainable())
    out.push_back(io::make_f32("grad." + p->key, p->shape, p->grad.data()));
}

void run_adamw(const Case& c, TrainModel& model, std::vector<io::OwnedTensor>& out) {
  const json& h = c.j.at("hyperparameters");
  AdamWConfig ac;
  ac.lr = h.at("lr").get<double>();
  ac.beta1 = h.at("betas").at(0).get<double>();
  ac.beta2 = h.at("betas").at(1).get<double>();
  ac.eps = h.at("eps").get<double>();
  ac.weight_decay = h.at("weight_decay").get<double>();
  ac.max_grad_norm = h.at("max_grad_norm").get<double>();
  const int steps = h.at("steps").get<int>();
  AdamW opt(ac);
  const std::vector<Row> rows = build_batch(c);
  std::vector<float> losses, norms;
  for (int s = 0; s < steps; ++s) {
    model.params().zero_grad();
    losses.push_back(float(model.forward_backward(rows).loss()));
    const double norm = opt.grad_norm(model.params());
    norms.push_back(float(norm));
    opt.step(model.params(), ac.lr, opt.clip_coef(norm));
  }
  add_batch_tensors(c, rows, padded_len(rows), out);
  out.push_back(io::make_f32("adamw.losses", {int64_t(steps)}, losses.data()));
  out.push_back(io::make_f32("adamw.grad_norms", {int64_t(steps)}, norms.data()));
  for (Param* p : model.params().trainable())
    out.push_back(io::make_f32("param." + p->key, p->shape, p->value.data()));
}

void run_mcppl(const Case& c, TrainModel& model, std::vector<io::OwnedTensor>& out) {
  std::vector<int64_t> prompt;
  std::vector<const ImageInput*> imgs;
  for (int64_t id : get<std::vector<int64_t>>(c.j, "prompt_ids_before_expansion", c.file)) {
    if (id == c.image_id)
      prompt.insert(prompt.end(), kImageTokens, id);
    else
      prompt.push_back(id);
  }
  for (const auto& name : get<std::vector<std::string>>(c.j, "images", c.file)) {
    const std::string base = fs::path(name).filename().string();
    auto it = c.images.find(base);
    if (it == c.images.end())
      throw ConfigError(c.file + ": image " + base + " has no preprocess file");
    imgs.push_back(it->second.get());
  }
  const auto options = get<std::vector<std::vector<int64_t>>>(c.j, "options", c.file);
  std::vector<Row> rows;
  size_t K = 0;
  for (const auto& o : options) {
    Row r;
    r.ids = prompt;
    r.ids.insert(r.ids.end(), o.begin(), o.end());
    r.labels.assign(r.ids.size(), kIgnoreIndex);
    for (size_t t = prompt.size(); t < r.ids.size(); ++t) r.labels[t] = r.ids[t];
    r.images = imgs;
    rows.push_back(std::move(r));
    K = std::max(K, o.size());
  }
  const MultipleChoice mc = score_options(model, rows, int64_t(prompt.size()));
  const int64_t n = int64_t(options.size());
  std::vector<int64_t> opt_ids(size_t(n) * K, -1), lens;
  for (int64_t i = 0; i < n; ++i) {
    std::copy(options[size_t(i)].begin(), options[size_t(i)].end(),
              opt_ids.begin() + i * int64_t(K));
    lens.push_back(int64_t(options[size_t(i)].size()));
  }
  out.push_back(io::make_i64("mcppl.prompt_input_ids", {1, int64_t(prompt.size())}, prompt));
  out.push_back(io::make_i64("mcppl.option_ids", {n, int64_t(K)}, opt_ids));
  out.push_back(io::make_i64("mcppl.option_lengths", {n}, lens));
  out.push_back(io::make_f32("mcppl.nll_sum", {n}, mc.nll_sum.data()));
  out.push_back(io::make_f32("mcppl.nll_mean", {n}, mc.nll_mean.data()));
  out.push_back(io::make_i64("mcppl.choice", {}, {mc.choice}));
}

}  // namespace

ImageInput load_preprocessed_image(const std::string& path, const std::string& name) {
  io::SafeTensorsFile f(path);
  ImageInput im;
  im.name = name;
  auto it = f.tensors().find("pixel_values_u8");
  if (it == f.tensors().end() || it->second.dtype != DType::kU8 || it->second.shape.size() != 3)
    throw IoError(path + ": no pixel_values_u8 U8 [3, S, S]");
  const auto* u8 = static_cast<const uint8_t*>(it->second.data);
  im.pixels = Tensor(it->second.shape);
  for (int64_t i = 0; i < im.pixels.numel(); ++i)
    im.pixels.data[size_t(i)] = float(double(u8[i]) * 0.00392156862745098);
  auto lo = f.tensors().find("low_res_input");
  if (lo != f.tensors().end()) im.low_res = to_float(lo->second);
  return im;
}

namespace {

Case read_case(const std::string& case_json) {
  Case c;
  c.file = case_json;
  c.kit = fs::absolute(case_json).parent_path().parent_path().string();
  c.j = read_json(case_json);
  c.name = get<std::string>(c.j, "case", c.file);
  c.kind = get<std::string>(c.j, "kind", c.file);
  c.model_name = get<std::string>(c.j, "model", c.file);
  c.model_dir = (fs::path(c.kit) / get<std::string>(c.j, "model_dir", c.file)).string();
  c.image_id = c.j.at("tokens").at("image").get<int64_t>();
  return c;
}

}  // namespace

KitBatch load_kit_batch(const std::string& case_json) {
  Case c = read_case(case_json);
  TrainModel model(c.model_dir);
  model.set_image_token_id(c.image_id);
  load_images(c, model, {});
  KitBatch kb;
  kb.model_dir = c.model_dir;
  kb.image_token_id = c.image_id;
  kb.rows = build_batch(c);
  for (auto& [name, im] : c.images) kb.images.push_back(std::move(im));  // rows keep pointers
  return kb;
}

std::vector<io::OwnedTensor> run_kit_case(const std::string& case_json, const KitCaseOptions& opt) {
  Case c = read_case(case_json);
  TrainModel model(c.model_dir);
  model.set_image_token_id(c.image_id);
  load_images(c, model, opt);
  std::vector<io::OwnedTensor> out;
  if (c.kind == "mcppl") {
    run_mcppl(c, model, out);
    return out;
  }
  TrainableSet ts;
  if (c.j.contains("trainable_prefixes")) {
    ts.prefixes = c.j["trainable_prefixes"].get<std::vector<std::string>>();
    ts.excluded = c.j.value("excluded_prefixes", std::vector<std::string>{});
  } else {
    ts = stage_trainable_set(c.j.value("stage", 2), model.config());
  }
  model.set_trainable(ts.prefixes, ts.excluded);
  check_trainable(c, model);
  if (c.kind == "adamw")
    run_adamw(c, model, out);
  else if (c.kind.rfind("stage", 0) == 0)
    run_stage(c, model, out);
  else
    throw ConfigError(c.file + ": unknown case kind \"" + c.kind + "\"");
  if (!opt.save_model_dir.empty()) {
    SaveOptions so;
    so.dtype = parse_save_dtype(opt.save_dtype);
    save_model(model, opt.save_model_dir, so);
  }
  return out;
}

}  // namespace dsvl::train
