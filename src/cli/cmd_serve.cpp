// dsvl serve: the OpenAI-compatible HTTP server (src/server). `--fake` serves a
// deterministic stand-in engine instead of a model, for testing clients and the server.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "dsvl/dsvl.h"
#include "server/auth.h"
#include "server/fake_engine.h"
#include "server/server.h"

namespace dsvl::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

const char* kUsage = R"(usage: dsvl serve -m MODEL_DIR [options]
  --host H                 address to listen on (default 127.0.0.1)
  --port P                 port (default 8080; 0 picks a free one)
  --api-key KEY            require "Authorization: Bearer KEY" on /v1/* and /(de)tokenize
  --api-key-file F         the same, the key read from the first line of F
  --parallel N             sequences decoded together (default 1)
  --ctx N                  context length in tokens (default 4096)
  --max-images N           images per request (default 8)
  --allowed-image-hosts H  comma-separated hosts whose http(s) image URLs may be fetched
  --max-body-mb N          request body limit (default 32)
  --max-image-pixels N     refuse larger images before decoding (default 64000000)
  --image-cache-mb N       image-embedding cache size (default 256; 0 disables)
  --prefix-cache-tokens N  KV prefix cache in positions (default 4096; 0 disables)
  --timeout S              seconds a generation may take (default 600)
  --queue N                requests waiting for a slot before 429 (default 64)
  --max-tokens-cap N       refuse larger max_tokens (default: no cap)
  --alias NAME             model id reported by /v1/models (default: folder name)
  -t, --threads N          compute threads (default: all cores)
  --precision auto|f32|bf16 GEMM precision (auto: bf16 for F16/BF16 weights, f32 for F32)
  --no-mmap                bf16: copy BF16 weights into memory (faster decode, slower start)
  --no-repack              keep the LLM's matrices as stored, mapped (instant start,
                           slower decode; default: repacked at load for the GEMMs)
  --verbose                log every request to stderr
  --fake                   serve a deterministic fake engine instead of a model (testing)
  --fake-token-ms N        fake engine: milliseconds per generated token (default 1)
  --fake-load-ms N         fake engine: simulated load time (default 0)
)";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int positive(const Args& a, const std::string& flag, long long def, long long lo = 1) {
  long long v = a.get_int(flag, def);
  if (v < lo || v > (1 << 30))
    throw Error(ErrorKind::kRequest, "flag " + flag + " must be at least " + std::to_string(lo));
  return int(v);
}

int run_serve(const std::vector<std::string>& argv) {
  Args a(argv,
         {"--model",
          "--host",
          "--port",
          "--api-key",
          "--api-key-file",
          "--parallel",
          "--ctx",
          "--max-images",
          "--allowed-image-hosts",
          "--max-body-mb",
          "--timeout",
          "--queue",
          "--max-tokens-cap",
          "--alias",
          "--max-image-pixels",
          "--image-cache-mb",
          "--prefix-cache-tokens",
          "--threads",
          "--precision",
          "--fake-token-ms",
          "--fake-load-ms"},
         {"--fake", "--verbose", "--no-mmap", "--no-repack", "--help"},
         {{"-m", "--model"}, {"-t", "--threads"}, {"-h", "--help"}});
  if (a.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  bool fake = a.has("--fake");
  LoadParams lp;
  lp.no_mmap = a.has("--no-mmap");
  lp.no_repack = a.has("--no-repack");
  lp.model_dir = fake ? a.get_or("--model", "fake") : a.require("--model");
  lp.n_threads = positive(a, "--threads", 0, 0);
  lp.ctx = positive(a, "--ctx", 4096);
  lp.parallel = positive(a, "--parallel", 1);
  lp.max_images = positive(a, "--max-images", 8, 0);
  lp.max_image_pixels = a.get_int("--max-image-pixels", lp.max_image_pixels);
  lp.image_cache_bytes = int64_t(positive(a, "--image-cache-mb", 256, 0)) << 20;
  lp.prefix_cache_tokens = positive(a, "--prefix-cache-tokens", 4096, 0);
  if (lp.max_image_pixels < 1)
    throw Error(ErrorKind::kRequest, "--max-image-pixels must be positive");
  std::string prec = a.get_or("--precision", "auto");
  if (prec == "f32")
    lp.precision = Precision::kF32;
  else if (prec == "bf16")
    lp.precision = Precision::kBF16;
  else if (prec != "auto")
    throw Error(ErrorKind::kRequest, "--precision must be auto, f32 or bf16");

  server::ServerOptions so;
  so.host = a.get_or("--host", "127.0.0.1");
  so.port = positive(a, "--port", 8080, 0);
  if (so.port > 65535) throw Error(ErrorKind::kRequest, "--port must be at most 65535");
  if (a.has("--api-key") && a.has("--api-key-file"))
    throw Error(ErrorKind::kRequest, "give --api-key or --api-key-file, not both");
  so.api_key = a.has("--api-key-file") ? server::read_api_key_file(a.require("--api-key-file"))
                                       : a.get_or("--api-key", "");
  so.allowed_image_hosts = split_list(a.get_or("--allowed-image-hosts", ""));
  so.max_body_bytes = size_t(positive(a, "--max-body-mb", 32)) << 20;
  so.timeout_s = a.get_double("--timeout", 600);
  if (!(so.timeout_s > 0)) throw Error(ErrorKind::kRequest, "--timeout must be positive");
  so.parallel = lp.parallel;
  so.queue = positive(a, "--queue", 64, 0);
  so.max_images = lp.max_images;
  so.max_tokens_cap = positive(a, "--max-tokens-cap", 0, 0);
  so.model_name = a.get_or("--alias", "");
  so.log_requests = a.has("--verbose");

  server::EngineLoader loader;
  if (fake) {
    server::FakeEngineOptions fo;
    fo.ctx = lp.ctx;
    fo.parallel = lp.parallel;
    fo.max_images = lp.max_images;
    fo.token_delay_us = positive(a, "--fake-token-ms", 1, 0) * 1000;
    int load_ms = positive(a, "--fake-load-ms", 0, 0);
    loader = [fo, load_ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(load_ms));
      return std::unique_ptr<Engine>(std::make_unique<server::FakeEngine>(fo));
    };
  } else {
    lp.progress = true;
    loader = [lp] { return Engine::load(lp); };
  }

  server::Server srv(so, loader);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  int port = srv.start();
  std::fprintf(stderr, "dsvl serve: listening on http://%s:%d/ (loading %s)\n", so.host.c_str(),
               port, fake ? "the fake engine" : lp.model_dir.c_str());
  auto t0 = std::chrono::steady_clock::now();
  bool announced = false;
  while (!g_stop && srv.running()) {
    if (!announced && srv.ready()) {
      announced = true;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "dsvl serve: model ready after %.1f s\n", s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  srv.stop();
  srv.wait();
  if (auto err = srv.load_error(); !err.empty()) {
    std::fprintf(stderr, "dsvl serve: error: %s\n", err.c_str());
    return 1;
  }
  std::fprintf(stderr, "dsvl serve: stopped\n");
  return 0;
}

Registration reg({"serve", "OpenAI-compatible HTTP server with a web chat page", run_serve});

}  // namespace
}  // namespace dsvl::cli
