// POST /v1/chat/completions: validate, admit, submit to the engine, then either wait for the
// whole answer or stream it as server-sent events. The engine's callbacks only append to a
// per-request Channel; the HTTP worker thread does all formatting and socket writes.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <optional>

#include "server/chat_request.h"
#include "server/chat_response.h"
#include "server/server_state.h"

namespace dsvl::server {
namespace {

using Clock = std::chrono::steady_clock;

// What the engine's thread hands to the HTTP thread of one request.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Delta> deltas;
  std::optional<Result> result;
  Clock::time_point submitted = Clock::now(), first_token{};
  bool got_token = false;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Submits with callbacks that feed `ch`; the admission slot is released when the engine is
// done with the request (not when the client goes), since only then is its slot free.
RequestId submit(Server::State& st, Engine& engine, const Request& request,
                 const std::shared_ptr<Channel>& ch, bool keep_deltas) {
  Server::State* s = &st;
  auto on_delta = [ch, keep_deltas](const Delta& d) {
    std::lock_guard<std::mutex> lk(ch->mu);
    if (!ch->got_token) {
      ch->got_token = true;
      ch->first_token = Clock::now();
    }
    if (keep_deltas) ch->deltas.push_back(d);
    ch->cv.notify_all();
  };
  auto id_holder = std::make_shared<std::atomic<RequestId>>(0);
  auto on_done = [ch, s, id_holder](const Result& r) {
    auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lk(ch->mu);
      ch->result = r;
      if (r.finish_reason != "error") {
        double ttft = ch->got_token ? seconds(ch->first_token - ch->submitted) : -1;
        double decode = ch->got_token ? seconds(now - ch->first_token) : 0;
        s->metrics.count_completion(r.usage, seconds(now - ch->submitted), ttft,
                                    r.usage.completion_tokens, decode);
      }
      ch->cv.notify_all();
    }
    {
      std::lock_guard<std::mutex> lk(s->mu);
      s->in_flight.erase(id_holder->load());
    }
    s->release_slot();
  };
  // No lock is held across submit (the engine may call back from its own locks): if the
  // request already ended, on_done has run and the id must not be registered.
  RequestId id = engine.submit(request, on_delta, on_done);
  id_holder->store(id);
  std::lock_guard<std::mutex> lk(st.mu);
  std::lock_guard<std::mutex> lk_ch(ch->mu);
  if (!ch->result) st.in_flight.insert(id);
  return id;
}

enum class Wait { kDone, kTimeout, kShutdown };

// Waits for the result until the deadline; on timeout or shutdown cancels and waits for
// the engine to confirm.
Wait wait_result(Server::State& st, Engine& engine, RequestId id, Channel& ch,
                 Clock::time_point deadline) {
  std::unique_lock<std::mutex> lk(ch.mu);
  while (!ch.result) {
    bool late = Clock::now() >= deadline;
    if (late || st.stopping) {
      lk.unlock();
      engine.cancel(id);
      lk.lock();
      ch.cv.wait(lk, [&] { return ch.result.has_value(); });
      return late ? Wait::kTimeout : Wait::kShutdown;
    }
    ch.cv.wait_for(lk, std::chrono::milliseconds(200));
  }
  return Wait::kDone;
}

ApiError timeout_error(double s) {
  return ApiError(
      504,
      "generation did not finish within the server's timeout of " + std::to_string(int(s)) + " s",
      "timeout_error", "", "timeout");
}

// The streaming loop, run by httplib on the worker thread after the handler returned.
class StreamWriter {
 public:
  StreamWriter(Server::State& st, Engine& engine, RequestId id, std::shared_ptr<Channel> ch,
               StreamFormatter fmt, Clock::time_point deadline)
      : st_(st),
        engine_(engine),
        id_(id),
        ch_(std::move(ch)),
        fmt_(std::move(fmt)),
        deadline_(deadline) {}

  // One call of httplib's content provider: write what is there, or wait a little for it.
  bool provide(httplib::DataSink& sink) {
    if (!started_) {
      started_ = true;
      return write(sink, fmt_.first());
    }
    std::vector<Delta> deltas;
    std::optional<Result> result;
    {
      std::unique_lock<std::mutex> lk(ch_->mu);
      ch_->cv.wait_for(lk, std::chrono::milliseconds(250),
                       [&] { return !ch_->deltas.empty() || ch_->result.has_value(); });
      deltas.swap(ch_->deltas);
      result = ch_->result;
    }
    std::string out;
    for (const auto& d : deltas) out += fmt_.delta(d);
    if (result) return finish(sink, out, *result);
    if (Clock::now() >= deadline_ || st_.stopping) {
      engine_.cancel(id_);
      timed_out_ = Clock::now() >= deadline_;
      return out.empty() || write(sink, out);  // the result follows as "cancelled"
    }
    // Nothing new: a vanished client shows up here, so its slot is freed at once.
    if (out.empty()) return sink.is_writable() || cancel();
    return write(sink, out);
  }

