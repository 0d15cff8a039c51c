// Errors are values: every fallible function returns Status or Result<T>.
// Nothing in the library throws across the public API or aborts on bad input;
// asserts (WA_ASSERT) guard internal invariants only.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace wa {

enum class StatusCode : int {
  ok = 0,
  invalid_argument = 1,  // the caller passed something wrong (bad option, token id out of range)
  invalid_file = 2,      // a model/tokenizer file is malformed or inconsistent
  unsupported = 3,       // well-formed but uses a type/arch/feature we do not run
  out_of_memory = 4,     // an allocation or the memory budget failed
  io_error = 5,          // open/read/write/mmap failed
  cancelled = 6,         // the caller cancelled the request
  device_lost = 7,       // a GPU device went away
  internal = 8,          // a bug: an invariant did not hold
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_file: tensor 'x' ends past the end of the file"
  std::string to_string() const;

  // Prefixes context, e.g. "loading model.gguf: " + message.
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

// printf-style message formatting for error construction.
std::string strformat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

inline Status invalid_argument(std::string m) { return Status(StatusCode::invalid_argument, std::move(m)); }
inline Status invalid_file(std::string m) { return Status(StatusCode::invalid_file, std::move(m)); }
inline Status unsupported(std::string m) { return Status(StatusCode::unsupported, std::move(m)); }
inline Status out_of_memory(std::string m) { return Status(StatusCode::out_of_memory, std::move(m)); }
inline Status io_error(std::string m) { return Status(StatusCode::io_error, std::move(m)); }
inline Status cancelled(std::string m) { return Status(StatusCode::cancelled, std::move(m)); }
inline Status internal_error(std::string m) { return Status(StatusCode::internal, std::move(m)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = internal_error("Result constructed from an ok Status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

}  // namespace wa

#define WA_CONCAT_INNER(a, b) a##b
#define WA_CONCAT(a, b) WA_CONCAT_INNER(a, b)

// Return the Status from the enclosing function if `expr` failed.
#define WA_TRY(expr)                                   \
  do {                                                 \
    ::wa::Status wa_try_status_ = (expr);              \
    if (!wa_try_status_.ok()) return wa_try_status_;   \
  } while (0)

// `lhs = value of expr` or return its Status.
#define WA_ASSIGN_OR_RETURN(lhs, expr) WA_ASSIGN_OR_RETURN_IMPL(WA_CONCAT(wa_result_, __LINE__), lhs, expr)
#define WA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// Internal invariants only; never for validating input.
#define WA_ASSERT(expr) \
  do {                  \
    if (!(expr)) ::wa::assert_fail(#expr, __FILE__, __LINE__); \
  } while (0)
