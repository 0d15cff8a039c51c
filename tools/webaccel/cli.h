// Shared pieces of the webaccel command-line tool: argument parsing and the
// command entry points (one file per command).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace wa::cli {

// Parses "-x VALUE", "--name VALUE", "--flag" and positional arguments.
// Each command declares its flags (options taking no value) up front.
class Args {
 public:
  Args(int argc, char** argv, int first, std::vector<std::string> flags);
  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  // Numeric options: an error status for text that is not a number or is out of range.
  Result<long long> get_int(const std::string& name, long long fallback, long long lo, long long hi) const;
  Result<double> get_float(const std::string& name, double fallback, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Options that were given but not consumed by any get/has: reported as errors.
  Status check_unknown(const std::vector<std::string>& known) const;
  const Status& parse_status() const { return parse_status_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  Status parse_status_;
};

// Prints "webaccel: <error>" and returns the exit code for it.
int fail(const Status& s);

int cmd_convert(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_kld(int argc, char** argv);

}  // namespace wa::cli
