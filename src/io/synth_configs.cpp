// The configuration files of the released checkpoints, byte for byte (sources:
// ../shared/spec/configs/*/, see NOTES.md there for provenance). `dsvl synth` writes them into
// full-size folders; a test checks they still equal the shared copies.
#include "core/error.h"
#include "io/synth.h"

namespace dsvl::io {
namespace {

constexpr const char* k13bConfig = R"json({
  "aligner_config": {
    "cls": "MlpProjector",
    "model_type": "aligner",
    "params": {
      "depth": 2,
      "input_dim": 1024,
      "n_embed": 2048,
      "projector_type": "mlp_gelu"
    }
  },
  "architectures": [
    "MultiModalityCausalLM"
  ],
  "language_config": {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "max_position_embeddings": 16384,
    "model_type": "llama",
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "num_key_value_heads": 16,
    "torch_dtype": "float16",
    "vocab_size": 102400
  },
  "model_type": "multi_modality",
  "torch_dtype": "float16",
  "transformers_version": "4.38.2",
  "vision_config": {
    "cls": "CLIPVisionTower",
    "model_type": "vision",
    "params": {
      "image_size": 384,
      "model_name": "siglip_large_patch16_384",
      "pixel_mean": [
        0.5,
        0.5,
        0.5
      ],
      "pixel_std": [
        0.5,
        0.5,
        0.5
      ],
      "select_feature": "same",
      "select_layer": -1
    }
  }
}
)json";

constexpr const char* k13bPreprocessorConfig = R"json({
  "background_color": [
    127,
    127,
    127
  ],
  "do_normalize": false,
  "image_mean": [
    0.5,
    0.5,
    0.5
  ],
  "image_processor_type": "VLMImageProcessor",
  "image_size": 384,
  "image_std": [
    0.5,
    0.5,
    0.5
  ],
  "min_size": 14,
  "processor_class": "VLChatProcessor",
  "rescale_factor": 0.00392156862745098
}
)json";

constexpr const char* k13bProcessorConfig = R"json({
  "add_special_token": false,
  "ignore_id": -100,
  "image_tag": "<image_placeholder>",
  "mask_prompt": true,
  "num_image_tokens": 576,
  "processor_class": "VLChatProcessor",
  "sft_format": "deepseek"
}
)json";

constexpr const char* k7bConfig = R"json({
  "aligner_config": {
    "cls": "MlpProjector",
    "model_type": "aligner",
    "params": {
      "depth": 2,
      "input_dim": 1024,
      "n_embed": 4096,
      "projector_type": "low_high_hybrid_split_mlp_gelu"
    }
  },
  "architectures": [
    "MultiModalityCausalLM"
  ],
  "language_config": {
    "max_position_embeddings": 16384,
    "model_type": "llama",
    "num_hidden_layers": 30,
    "torch_dtype": "float16",
    "vocab_size": 102400
  },
  "model_type": "multi_modality",
  "torch_dtype": "float16",
  "transformers_version": "4.38.2",
  "vision_config": {
    "cls": "HybridVisionTower",
    "model_type": "vision",
    "params": {
      "concat_type": "tuple",
      "freeze_high": true,
      "freeze_low": true,
      "high_res_cfg": {
        "ckpt_path": "",
        "image_size": 1024,
        "model_name": "sam_b_downsample",
        "output_dim": 1024,
        "pixel_mean": [
          0.48145466,
          0.4578275,
          0.40821073
        ],
        "pixel_std": [
          0.26862954,
          0.26130258,
          0.27577711
        ],
        "select_feature": "same",
        "select_layer": -1
      },
      "low_res_cfg": {
        "ckpt_path": "",
        "image_size": 384,
        "model_name": "siglip_large_patch16_384",
        "output_dim": 1024,
        "pixel_mean": [
          0.5,
          0.5,
          0.5
        ],
        "pixel_std": [
          0.5,
          0.5,
          0.5
        ],
        "select_feature": "same",
        "select_layer": -1
      }
    }
  }
}
)json";

constexpr const char* k7bPreprocessorConfig = R"json({
  "background_color": [
    122,
    116,
    104
  ],
  "do_normalize": false,
  "image_mean": [
    0.48145466,
    0.4578275,
    0.40821073
  ],
  "image_processor_type": "VLMImageProcessor",
  "image_size": 1024,
  "image_std": [
    0.26862954,
    0.26130258,
    0.27577711
  ],
  "min_size": 14,
  "processor_class": "VLChatProcessor",
  "rescale_factor": 0.00392156862745098
}
)json";

constexpr const char* k7bProcessorConfig = R"json({
  "add_special_token": false,
  "ignore_id": -100,
  "image_tag": "<image_placeholder>",
  "mask_prompt": true,
  "num_image_tokens": 576,
  "processor_class": "VLChatProcessor",
  "sft_format": "deepseek"
}
)json";

}  // namespace

const char* released_config_file(const std::string& like, const std::string& file) {
  if (like == "1.3b-chat" && file == "config.json") return k13bConfig;
  if (like == "1.3b-chat" && file == "preprocessor_config.json") return k13bPreprocessorConfig;
  if (like == "1.3b-chat" && file == "processor_config.json") return k13bProcessorConfig;
  if (like == "7b-chat" && file == "config.json") return k7bConfig;
  if (like == "7b-chat" && file == "preprocessor_config.json") return k7bPreprocessorConfig;
  if (like == "7b-chat" && file == "processor_config.json") return k7bProcessorConfig;
  throw RequestError("no released " + file + " for --like " + like +
                     " (known: 1.3b-chat, 7b-chat)");
}

}  // namespace dsvl::io
