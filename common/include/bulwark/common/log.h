#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace bulwark::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Parses "debug|info|warn|error"; false on anything else.
bool parseLevel(std::string_view text, Level& out);
void setLevel(Level level);
Level level();

using Field = std::pair<std::string_view, std::string>;

// One JSON object per line on stderr: {"ts":…,"level":…,"component":…,"msg":…, fields…}.
// Thread-safe; values are escaped, so untrusted input cannot forge lines.
class Logger {
public:
  explicit Logger(std::string_view component) : component_(component) {}

  void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    write(Level::Debug, msg, fields);
  }
  void info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    write(Level::Info, msg, fields);
  }
  void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    write(Level::Warn, msg, fields);
  }
  void error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    write(Level::Error, msg, fields);
  }
  bool enabled(Level l) const { return l >= level(); }

private:
  void write(Level l, std::string_view msg, std::initializer_list<Field> fields) const;
  std::string_view component_;
};

// Appends `text` as a JSON string body (without quotes) to `out`, escaping control characters,
// quotes and backslashes, and replacing invalid UTF-8 bytes with \u00XX escapes of the byte.
void appendJsonEscaped(std::string& out, std::string_view text);

// RFC 3339 UTC time with milliseconds, e.g. 2026-11-24T01:02:03.456Z.
std::string nowRfc3339();

} // namespace bulwark::log
