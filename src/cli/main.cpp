// dsvl: the command-line front end. Every error thrown below is caught here and printed
// as one line; no stack dump, exit code 1 (2 for usage errors).
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"

namespace {

void print_usage() {
  std::fprintf(stderr, "usage: dsvl <command> [options]\n\ncommands:\n");
  for (const auto& [name, c] : dsvl::cli::commands())
    std::fprintf(stderr, "  %-12s %s\n", name.c_str(), c.summary.c_str());
  std::fprintf(stderr, "\nrun `dsvl <command> --help` for the options of a command\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  auto& cmds = dsvl::cli::commands();
  auto it = cmds.find(args[0]);
  if (it == cmds.end()) {
    std::fprintf(stderr, "dsvl: unknown command \"%s\"\n", args[0].c_str());
    print_usage();
    return 2;
  }
  try {
    return it->second.run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const dsvl::RequestError& e) {
    std::fprintf(stderr, "dsvl %s: error: %s\n", args[0].c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dsvl %s: error: out of memory\n", args[0].c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsvl %s: error: %s\n", args[0].c_str(), e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "dsvl %s: error: unexpected failure\n", args[0].c_str());
    return 1;
  }
}
