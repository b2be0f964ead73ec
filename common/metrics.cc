#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tide {
namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, const std::string& extra_key = "",
                      const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + EscapeLabel(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ',';
    out += extra_key + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void AddAtomic(std::atomic<double>* a, double v) {
  double old = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  std::size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AddAtomic(&sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Read(std::vector<std::uint64_t>* cumulative, double* sum, std::uint64_t* count) const {
  cumulative->assign(bounds_.size() + 1, 0);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    (*cumulative)[i] = running;
  }
  *sum = sum_.load(std::memory_order_relaxed);
  *count = running;  // consistent with the buckets even while observations race
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

MetricsRegistry::Series* MetricsRegistry::FindOrAdd(const std::string& name, const std::string& help, Type type,
                                                    const MetricLabels& labels, bool* added) {
  Family& family = families_.try_emplace(name, Family{type, help, {}}).first->second;
  for (auto& s : family.series) {
    if (s->labels == labels) {
      *added = false;
      s->removed = false;
      return s.get();
    }
  }
  family.series.push_back(std::make_unique<Series>());
  family.series.back()->labels = labels;
  *added = true;
  return family.series.back().get();
}

Counter* MetricsRegistry::AddCounter(const std::string& name, const std::string& help, const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series* s = FindOrAdd(name, help, Type::kCounter, labels, &added);
  if (added) s->counter = std::make_unique<Counter>();
  return s->counter.get();
}

Gauge* MetricsRegistry::AddGauge(const std::string& name, const std::string& help, const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series* s = FindOrAdd(name, help, Type::kGauge, labels, &added);
  if (added) s->gauge = std::make_unique<Gauge>();
  return s->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bounds, const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series* s = FindOrAdd(name, help, Type::kHistogram, labels, &added);
  if (added) s->histogram = std::make_unique<Histogram>(std::move(bounds));
  return s->histogram.get();
}

void MetricsRegistry::AddCallbackGauge(const std::string& name, const std::string& help,
                                       const MetricLabels& labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  bool added = false;
  Series* s = FindOrAdd(name, help, Type::kGauge, labels, &added);
  s->callback = std::move(fn);
}

void MetricsRegistry::FreezeCallbackGauges() {
  std::lock_guard lock(mu_);
  for (auto& [name, family] : families_) {
    for (auto& series : family.series) {
      if (!series->callback) continue;
      const double value = series->callback();
      series->callback = [value] { return value; };
    }
  }
}

void MetricsRegistry::Remove(const std::string& name, const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  auto family = families_.find(name);
  if (family == families_.end()) return;
  for (auto& s : family->second.series) {
    if (s->labels == labels) s->removed = true;
  }
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter" : family.type == Type::kGauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + family.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& s : family.series) {
      if (s->removed) continue;
      if (s->counter) {
        out += name + LabelText(s->labels) + " " + std::to_string(s->counter->value()) + "\n";
      } else if (s->callback) {
        out += name + LabelText(s->labels) + " " + Number(s->callback()) + "\n";
      } else if (s->gauge) {
        out += name + LabelText(s->labels) + " " + Number(s->gauge->value()) + "\n";
      } else if (s->histogram) {
        std::vector<std::uint64_t> cumulative;
        double sum = 0;
        std::uint64_t count = 0;
        s->histogram->Read(&cumulative, &sum, &count);
        const std::vector<double>& bounds = s->histogram->bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          std::string le = i < bounds.size() ? Number(bounds[i]) : "+Inf";
          out += name + "_bucket" + LabelText(s->labels, "le", le) + " " + std::to_string(cumulative[i]) + "\n";
        }
        out += name + "_sum" + LabelText(s->labels) + " " + Number(sum) + "\n";
        out += name + "_count" + LabelText(s->labels) + " " + std::to_string(count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace tide
