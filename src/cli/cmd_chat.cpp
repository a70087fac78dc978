// dsvl chat: an interactive multi-turn conversation, like the official cli_chat.py.
//   /image PATH   attach an image to the next message (or write <image:PATH> in the text)
//   new, /clear   start over          exit, /exit   quit          Ctrl-C stops an answer
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>

#include "cli/chat_input.h"
#include "cli/command.h"
#include "cli/generation_flags.h"
#include "cli/progress.h"
#include "core/error.h"
#include "dsvl/dsvl.h"

namespace dsvl::cli {
namespace {

constexpr const char* kUsage =
    "usage: dsvl chat -m MODEL_DIR [--system TEXT] [sampling flags as in dsvl run]\n"
    "\n"
    "  -m, --model DIR        model folder as downloaded from Hugging Face\n"
    "  --system TEXT          system prompt (default: DeepSeek-VL's)\n"
    "  -n N                   max new tokens per answer (512)\n"
    "  --temp T  --top-p P  --top-k K  --min-p P  --repeat-penalty R  --seed S  --stop TEXT\n"
    "  --ctx N                context length (4096); older turns are dropped to fit\n"
    "  -t, --threads N        threads (all cores)\n"
    "  --precision P          auto|f32|bf16 (auto: bf16 for F16/BF16 weights, f32 for F32)\n"
    "  --no-mmap              bf16: copy BF16 weights into memory (faster decode, slower start)\n"
    "  --no-repack            keep the LLM's matrices as stored, mapped (instant start,\n"
    "                         slower decode; default: repacked at load for the GEMMs)\n";

constexpr const char* kHelp =
    "  /image PATH     attach an image to the next message (repeatable)\n"
    "  <image:PATH>    an image at that place in the message\n"
    "  <image>         where an attached image goes (default: before the text)\n"
    "  new, /clear     start a new conversation\n"
    "  exit, /exit     quit (or Ctrl-D)\n"
    "  Ctrl-C          stop the current answer\n";

// Ctrl-C while answering cancels the answer; at the prompt it only prints a hint (the
// terminal has already discarded the half-typed line).
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_answering{false};

void on_sigint(int) {
  if (g_answering) {
    g_interrupted = true;
  } else {
    static const char kHint[] = "\n(type exit to quit)\nUser: ";
    [[maybe_unused]] ssize_t n = write(STDOUT_FILENO, kHint, sizeof(kHint) - 1);
  }
}

void install_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // getline keeps reading after a Ctrl-C at the prompt
  sigaction(SIGINT, &sa, nullptr);
}

void say(const std::string& note) { std::printf("(%s)\n", note.c_str()); }

class ChatSession {
 public:
  ChatSession(Engine& engine, SamplingParams sampling, std::optional<std::string> system)
      : engine_(engine), sampling_(std::move(sampling)) {
    if (system) history_.push_back({"system", *system, {}});
    base_ = history_.size();
  }

  void clear() {
    history_.resize(base_);
    attached_.clear();
  }

  void attach(const std::string& path) {
    if (path.empty()) return say("usage: /image PATH");
    if (access(path.c_str(), R_OK) != 0) return say("cannot read " + path);
    attached_.push_back(path);
    say("image " + std::to_string(attached_.size()) + " attached: " + path);
  }

  // One user turn: the answer streams to stdout and joins the history.
  void turn(const std::string& text) {
    Message user;
    try {
      user = build_user_message(text, attached_);
    } catch (const Error& e) {
      attached_.clear();
      return say(std::string("error: ") + e.what());
    }
    attached_.clear();
    history_.push_back(std::move(user));
    Request req;
    req.sampling = sampling_;
    try {
      fit(&req);
    } catch (const Error& e) {
      history_.pop_back();
      return say(std::string("error: ") + e.what());
    }
    Result r = answer(req);
    if (r.finish_reason == "error") {
      history_.pop_back();
      return say("error: " + r.error);
    }
    if (r.finish_reason == "cancelled") std::printf(" (stopped)");
    if (r.finish_reason == "length" && req.sampling.max_tokens < sampling_.max_tokens)
      std::printf(" (the context is full)");
    std::printf("\n");
    history_.push_back({"assistant", trim_left(r.text), {}});
  }

 private:
  static std::string trim_left(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b);
  }

  int prompt_tokens(const std::vector<Message>& messages) {
    Request probe;
    probe.messages = messages;
    probe.sampling.max_tokens = 0;
    try {
      return engine_.count_prompt_tokens(probe);
    } catch (const LimitError&) {
      return std::numeric_limits<int>::max();  // longer than the context
    }
  }

