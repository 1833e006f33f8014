#pragma once

// Names shared by the data-path sources (private to filter/src).

#include <chrono>
#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

namespace bulwark::filter {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using boost::system::error_code;

// Every async step of a session reports through an error_code, never an exception.
#define BW_EC asio::redirect_error(asio::use_awaitable, ec)

inline std::string_view view(const beast::flat_buffer& b) {
  return {static_cast<const char*>(b.data().data()), b.size()};
}

} // namespace bulwark::filter
