// Prometheus text rendering and the registry's bookkeeping.
#include "core/metrics/metrics.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nf::metrics {

void gauge::add(double d) noexcept {
  double cur = v_.load(std::memory_order_relaxed);
  while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void histogram::observe(double v) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

registry& registry::global() {
  static registry r;
  return r;
}

std::vector<double> registry::default_latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

registry::family& registry::fam(const std::string& name, const std::string& help, kind k) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.k = k;
    it->second.help = help;
  } else if (it->second.k != k) {
    throw std::logic_error("metric '" + name + "' registered twice with different kinds");
  }
  return it->second;
}

counter& registry::get_counter(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lk(mu_);
  auto& slot = fam(name, help, kind::counter).counters[l];
  if (!slot) slot = std::make_unique<counter>();
  return *slot;
}

gauge& registry::get_gauge(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lk(mu_);
  auto& slot = fam(name, help, kind::gauge).gauges[l];
  if (!slot) slot = std::make_unique<gauge>();
  return *slot;
}

histogram& registry::get_histogram(const std::string& name, const std::string& help, const labels& l,
                                   std::vector<double> bounds) {
  std::lock_guard lk(mu_);
  auto& slot = fam(name, help, kind::histogram).histograms[l];
  if (!slot) slot = std::make_unique<histogram>(std::move(bounds));
  return *slot;
}

namespace {
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_labels(const labels& l, const std::string& extra_k = {}, const std::string& extra_v = {}) {
  if (l.empty() && extra_k.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out += ",";
    out += k + "=\"" + escape(v) + "\"";
    first = false;
  }
  if (!extra_k.empty()) {
    if (!first) out += ",";
    out += extra_k + "=\"" + extra_v + "\"";
  }
  return out + "}";
}

std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}
}  // namespace

std::string registry::render() const {
  std::lock_guard lk(mu_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    out << "# HELP " << name << " " << f.help << "\n";
    switch (f.k) {
      case kind::counter:
        out << "# TYPE " << name << " counter\n";
        for (const auto& [l, c] : f.counters) out << name << render_labels(l) << " " << c->value() << "\n";
        break;
      case kind::gauge:
        out << "# TYPE " << name << " gauge\n";
        for (const auto& [l, g] : f.gauges) out << name << render_labels(l) << " " << num(g->value()) << "\n";
        break;
      case kind::histogram: {
        out << "# TYPE " << name << " histogram\n";
        for (const auto& [l, h] : f.histograms) {
          auto counts = h->bucket_counts();
          for (std::size_t i = 0; i < h->bounds().size(); ++i)
            out << name << "_bucket" << render_labels(l, "le", num(h->bounds()[i])) << " " << counts[i] << "\n";
          out << name << "_bucket" << render_labels(l, "le", "+Inf") << " " << counts.back() << "\n";
          out << name << "_sum" << render_labels(l) << " " << num(h->sum()) << "\n";
          out << name << "_count" << render_labels(l) << " " << h->count() << "\n";
        }
        break;
      }
    }
  }
  return out.str();
}

}  // namespace nf::metrics
