// Subcommand registry of the dsvl executable. Each cmd_*.cpp defines one command and
// registers it with a static Registration, so adding a command touches no shared file.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dsvl::cli {

struct Command {
  std::string name;
  std::string summary;                                           // one line for `dsvl --help`
  std::function<int(const std::vector<std::string>& args)> run;  // args exclude the name
};

std::map<std::string, Command>& commands();

struct Registration {
  explicit Registration(Command c) { commands()[c.name] = std::move(c); }
};

// Minimal flag parser shared by the commands. Flags are `--name value`, `--name=value` or
// bare `--switch`; `-m` is an alias of `--model` everywhere. Unknown flags are errors.
class Args {
 public:
  // `value_flags` take a value, `switch_flags` do not. Aliases map short to long names.
  Args(const std::vector<std::string>& argv, const std::vector<std::string>& value_flags,
       const std::vector<std::string>& switch_flags,
       const std::map<std::string, std::string>& aliases = {{"-m", "--model"}});

  bool has(const std::string& flag) const;
  std::optional<std::string> get(const std::string& flag) const;
  std::string get_or(const std::string& flag, const std::string& def) const;
  std::string require(const std::string& flag) const;               // RequestError if missing
  std::vector<std::string> get_all(const std::string& flag) const;  // repeated flags
  // Numbers with a clear error naming the flag on bad input.
  long long get_int(const std::string& flag, long long def) const;
  double get_double(const std::string& flag, double def) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace dsvl::cli
