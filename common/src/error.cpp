#include "bulwark/common/result.h"

namespace bulwark {

std::string Error::describe() const {
  if (!code_ || code_ == std::errc::invalid_argument) {
    return message_;
  }
  return message_ + " (" + code_.message() + ")";
}

} // namespace bulwark
