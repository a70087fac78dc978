// Server lifecycle and the small routes; the chat route is in completions.cpp.
#include "server/server.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "server/auth.h"
#include "server/chat_request.h"
#include "server/chat_response.h"
#include "server/server_state.h"
#include "server/web_page.h"

namespace dsvl::server {
namespace {

using nlohmann::json;

const char* const kRoutes[] = {
    "/", "/health", "/metrics", "/v1/models", "/tokenize", "/detokenize", "/v1/chat/completions"};

// The metrics label of a path: a known route or "other" (bounded label values).
std::string route_label(const std::string& path) {
  for (const char* r : kRoutes)
    if (path == r) return r;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

// Routes behind the API key: everything under /v1 and the tokenizer endpoints.
bool needs_key(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 || path == "/v1" || path == "/tokenize" ||
         path == "/detokenize";
}

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// 401 unless the request carries the key. Checked in the handler, after httplib has read
// the body: refusing earlier would leave the body unread on a kept-alive connection.
void check_key(const Server::State& st, const httplib::Request& req) {
  if (st.opts.api_key.empty() || !needs_key(req.path)) return;
  if (constant_time_equal(bearer_token(req.get_header_value("Authorization")), st.opts.api_key))
    return;
  throw ApiError(401, "Incorrect or missing API key (send Authorization: Bearer KEY)",
                 "authentication_error", "", "invalid_api_key");
}

// Every handler checks the key, and its exceptions become JSON errors; nothing escapes
// into httplib.
Handler guarded(const Server::State& st, Handler fn) {
  return [&st, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    try {
      check_key(st, req);
      fn(req, res);
    } catch (const ApiError& e) {
      if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, from_engine_error(e.kind(), e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what(), "server_error"));
    }
  };
}

json body_object(const httplib::Request& req) {
  json body = parse_json_body(req.body);
  if (!body.is_object()) throw invalid_request("request body must be a JSON object");
  return body;
}

void handle_tokenize(Server::State& st, const httplib::Request& req, httplib::Response& res) {
  Engine& engine = st.require_engine();
  json body = body_object(req);
  if (!body.contains("content") || !body["content"].is_string())
    throw invalid_request("content must be a string", "content");
  bool add_special = body.value("add_special", false);
  bool with_pieces = body.value("with_pieces", false);
  auto ids = engine.tokenize(body["content"].get<std::string>(), add_special);
  json tokens = json::array();
  for (int32_t id : ids)
    tokens.push_back(with_pieces ? json{{"id", id}, {"piece", engine.detokenize({id}, false)}}
                                 : json(id));
  send_json(res, dump_json({{"tokens", tokens}}));
}

void handle_detokenize(Server::State& st, const httplib::Request& req, httplib::Response& res) {
  Engine& engine = st.require_engine();
  json body = body_object(req);
  if (!body.contains("tokens") || !body["tokens"].is_array())
    throw invalid_request("tokens must be an array of integers", "tokens");
  std::vector<int32_t> ids;
  for (const auto& t : body["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      throw invalid_request("tokens must be non-negative integers", "tokens");
    ids.push_back(int32_t(t.get<int64_t>()));
  }
  send_json(res,
            dump_json({{"content", engine.detokenize(ids, body.value("skip_special", false))}}));
}

json model_json(const Server::State& st) {
  const ModelInfo& info = st.require_engine().info();
  return {{"id", st.model_name()},
          {"object", "model"},
          {"created", st.started_at},
          {"owned_by", "dsvl"},
          {"meta",
           {{"architecture", info.architecture},
            {"n_params", info.n_params},
            {"n_ctx", info.ctx},
            {"n_vocab", info.vocab_size},
            {"image_tokens", info.image_tokens},
            {"precision", info.precision}}}};
}

void add_routes(Server::State& st) {
  auto& http = st.http;
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
                   "script-src 'unsafe-inline'; connect-src 'self'");
    res.set_content(kWebPage, "text/html; charset=utf-8");
  });
  http.Get("/health", [&st](const httplib::Request&, httplib::Response& res) {
    std::string err = [&] {
      std::lock_guard<std::mutex> lk(st.mu);
      return st.load_error;
    }();
    if (!err.empty()) return send_json(res, dump_json({{"status", "error"}, {"error", err}}), 500);
    if (!st.engine.load()) return send_json(res, R"({"status":"loading"})", 503);
    send_json(res, R"({"status":"ok"})");
  });
  http.Get("/metrics", [&st](const httplib::Request&, httplib::Response& res) {
    Engine* e = st.engine.load();
    Engine::Stats stats;
    if (e) stats = e->stats();
    st.metrics.set_active(st.active.load());
    res.set_content(st.metrics.render(e ? &stats : nullptr, e != nullptr),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get(
      "/v1/models", guarded(st, [&st](const httplib::Request&, httplib::Response& res) {
        send_json(res, dump_json({{"object", "list"}, {"data", json::array({model_json(st)})}}));
      }));
  http.Get("/v1/models/(.+)",
           guarded(st, [&st](const httplib::Request& req, httplib::Response& res) {
             json m = model_json(st);
             if (req.matches[1] != st.model_name())
               throw ApiError(404, "The model '" + std::string(req.matches[1]) + "' does not exist",
                              "invalid_request_error", "model", "model_not_found");
             send_json(res, dump_json(m));
           }));
  http.Post("/tokenize", guarded(st, [&st](const httplib::Request& req, httplib::Response& res) {
              handle_tokenize(st, req, res);
            }));
  http.Post("/detokenize", guarded(st, [&st](const httplib::Request& req, httplib::Response& res) {
              handle_detokenize(st, req, res);
            }));
  http.Post("/v1/chat/completions",
            guarded(st, [&st](const httplib::Request& req, httplib::Response& res) {
              handle_chat_completions(st, req, res);
            }));
}

void add_hooks(Server::State& st) {
  auto& http = st.http;
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    // Runs before the body is read. httplib bounds only Content-Length bodies, and would
    // inflate a compressed body without bound: refuse both kinds outright.
    if (req.has_header("Transfer-Encoding")) {
      send_error(res, ApiError(411, "chunked request bodies are not accepted; send Content-Length",
                               "invalid_request_error", "", "length_required"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (std::string enc = req.get_header_value("Content-Encoding");
        !enc.empty() && enc != "identity") {
      send_error(res, ApiError(415, "compressed request bodies are not accepted",
                               "invalid_request_error", "", "unsupported_encoding"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own refusals (404 no route, 413 body too large, 400 bad framing) arrive here
  // with an empty body; give them the JSON shape too.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                 httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_)
      return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      send_error(res, ApiError(404, "no route for " + req.method + " " + req.path,
                               "invalid_request_error", "", "not_found"));
    else if (res.status == 413)
      send_error(res, ApiError(413, "request body is larger than the server's limit",
                               "invalid_request_error", "", "body_too_large"));
    else
      send_error(res, ApiError(res.status, "HTTP " + std::to_string(res.status) + " on " + req.path,
                               res.status >= 500 ? "server_error" : "invalid_request_error"));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(res, ApiError(500, "internal error", "server_error"));
      });
  http.set_logger([&st](const httplib::Request& req, const httplib::Response& res) {
    st.metrics.count_request(route_label(req.path), res.status);
    if (st.opts.log_requests)
      std::fprintf(stderr, "%s %s %s -> %d\n", req.remote_addr.c_str(), req.method.c_str(),
                   req.path.c_str(), res.status);
  });
}

}  // namespace

void send_json(httplib::Response& res, const std::string& body, int status) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 503) res.set_header("Retry-After", "1");
  send_json(res, error_body(e), e.status);
}

Engine& Server::State::require_engine() const {
  Engine* e = engine.load();
  if (!e) throw ApiError(503, "the model is loading", "unavailable_error", "", "model_loading");
  return *e;
}

std::string Server::State::model_name() const {
  return opts.model_name.empty() ? require_engine().info().name : opts.model_name;
}

void Server::State::acquire_slot() {
  int cap = opts.parallel + opts.queue;
  int n = active.fetch_add(1) + 1;
  if (n > cap) {
    active.fetch_sub(1);
    throw ApiError(
        429, "the server is busy (" + std::to_string(cap) + " requests in flight); retry later",
        "rate_limit_error", "", "queue_full");
  }
}

void Server::State::release_slot() { active.fetch_sub(1); }

Server::Server(ServerOptions options, EngineLoader loader) : st_(std::make_unique<State>()) {
  st_->opts = std::move(options);
  st_->loader = std::move(loader);
}

Server::~Server() {
  stop();
  if (st_->listen_thread.joinable()) st_->listen_thread.join();
  if (st_->load_thread.joinable()) st_->load_thread.join();
  // The engine goes first: its last callbacks still reach this state.
  st_->engine.store(nullptr);
  st_->engine_owner.reset();
}

int Server::start() {
  State& st = *st_;
  // One worker per admitted request (they block while streaming) plus spares for /health,
  // /metrics and requests about to be refused.
  size_t workers = size_t(st.opts.parallel + st.opts.queue + 16);
  st.http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  st.http.set_payload_max_length(st.opts.max_body_bytes);
  st.http.set_read_timeout(30);
  st.http.set_write_timeout(30);
  st.started_at = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  add_hooks(st);
  add_routes(st);
  int port = st.opts.port;
  if (port == 0) {
    port = st.http.bind_to_any_port(st.opts.host);
    if (port < 0) port = 0;
  } else if (!st.http.bind_to_port(st.opts.host, port)) {
    port = 0;
  }
  if (port == 0)
    throw Error(ErrorKind::kIo, "cannot listen on " + st.opts.host + ":" +
                                    std::to_string(st.opts.port) + " (in use or not permitted)");
  st.listen_thread = std::thread([&st] { st.http.listen_after_bind(); });
  // httplib's stop() is a no-op until listening has begun; wait for it so that a load that
  // fails at once can still stop the server.
  for (int i = 0; i < 5000 && !st.http.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  st.load_thread = std::thread([this] {
    State& s = *st_;
    try {
      auto engine = s.loader();
      s.engine_owner = std::move(engine);
      s.engine.store(s.engine_owner.get());
    } catch (const std::exception& e) {
      {
        std::lock_guard<std::mutex> lk(s.mu);
        s.load_error = e.what();
      }
      stop();
    }
  });
  return port;
}

void Server::wait() {
  if (st_->listen_thread.joinable()) st_->listen_thread.join();
}

void Server::stop() {
  State& st = *st_;
  if (st.stopping.exchange(true)) return;
  if (Engine* e = st.engine.load()) {
    std::set<RequestId> ids;
    {
      std::lock_guard<std::mutex> lk(st.mu);
      ids = st.in_flight;
    }
    for (RequestId id : ids) e->cancel(id);  // without our lock: on_done takes it
  }
  st.http.stop();
}

bool Server::running() const { return !st_->stopping && st_->http.is_running(); }
bool Server::ready() const { return st_->engine.load() != nullptr; }

std::string Server::load_error() const {
  std::lock_guard<std::mutex> lk(st_->mu);
  return st_->load_error;
}

}  // namespace dsvl::server
