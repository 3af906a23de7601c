// Errors are values: nf::result<T> carries either a T or an nf::error (code + message).
// Adapters convert foreign statuses (rocksdb::Status, RdKafka::ErrorCode) at their boundary.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace nf {

enum class errc {
  invalid_argument,  // caller's input is malformed or out of range
  not_found,         // topic, partition, key or file does not exist
  already_exists,
  too_large,         // size limit exceeded
  conflict,          // idempotency mismatch, or a state that forbids the change
  wrong_expected_version,  // an append's expected key version is not the key's current one
  locked,            // another process owns the resource
  corruption,        // stored data fails validation
  io_error,
  timeout,
  unavailable,       // a remote system cannot be reached
  unsupported,
  cancelled,
  unauthenticated,   // no or invalid credentials
  permission_denied, // credentials valid, permission missing
  rate_limited,      // over a rate or quota
  no_space,          // the disk holding the data directory is full
  internal,
};

const char* to_string(errc code) noexcept;

struct error {
  errc code;
  std::string message;
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(nf::error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT
  result(errc code, std::string message) : v_(std::in_place_index<1>, nf::error{code, std::move(message)}) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const nf::error& error() const& { assert(!has_value()); return std::get<1>(v_); }
  nf::error&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, nf::error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(nf::error err) : err_(std::move(err)), ok_(false) {}  // NOLINT
  result(errc code, std::string message) : err_{code, std::move(message)}, ok_(false) {}

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  void value() const { assert(ok_); }
  const nf::error& error() const& { assert(!ok_); return err_; }
  nf::error&& error() && { assert(!ok_); return std::move(err_); }

 private:
  nf::error err_{errc::internal, {}};
  bool ok_ = true;
};

inline result<void> ok() { return {}; }

// Renders "code: message" for logs and CLI output.
std::string describe(const error& e);

}  // namespace nf

// Early return on error: NF_TRY(expr) for result<void>, NF_TRY_ASSIGN(var, expr) for result<T>.
#define NF_TRY(expr)                                   \
  do {                                                 \
    auto nf_try_r_ = (expr);                           \
    if (!nf_try_r_) return std::move(nf_try_r_).error(); \
  } while (0)

#define NF_CONCAT_INNER(a, b) a##b
#define NF_CONCAT(a, b) NF_CONCAT_INNER(a, b)
#define NF_TRY_ASSIGN(lhs, expr) NF_TRY_ASSIGN_IMPL(NF_CONCAT(nf_try_tmp_, __LINE__), lhs, expr)
#define NF_TRY_ASSIGN_IMPL(tmp, lhs, expr)        \
  auto tmp = (expr);                              \
  if (!tmp) return std::move(tmp).error();        \
  lhs = std::move(tmp).value()
