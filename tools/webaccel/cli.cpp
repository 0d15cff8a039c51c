#include "cli.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace wa::cli {

Args::Args(int argc, char** argv, int first, std::vector<std::string> flags) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      bool is_flag = false;
      for (const auto& f : flags) is_flag = is_flag || f == a;
      if (is_flag) {
        values_[a] = "";
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        parse_status_ = invalid_argument("option " + a + " needs a value");
      }
    } else {
      positional_.push_back(a);
    }
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) != 0; }

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

Result<long long> Args::get_int(const std::string& name, long long fallback, long long lo, long long hi) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0') return invalid_argument(name + " expects an integer, got '" + *v + "'");
  if (x < lo || x > hi) return invalid_argument(strformat("%s must be in [%lld, %lld], got %lld", name.c_str(), lo, hi, x));
  return x;
}

Result<double> Args::get_float(const std::string& name, double fallback, double lo, double hi) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(v->c_str(), &end);
  if (errno != 0 || end == v->c_str() || *end != '\0' || !std::isfinite(x)) {
    return invalid_argument(name + " expects a number, got '" + *v + "'");
  }
  if (x < lo || x > hi) return invalid_argument(strformat("%s must be in [%g, %g], got %g", name.c_str(), lo, hi, x));
  return x;
}

Status Args::check_unknown(const std::vector<std::string>& known) const {
  if (!parse_status_.ok()) return parse_status_;
  for (const auto& [k, v] : values_) {
    bool ok = false;
    for (const auto& n : known) ok = ok || n == k;
    if (!ok) return invalid_argument("unknown option " + k);
  }
  return Status::Ok();
}

int fail(const Status& s) {
  std::fprintf(stderr, "webaccel: error: %s\n", s.to_string().c_str());
  switch (s.code()) {
    case StatusCode::invalid_argument: return 2;
    case StatusCode::io_error: return 3;
    case StatusCode::invalid_file: return 4;
    case StatusCode::unsupported: return 5;
    case StatusCode::out_of_memory: return 6;
    default: return 1;
  }
}

}  // namespace wa::cli