  // Drops the oldest turns (a user message and its answer) while the conversation leaves
  // less than min(max_tokens, ctx / 2) tokens for the answer, as the official demo drops
  // turns past its context; then bounds the answer by the room left. Tells the user.
  void fit(Request* req) {
    const int ctx = engine_.info().ctx;
    const int want = std::min(sampling_.max_tokens, ctx / 2);
    int n = prompt_tokens(history_);
    int dropped = 0;
    while (n > ctx - want && history_.size() > base_ + 1) {
      history_.erase(history_.begin() + ptrdiff_t(base_));
      if (history_.size() > base_ + 1 && history_[base_].role == "assistant")
        history_.erase(history_.begin() + ptrdiff_t(base_));
      ++dropped;
      n = prompt_tokens(history_);
    }
    if (dropped)
      say("the conversation outgrew the context of " + std::to_string(ctx) +
          " tokens: dropped the " + std::to_string(dropped) + " oldest turn(s)");
    req->messages = history_;
    // Still too long on its own: let the engine say why (images × 576 tokens, ...).
    req->sampling.max_tokens =
        n >= ctx ? sampling_.max_tokens : std::min(sampling_.max_tokens, ctx - n);
    if (n >= ctx) engine_.count_prompt_tokens(*req);
  }

  Result answer(const Request& req) {
    std::printf("\nAssistant: ");
    std::fflush(stdout);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool started = false;
    Result result;
    size_t n_images = 0;
    for (const Message& m : req.messages) n_images += m.images.size();
    Spinner spinner(n_images ? "reading " + std::to_string(n_images) + " image(s)" : "thinking");
    RequestId id = 0;
    g_interrupted = false;
    g_answering = true;
    try {
      id = engine_.submit(
          req,
          [&](const Delta& d) {
            std::string text = d.text;
            if (!started) {  // the template ends in "Assistant:"; the answer's space is ours
              text = trim_left(text);
              if (text.empty()) return;
              started = true;
              spinner.stop();
            }
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
          },
          [&](const Result& r) {
            std::lock_guard<std::mutex> lk(mu);
            result = r;
            done = true;
            cv.notify_all();
          });
    } catch (const Error& e) {
      g_answering = false;
      spinner.stop();
      result.finish_reason = "error";
      result.error = e.what();
      return result;
    }
    std::unique_lock<std::mutex> lk(mu);
    while (!done) {
      cv.wait_for(lk, std::chrono::milliseconds(50));
      if (g_interrupted.exchange(false)) engine_.cancel(id);
    }
    g_answering = false;
    spinner.stop();
    return result;
  }

  Engine& engine_;
  SamplingParams sampling_;
  std::vector<Message> history_;
  size_t base_ = 0;  // the system message, kept through drops and resets
  std::vector<std::string> attached_;
};

int chat(const std::vector<std::string>& argv) {
  auto flags = generation_value_flags();
  flags.push_back("--system");
  Args a(argv, flags, {"--help", "--no-mmap", "--no-repack"},
         {{"-m", "--model"}, {"-t", "--threads"}});
  if (a.has("--help")) {
    std::printf("%s\nIn the chat:\n%s", kUsage, kHelp);
    return 0;
  }
  reject_positional(a);
  LoadParams lp = parse_load(a);
  SamplingParams sampling = parse_sampling(a);
  std::unique_ptr<Engine> engine = load_engine(lp);
  const ModelInfo& info = engine->info();
  std::printf("dsvl chat: %s (%s, context %d tokens)\n%s", info.name.c_str(),
              info.architecture.c_str(), info.ctx, kHelp);
  install_sigint();

  ChatSession session(*engine, sampling, a.get("--system"));
  for (;;) {
    std::printf("\nUser: ");
    std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) break;
    const ChatLine in = parse_chat_line(line);
    switch (in.command) {
      case ChatCommand::kEmpty:
        break;
      case ChatCommand::kExit:
        return 0;
      case ChatCommand::kClear:
        session.clear();
        say("new conversation");
        break;
      case ChatCommand::kHelp:
        std::printf("%s", kHelp);
        break;
      case ChatCommand::kImage:
        session.attach(in.arg);
        break;
      case ChatCommand::kUnknown:
        say("unknown command " + in.arg + "; /help lists them");
        break;
      case ChatCommand::kMessage:
        session.turn(in.arg);
        break;
    }
  }
  std::printf("\n");
  return 0;
}

Registration reg({"chat", "interactive multi-turn chat with images", chat});

}  // namespace
}  // namespace dsvl::cli
