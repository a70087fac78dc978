// dsvl info MODEL_DIR: what a model folder holds, checked tensor by tensor.
#include <cstdio>

#include "cli/command.h"
#include "core/error.h"
#include "io/model_info.h"

namespace dsvl::cli {
namespace {

constexpr const char* kUsage =
    "usage: dsvl info MODEL_DIR [--json] [--no-weights]\n"
    "  Summarises a DeepSeek-VL model folder (config + safetensors): layout, tower and LLM\n"
    "  sizes, parameters per component, dtypes, bytes on disk, memory and KV-cache estimates.\n"
    "  Every tensor is checked against the config; a broken folder exits 1 naming the file\n"
    "  and tensor.\n"
    "  --json        one JSON object instead of the text summary\n"
    "  --no-weights  read the config files only (sizes and estimates before downloading)\n";

int run_info(const std::vector<std::string>& argv) {
  Args args(argv, {"--model"}, {"--json", "--no-weights", "--help"});
  if (args.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string dir = args.get_or("--model", "");
  if (dir.empty() && args.positional().size() == 1) dir = args.positional()[0];
  if (dir.empty() || args.positional().size() > 1)
    throw RequestError(std::string("expected one model folder\n") + kUsage);
  const io::ModelInfo info = args.has("--no-weights")
                                 ? io::model_info_from_config(io::load_model_config(dir))
                                 : io::inspect_model(dir);
  if (args.has("--json")) {
    std::printf("%s\n", io::model_info_json(info).c_str());
  } else {
    std::fputs(io::format_model_info(info).c_str(), stdout);
  }
  return 0;
}

const Registration kInfo({"info", "summarise and check a model folder", run_info});

}  // namespace
}  // namespace dsvl::cli
