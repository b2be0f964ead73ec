#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tide {

// Why an operation failed, for failures a caller is expected to handle.
// Broken invariants are asserts, not Status. OK carries no message and no allocation.
class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // the input is wrong; retrying the same input fails again
    kNotFound,
    kAlreadyExists,
    kPermissionDenied,
    kUnavailable,      // transient: retry later (embedder down, broker unreachable)
    kCorruption,       // stored data is not what we wrote
    kUnimplemented,    // the peer (a broker, a provider) does not offer the operation
    kInternal,
    kDeadlineExceeded,  // the caller's deadline came first; with more time it may succeed
  };

  Status() = default;
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>", or "OK".
  std::string ToString() const;

  // Returns this status with `context` prepended to the message ("opening store: ...").
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit on purpose, `return doc;`
  Result(Status error) : state_(std::move(error)) {  // NOLINT
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(state_);
  }
  T& operator*() & { return std::get<T>(state_); }
  const T& operator*() const& { return std::get<T>(state_); }
  T&& operator*() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &std::get<T>(state_); }
  const T* operator->() const { return &std::get<T>(state_); }

 private:
  std::variant<Status, T> state_;
};

const char* CodeName(Status::Code code);

}  // namespace tide

// Propagates a non-OK Status to the caller.
#define TIDE_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::tide::Status tide_status_ = (expr);     \
    if (!tide_status_.ok()) return tide_status_; \
  } while (false)
