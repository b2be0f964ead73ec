#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tide {

using MetricLabels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative histogram with fixed upper bounds (Prometheus semantics: le buckets + sum + count).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Snapshot for rendering: cumulative counts per bound (+Inf last), sum, count.
  void Read(std::vector<std::uint64_t>* cumulative, double* sum, std::uint64_t* count) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Latency buckets in seconds, 0.5 ms .. 10 s.
std::vector<double> LatencyBuckets();

// Owns every metric of a process and renders them in the Prometheus text format (0.0.4).
// Registration takes a lock; updating a metric is lock-free. Pointers returned stay valid for
// the registry's lifetime. Registering the same name and labels twice returns the same metric.
class MetricsRegistry {
 public:
  Counter* AddCounter(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  Gauge* AddGauge(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                          const MetricLabels& labels = {});
  // A gauge computed when scraped (lag, sizes). `fn` must be thread-safe and cheap.
  void AddCallbackGauge(const std::string& name, const std::string& help, const MetricLabels& labels,
                        std::function<double()> fn);

  // Replaces every callback gauge by a constant holding its value now, for when the objects
  // the callbacks read are about to go while the registry is still scraped.
  void FreezeCallbackGauges();

  // Stops rendering a series whose subject went away (a partition revoked from this worker:
  // its lag is another member's to report) until it is registered again. Its pointer stays
  // valid and keeps its value. A series not registered is ignored.
  void Remove(const std::string& name, const MetricLabels& labels);

  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
    bool removed = false;  // Remove()d: not rendered until registered again
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series* FindOrAdd(const std::string& name, const std::string& help, Type type, const MetricLabels& labels,
                    bool* added);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
};

}  // namespace tide
