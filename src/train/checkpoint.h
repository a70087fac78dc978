// Checkpoints of a training run.
//
// save_model: the whole model (trainable master weights and frozen stored weights) as a
// model folder in the released layout: the same keys, the config / processor / tokenizer
// files copied from the source folder, model.safetensors or model-0000k-of-0000n shards with
// model.safetensors.index.json — so `dsvl run` and `dsvl info` load it like a download.
//
// save_training_state / load_training_state: what a bit-exact resume needs beside it — the
// float32 master copy of every trainable tensor (a bf16 model folder rounds them) and the
// AdamW step count and moments.
#pragma once

#include <cstdint>
#include <string>

#include "train/adamw.h"
#include "train/model.h"

namespace dsvl::train {

enum class SaveDType { kSource, kF32, kBF16, kF16 };  // kSource: each tensor as it was stored

struct SaveOptions {
  SaveDType dtype = SaveDType::kBF16;
  int64_t max_shard_bytes = int64_t(5) << 30;  // 5 GB, like the released 7B shards
};

// Writes `out_dir` (created if missing). Throws IoError naming the file on failure.
void save_model(TrainModel& model, const std::string& out_dir, const SaveOptions& opt = {});

// <dir>/training_state.safetensors: master.<key> F32 for trainable tensors + the optimizer.
void save_training_state(TrainModel& model, const AdamW& opt, const std::string& dir);
// Restores the trainable master weights (they must be trainable already: call
// set_trainable first) and the optimizer; ConfigError if the trainable sets differ.
void load_training_state(TrainModel& model, AdamW& opt, const std::string& dir);

SaveDType parse_save_dtype(const std::string& s);  // "source", "f32", "bf16", "f16"

}  // namespace dsvl::train
