#include "bulwark/common/metrics.h"

#include <cstdio>

namespace bulwark::metrics {

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sumMicros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name) const {
  uint64_t cumulative = 0;
  char line[160];
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size()) {
      std::snprintf(line, sizeof line, "%.*s_bucket{le=\"%g\"} %llu\n",
                    static_cast<int>(name.size()), name.data(), kBounds[i],
                    static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line, "%.*s_bucket{le=\"+Inf\"} %llu\n",
                    static_cast<int>(name.size()), name.data(),
                    static_cast<unsigned long long>(cumulative));
    }
    out += line;
  }
  std::snprintf(line, sizeof line, "%.*s_sum %.6f\n%.*s_count %llu\n",
                static_cast<int>(name.size()), name.data(),
                static_cast<double>(sumMicros_.load(std::memory_order_relaxed)) / 1e6,
                static_cast<int>(name.size()), name.data(),
                static_cast<unsigned long long>(cumulative));
  out += line;
}

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void TextWriter::line(std::string_view name, std::string_view labels, std::string_view value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, std::string_view labels, uint64_t value) {
  line(name, labels, std::to_string(value));
}

void TextWriter::sample(std::string_view name, std::string_view labels, int64_t value) {
  line(name, labels, std::to_string(value));
}

void TextWriter::histogram(std::string_view name, std::string_view help, const Histogram& h) {
  family(name, "histogram", help);
  h.render(out_, name);
}

} // namespace bulwark::metrics