  // httplib's releaser: `ok` is false when the client went away or a write failed.
  void release(bool ok) {
    if (!ok) cancel();
  }

 private:
  bool write(httplib::DataSink& sink, const std::string& s) {
    return sink.write(s.data(), s.size()) || cancel();
  }
  bool cancel() {
    engine_.cancel(id_);  // a no-op once the request has finished
    return false;
  }
  bool finish(httplib::DataSink& sink, std::string out, const Result& r) {
    if (r.finish_reason == "error")
      out += fmt_.error(from_engine_error(r.error_kind, r.error));
    else if (timed_out_)
      out += fmt_.error(timeout_error(st_.opts.timeout_s));
    else
      out += fmt_.finish(r);
    if (!write(sink, out)) return false;
    sink.done();
    return true;
  }

  Server::State& st_;
  Engine& engine_;
  RequestId id_;
  std::shared_ptr<Channel> ch_;
  StreamFormatter fmt_;
  Clock::time_point deadline_;
  bool started_ = false, timed_out_ = false;
};

// 400 context_length_exceeded before submitting, with OpenAI's wording; otherwise bounds
// max_tokens by the room left in the context (the answer then ends with "length").
void fit_context(Engine& engine, Request& request) {
  int n_prompt = engine.count_prompt_tokens(request);
  int ctx = engine.info().ctx;
  if (n_prompt >= ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(ctx) +
                       " tokens. However, your messages resulted in " + std::to_string(n_prompt) +
                       " tokens.",
                   "invalid_request_error", "messages", "context_length_exceeded");
  request.sampling.max_tokens = std::min(request.sampling.max_tokens, ctx - n_prompt);
}

}  // namespace

void handle_chat_completions(Server::State& st, const httplib::Request& req,
                             httplib::Response& res) {
  Engine& engine = st.require_engine();
  ChatLimits limits;
  limits.max_images = st.opts.max_images;
  limits.default_max_tokens = engine.info().ctx;  // as OpenAI: up to the context's end
  limits.max_tokens_cap = st.opts.max_tokens_cap;
  ImageFetchPolicy policy;
  policy.allowed_hosts = st.opts.allowed_image_hosts;
  policy.max_bytes = st.opts.max_body_bytes;
  auto load = [&](const std::string& url, const std::string& param) {
    return load_image_url(url, policy, param);
  };
  ChatRequest chat = parse_chat_request(parse_json_body(req.body), limits, load);
  fit_context(engine, chat.request);

  st.acquire_slot();
  auto ch = std::make_shared<Channel>();
  RequestId id;
  try {
    id = submit(st, engine, chat.request, ch, chat.stream);
  } catch (...) {
    st.release_slot();
    throw;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(st.opts.timeout_s * 1000));
  ResponseMeta meta = new_response_meta(chat.model.empty() ? st.model_name() : chat.model);
  bool logprobs = chat.request.sampling.logprobs;

  if (!chat.stream) {
    Wait w = wait_result(st, engine, id, *ch, deadline);
    std::lock_guard<std::mutex> lk(ch->mu);
    const Result& r = *ch->result;
    if (w == Wait::kTimeout) throw timeout_error(st.opts.timeout_s);
    if (w == Wait::kShutdown)
      throw ApiError(503, "the server is shutting down", "unavailable_error", "", "shutting_down");
    if (r.finish_reason == "error") throw from_engine_error(r.error_kind, r.error);
    send_json(res, completion_body(meta, r, logprobs));
    return;
  }
  auto writer = std::make_shared<StreamWriter>(
      st, engine, id, ch, StreamFormatter(meta, logprobs, chat.include_usage), deadline);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // tell reverse proxies not to buffer
  res.set_chunked_content_provider(
      "text/event-stream",
      [writer](size_t, httplib::DataSink& sink) { return writer->provide(sink); },
      [writer](bool ok) { writer->release(ok); });
}

}  // namespace dsvl::server
