#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace bulwark {

// An error from OS-facing or parsing code: an error code plus a one-line, human message.
// wrap() prepends context as the error travels up ("config: limits.max_headers: must be > 0").
class [[nodiscard]] Error {
public:
  Error(std::error_code code, std::string message, const char* file = nullptr, int line = 0)
      : code_(code), message_(std::move(message)), file_(file), line_(line) {}

  const std::error_code& code() const { return code_; }
  const std::string& message() const { return message_; }
  const char* file() const { return file_; }
  int line() const { return line_; }

  Error& wrap(std::string_view context) & {
    message_.insert(0, std::string(context) + ": ");
    return *this;
  }
  Error&& wrap(std::string_view context) && { return std::move(wrap(context)); }

  // "message (system reason)" when the code adds information, else just the message.
  std::string describe() const;

private:
  std::error_code code_;
  std::string message_;
  const char* file_;
  int line_;
};

template <class T> using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> makeError(std::error_code ec, std::string msg, const char* file,
                                       int line) {
  return tl::unexpected<Error>(Error(ec, std::move(msg), file, line));
}

inline std::error_code errnoCode(int e) { return {e, std::generic_category()}; }

} // namespace bulwark

// BW_ERR(ec, "what failed") -> an unexpected<Error> stamped with file:line.
#define BW_ERR(ec, msg) ::bulwark::makeError((ec), (msg), __FILE__, __LINE__)
// BW_INVALID("msg") for input/config errors that have no OS error code.
#define BW_INVALID(msg) BW_ERR(std::make_error_code(std::errc::invalid_argument), (msg))
