// `dsvl serve`: an OpenAI-compatible HTTP server over one dsvl::Engine.
//
// Thread model: cpp-httplib's worker pool (sized to the engine's slots + the queue + a few
// spare) parses requests, validates them and submits them to the engine; the engine's own
// scheduler thread generates and calls back; each worker then streams its request's deltas
// out. Admission is bounded: when slots + queue requests are in flight, new ones get 429.
// The engine loads on a background thread after the socket listens (503 until then).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dsvl/dsvl.h"

namespace dsvl::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (start() returns it)
  std::string api_key;  // non-empty: required as "Authorization: Bearer" on /v1/*
  std::vector<std::string> allowed_image_hosts;  // http(s) image URLs; empty: data: only
  size_t max_body_bytes = size_t(32) << 20;
  double timeout_s = 600;     // per generation, from submission to the last token
  int parallel = 1;           // the engine's slots (sizes the HTTP pool and admission)
  int queue = 64;             // requests waiting for a slot before 429
  int max_images = 8;         // per request
  int max_tokens_cap = 0;     // > 0: refuse larger max_tokens
  std::string model_name;     // reported by /v1/models; "" = the engine's info().name
  bool log_requests = false;  // one stderr line per request
};

using EngineLoader = std::function<std::unique_ptr<Engine>()>;

class Server {
 public:
  Server(ServerOptions options, EngineLoader loader);
  ~Server();  // stops, then destroys the engine
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket, starts serving and loading; returns the bound port. Throws
  // dsvl::Error(kIo) when the address cannot be bound.
  int start();
  // Blocks until the server stops: stop(), or the engine failed to load.
  void wait();
  // Cancels in-flight requests and stops serving (any thread; idempotent).
  void stop();
  bool running() const;
  bool ready() const;
  // The load failure, "" if none.
  std::string load_error() const;

  struct State;  // server_state.h

 private:
  std::unique_ptr<State> st_;
};

}  // namespace dsvl::server
