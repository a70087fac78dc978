// The configuration of a model folder as downloaded from Hugging Face: config.json,
// preprocessor_config.json, processor_config.json. Tower sizes come from the official tables
// keyed by model_name (siglip_large_patch16_384, sam_b_downsample), overridden field by field
// by an "arch" object when present (conformance kits only). language_config is a partial
// transformers LlamaConfig: omitted fields take LlamaConfig's defaults.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace dsvl::io {

// SAM-B ViTDet encoder with the downsampling neck ("sam_b_downsample").
struct SamConfig {
  std::string model_name = "sam_b_downsample";
  int image_size = 1024;
  int patch_size = 16;
  int width = 768;
  int layers = 12;
  int heads = 12;
  int mlp_ratio = 4;
  int window_size = 14;
  std::vector<int> global_attn_indexes = {2, 5, 8, 11};
  int prompt_embed_dim = 256;  // neck width
  std::vector<int> downsample_channels = {512, 1024};
  int output_dim = 1024;  // sizes only the unused vision_model.high_layer_norm
  float ln_eps = 1e-6f;
  std::array<float, 3> pixel_mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> pixel_std = {0.26862954f, 0.26130258f, 0.27577711f};

  int grid() const { return image_size / patch_size; }  // 64
  int head_dim() const { return width / heads; }
  int out_channels() const { return downsample_channels.back(); }
};

// SigLIP ViT ("siglip_large_patch16_384"): no class token, final LayerNorm applied.
struct SiglipConfig {
  std::string model_name = "siglip_large_patch16_384";
  int image_size = 384;
  int patch_size = 16;
  int width = 1024;
  int layers = 24;  // blocks actually built: depth + select_layer + 1 for select_layer < 0
  int heads = 16;
  double mlp_ratio = 4.0;
  float ln_eps = 1e-6f;
  int select_layer = -1;
  int output_dim = 1024;  // hybrid only: sizes the unused vision_model.low_layer_norm
  std::array<float, 3> pixel_mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> pixel_std = {0.5f, 0.5f, 0.5f};

  int grid() const { return image_size / patch_size; }  // 24
  int n_tokens() const { return grid() * grid(); }      // 576
  int head_dim() const { return width / heads; }
  int mlp_dim() const { return int(width * mlp_ratio); }
};

enum class VisionKind { kSiglip, kHybrid };  // CLIPVisionTower (1.3B), HybridVisionTower (7B)

struct VisionConfig {
  VisionKind kind = VisionKind::kSiglip;
  std::optional<SamConfig> sam;  // hybrid only (high resolution branch)
  SiglipConfig siglip;           // low resolution branch in hybrid
};

enum class AlignerKind { kMlpGelu, kHybridSplit };  // mlp_gelu, low_high_hybrid_split_mlp_gelu

struct AlignerConfig {
  AlignerKind kind = AlignerKind::kMlpGelu;
  std::string projector_type;
  int depth = 2;
  int input_dim = 1024;
  int n_embed = 2048;
};

struct LlmConfig {
  int vocab_size = 32000;
  int hidden_size = 4096;
  int intermediate_size = 11008;
  int num_hidden_layers = 32;
  int num_attention_heads = 32;
  int num_key_value_heads = 32;
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;

  int head_dim() const { return hidden_size / num_attention_heads; }
};

// preprocessor_config.json (VLMImageProcessor).
struct ImageProcessorConfig {
  int image_size = 384;
  int min_size = 14;
  std::array<float, 3> image_mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> image_std = {0.5f, 0.5f, 0.5f};
  double rescale_factor = 0.00392156862745098;
  bool do_normalize = false;
};

// processor_config.json (VLChatProcessor).
struct ChatProcessorConfig {
  std::string image_tag = "<image_placeholder>";
  int num_image_tokens = 576;
  std::string sft_format = "deepseek";
  bool add_special_token = false;
  bool mask_prompt = true;
  int ignore_id = -100;
};

struct ModelConfig {
  std::string dir;
  std::string torch_dtype = "float16";
  VisionConfig vision;
  AlignerConfig aligner;
  LlmConfig llm;
  ImageProcessorConfig image_processor;
  ChatProcessorConfig chat;

  bool is_hybrid() const { return vision.kind == VisionKind::kHybrid; }
  // Width of the features the aligner receives from each tower.
  int vision_width() const { return vision.siglip.width; }
};

// Reads the three JSON files of `dir`. Missing preprocessor/processor configs fall back to the
// values implied by the vision tower (as the official processor would have them). Throws
// ConfigError naming the file and key for malformed or contradictory values.
ModelConfig load_model_config(const std::string& dir);
// Parses config.json text only (fuzzing, tests); `name` is used in errors.
ModelConfig parse_model_config(const std::string& config_json, const std::string& name);

}  // namespace dsvl::io
