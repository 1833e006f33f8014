#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace bulwark::metrics {

// Lock-free Prometheus primitives; relaxed atomics (values are read only for exposition).
class Counter {
public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
public:
  void add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(int64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<int64_t> value_{0};
};

// Latency histogram with fixed bucket bounds (seconds), from 0.5 ms to 30 s.
class Histogram {
public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,  0.1,    0.25,  0.5,
                                                     1,      2.5,   10,     30};
  void observe(double seconds);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  // Appends the _bucket/_sum/_count lines of `name` (family header written by the caller).
  void render(std::string& out, std::string_view name) const;

private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sumMicros_{0};
};

// Writes Prometheus text exposition format 0.0.4.
class TextWriter {
public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::string_view labels, uint64_t value);
  void sample(std::string_view name, std::string_view labels, int64_t value);
  void histogram(std::string_view name, std::string_view help, const Histogram& h);
  std::string& text() { return out_; }

private:
  void line(std::string_view name, std::string_view labels, std::string_view value);
  std::string out_;
};

} // namespace bulwark::metrics
