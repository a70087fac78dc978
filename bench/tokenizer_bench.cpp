// Encoding speed in MB/s (bytes_per_second) of each tokenizer in ../shared/tokenizers, on
// the corpus strings joined by newlines and repeated to 10 MB, single-threaded:
//   Encode/<name>/whole     one encode() call on the 10 MB text (cache warm after run 1)
//   Encode/<name>/documents the corpus entries one encode() call each (server-like)
// Baseline for comparison: the Rust `tokenizers` crate (0.22, through its N-API build),
// measured separately; see docs/tokenizer.md.
// Finds the data through $DSVL_SHARED, else a `shared` folder beside a parent of the
// working directory or of the executable.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using dsvl::tokenizer::Tokenizer;

fs::path find_tokenizers_dir() {
  if (const char* env = std::getenv("DSVL_SHARED")) return fs::path(env) / "tokenizers";
  std::error_code ec;
  for (fs::path base : {fs::current_path(), fs::read_symlink("/proc/self/exe", ec).parent_path()}) {
    for (fs::path p = base; !p.empty() && p != p.root_path(); p = p.parent_path()) {
      if (fs::is_directory(p / "shared" / "tokenizers", ec)) return p / "shared" / "tokenizers";
      if (fs::is_directory(p / ".." / "shared" / "tokenizers", ec))
        return p / ".." / "shared" / "tokenizers";
    }
  }
  return {};
}

std::vector<std::string> corpus_texts(const fs::path& dir) {
  std::ifstream f(dir / "corpus.json");
  std::stringstream ss;
  ss << f.rdbuf();
  std::vector<std::string> out;
  for (const auto& e : nlohmann::json::parse(ss.str())) out.push_back(e["text"].get<std::string>());
  return out;
}

std::string big_text(const std::vector<std::string>& texts, size_t min_bytes) {
  std::string one;
  for (const auto& t : texts) one += t + "\n";
  std::string big;
  while (big.size() < min_bytes) big += one;
  return big;
}

void encode_whole(benchmark::State& state, const Tokenizer* tok, const std::string* text) {
  size_t n_ids = 0;
  for (auto _ : state) {
    auto ids = tok->encode(*text, false);
    n_ids = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["ids"] = static_cast<double>(n_ids);
}

void encode_documents(benchmark::State& state, const Tokenizer* tok,
                      const std::vector<std::string>* texts) {
  size_t bytes = 0;
  for (const auto& t : *texts) bytes += t.size();
  for (auto _ : state)
    for (const auto& t : *texts) benchmark::DoNotOptimize(tok->encode(t, false).data());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

int register_all() {
  fs::path dir = find_tokenizers_dir();
  if (dir.empty()) {
    std::fprintf(stderr, "tokenizer_bench: shared/tokenizers not found (set DSVL_SHARED)\n");
    return 0;
  }
  static const auto texts = corpus_texts(dir);
  static const std::string text = big_text(texts, 10'000'000);
  for (const char* name : {"deepseek_vl", "deepseek_v3", "llama3", "qwen3", "gpt4o"}) {
    if (!fs::exists(dir / name / "tokenizer.json")) continue;
    const auto* tok = new Tokenizer(Tokenizer::load((dir / name).string()));  // lives to exit
    benchmark::RegisterBenchmark((std::string("Encode/") + name + "/whole").c_str(), encode_whole,
                                 tok, &text)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);
    benchmark::RegisterBenchmark((std::string("Encode/") + name + "/documents").c_str(),
                                 encode_documents, tok, &texts)
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}

const int registered = register_all();

}  // namespace
