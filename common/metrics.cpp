#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>

namespace billing::metrics {
namespace {

std::string escapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string renderLabels(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    out += k + "=\"" + escapeLabelValue(v) + "\"";
    first = false;
  }
  if (!extra.empty()) {
    if (!first) out += ",";
    out += extra;
  }
  return out + "}";
}

// Labels are rendered without braces as the map key, so le="..." can be appended for buckets.
std::string labelKey(const Labels& labels) {
  auto rendered = renderLabels(labels);
  return rendered.empty() ? rendered : rendered.substr(1, rendered.size() - 2);
}

std::string braces(const std::string& inner, const std::string& extra = {}) {
  if (inner.empty() && extra.empty()) return {};
  if (inner.empty()) return "{" + extra + "}";
  if (extra.empty()) return "{" + inner + "}";
  return "{" + inner + "," + extra + "}";
}

// Shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
std::string formatDouble(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

void addDouble(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  addDouble(sum_, value);
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, {}, {}, {}});
  if (!inserted && it->second.type != type) throw std::logic_error("metric " + name + " registered with two types");
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::Counter).counters[labelKey(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::Gauge).gauges[labelKey(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                               const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::Histogram).histograms[labelKey(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, fam] : families_) {
    const char* type = fam.type == Type::Counter ? "counter" : fam.type == Type::Gauge ? "gauge" : "histogram";
    out << "# HELP " << name << " " << fam.help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [labels, c] : fam.counters) out << name << braces(labels) << " " << c->value() << "\n";
    for (const auto& [labels, g] : fam.gauges) out << name << braces(labels) << " " << formatDouble(g->value()) << "\n";
    for (const auto& [labels, h] : fam.histograms) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h->bounds_.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        out << name << "_bucket" << braces(labels, "le=\"" + formatDouble(h->bounds_[i]) + "\"") << " " << cumulative
            << "\n";
      }
      // Observations land in a bucket before the count moves; never render a count below its buckets.
      auto total = std::max(cumulative, h->count());
      out << name << "_bucket" << braces(labels, "le=\"+Inf\"") << " " << total << "\n";
      out << name << "_sum" << braces(labels) << " " << formatDouble(h->sum_.load()) << "\n";
      out << name << "_count" << braces(labels) << " " << total << "\n";
    }
  }
  return out.str();
}

Registry& defaultRegistry() {
  static Registry registry;
  return registry;
}

std::vector<double> latencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace billing::metrics
