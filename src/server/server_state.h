// The server's shared state, seen by the route handlers (server.cpp, completions.cpp).
#pragma once

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "server/api_error.h"
#include "server/metrics.h"
#include "server/server.h"

namespace dsvl::server {

struct Server::State {
  ServerOptions opts;
  EngineLoader loader;
  httplib::Server http;
  Metrics metrics;
  int64_t started_at = 0;  // unix seconds

  std::unique_ptr<Engine> engine_owner;
  std::atomic<Engine*> engine{nullptr};  // set once loaded
  mutable std::mutex mu;
  std::string load_error;
  std::set<RequestId> in_flight;  // submitted and not yet done (cancelled on stop)
  std::atomic<int> active{0};     // admitted generations, for 429
  std::atomic<bool> stopping{false};
  std::thread listen_thread, load_thread;

  // The loaded engine, or ApiError(503) while loading.
  Engine& require_engine() const;
  std::string model_name() const;
  // Reserves an admission slot or throws ApiError(429); release with release_slot().
  void acquire_slot();
  void release_slot();
};

// Fills `res` with an error in OpenAI's JSON shape.
void send_error(httplib::Response& res, const ApiError& e);
void send_json(httplib::Response& res, const std::string& body, int status = 200);

// POST /v1/chat/completions (completions.cpp).
void handle_chat_completions(Server::State& st, const httplib::Request& req,
                             httplib::Response& res);

}  // namespace dsvl::server
