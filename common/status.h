// Status and Result<T>: how errors cross module boundaries in Préau.
//
// A Status is ok or carries a code and a human message that names what was wrong
// ("token: expired on 2026-11-20T10:00"). Result<T> holds either a value or an error
// Status. No exceptions cross a boundary or a thread: code that calls a throwing library
// (yaml-cpp, std::filesystem) catches at its edge and returns a Status.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/utf8.h"

namespace preau {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kDataLoss,
  kInternal,
};

class Status {
 public:
  Status() = default;
  // Messages often echo what a user typed or a file held: they are made valid UTF-8 here,
  // because they travel on in gRPC statuses, protobuf fields and the audit.
  Status(Code code, std::string message) : code_(code), message_(ValidUtf8(std::move(message))) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the error happened: "reading state.db: " + message.
  Status Context(const std::string& where) const {
    if (ok()) return *this;
    return Status(code_, where + ": " + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}         // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace preau

#define PREAU_RETURN_IF_ERROR(expr)          \
  do {                                       \
    ::preau::Status _st = (expr);            \
    if (!_st.ok()) return _st;               \
  } while (0)

#define PREAU_CONCAT_INNER(a, b) a##b
#define PREAU_CONCAT(a, b) PREAU_CONCAT_INNER(a, b)
#define PREAU_ASSIGN_OR_RETURN(lhs, expr) \
  PREAU_ASSIGN_OR_RETURN_IMPL(PREAU_CONCAT(_res_, __LINE__), lhs, expr)
#define PREAU_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
