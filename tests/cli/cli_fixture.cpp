#include "cli/cli_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "common/shared.h"
#include "core/dtype.h"
#include "io/safetensors.h"

namespace dsvl::test {
namespace {
namespace fs = std::filesystem;

constexpr int32_t kEos = 100001;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fixtures live beside the binary, keyed by its modification time: a rebuilt `dsvl`
// (which may write folders differently) gets fresh ones; older ones are removed.
fs::path fixture_root() {
  struct stat st {};
  stat(dsvl_binary().c_str(), &st);
  return fs::path(dsvl_binary()).parent_path() / "test-fixtures" /
         ("cli-" + std::to_string(int64_t(st.st_mtime)));
}

void remove_stale(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root.parent_path(), ec))
    if (e.path() != root && e.path().filename().string().rfind("cli-", 0) == 0)
      fs::remove_all(e.path(), ec);
}

// Builds `name` with make(tmp) in a private folder, then renames it into place, so test
// processes running side by side never see half a folder.
std::string cached(const std::string& name, const std::function<bool(const std::string&)>& make) {
  const fs::path root = fixture_root();
  const fs::path final_dir = root / name;
  std::error_code ec;
  if (fs::exists(final_dir / "done", ec)) return final_dir.string();
  fs::create_directories(root, ec);
  remove_stale(root);
  const fs::path tmp = root / (name + ".tmp-" + std::to_string(getpid()));
  fs::remove_all(tmp, ec);
  if (!make(tmp.string())) return "";
  std::ofstream(tmp / "done") << "ok\n";
  fs::rename(tmp, final_dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process got there first: use its copy
  return fs::exists(final_dir / "done") ? final_dir.string() : "";
}

bool synth(const std::string& like, const std::string& out) {
  const std::string tok = shared_path("tokenizers/deepseek_vl");
  std::string log;
  const int rc = run_command(
      dsvl_binary() + " synth --like " + like + " --tiny --tokenizer " + tok + " --out " + out,
      &log);
  if (rc != 0) ADD_FAILURE() << "dsvl synth failed: " << log;
  return rc == 0;
}

// Rewrites model.safetensors with embed_tokens[:, 0] = 30 for every token and lm_head[EOS, 0]
// = 10: the residual stream then carries a large positive component 0 through both layers,
// the final RMSNorm maps it to about +sqrt(hidden), and EOS's logit (~110) dwarfs the random
// rows' (|logit| < 5), so EOS wins at every temperature.
bool make_eos(const std::string& out) {
  if (!synth("1.3b-chat", out)) return false;
  const std::string path = out + "/model.safetensors";
  std::vector<io::SafeTensorsWriter::Spec> specs;
  std::vector<std::vector<uint8_t>> bytes;
  {
    io::SafeTensorsFile in(path);
    for (const auto& [name, view] : in.tensors()) {
      specs.push_back({name, view.dtype, view.shape});
      const auto* p = static_cast<const uint8_t*>(view.data);
      bytes.emplace_back(p, p + view.nbytes());
      if (view.dtype != DType::kF16) return false;
      auto* h = reinterpret_cast<uint16_t*>(bytes.back().data());
      const int64_t rows = view.shape[0], cols = view.shape.size() > 1 ? view.shape[1] : 1;
      if (name == "language_model.model.embed_tokens.weight")
        for (int64_t r = 0; r < rows; ++r) h[r * cols] = f32_to_f16(30.0f);
      if (name == "language_model.lm_head.weight") h[kEos * cols] = f32_to_f16(10.0f);
    }
  }
  const std::string tmp = path + ".new";
  io::SafeTensorsWriter w(tmp, specs, {{"format", "pt"}});
  for (auto& b : bytes) w.write(b.data(), b.size());
  w.finish();
  fs::rename(tmp, path);
  return true;
}

}  // namespace

std::string tiny_model(const std::string& like) {
  if (shared_path("tokenizers/deepseek_vl/tokenizer.json").empty()) return "";
  return cached("tiny-" + like, [&](const std::string& dir) { return synth(like, dir); });
}

std::string eos_model() {
  if (shared_path("tokenizers/deepseek_vl/tokenizer.json").empty()) return "";
  return cached("eos-1.3b-chat", make_eos);
}

std::string conformance_image(const std::string& name) {
  return shared_path("conformance/images/" + name);
}

void TinyChatFixture::SetUp() {
  m = tiny_model("1.3b-chat");
  dog = conformance_image("dog_a.png");
  logo = conformance_image("logo.png");
  if (m.empty() || dog.empty() || logo.empty())
    GTEST_SKIP() << "../shared/tokenizers/deepseek_vl or conformance/images missing";
}

CliResult run_dsvl(const std::string& args) {
  const std::string dir = temp_dir("cli-run");
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  CliResult r;
  // run_command appends 2>&1 to the whole line: the subshell keeps the streams apart.
  std::string cmd = "(";
  cmd += dsvl_binary() + " " + args + " </dev/null >" + out + " 2>" + err + ")";
  r.rc = run_command(cmd);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace dsvl::test
