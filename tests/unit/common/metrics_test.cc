#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace tide {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndCallbacksInPrometheusFormat) {
  MetricsRegistry registry;
  Counter* applied = registry.AddCounter("tide_events_total", "Events.", {{"outcome", "applied"}});
  Counter* stale = registry.AddCounter("tide_events_total", "Events.", {{"outcome", "stale"}});
  applied->Inc(3);
  stale->Inc();
  EXPECT_EQ(registry.AddCounter("tide_events_total", "Events.", {{"outcome", "applied"}}), applied);
  registry.AddGauge("tide_ratio", "A ratio.")->Set(0.25);
  registry.AddCallbackGauge("tide_lag", "Lag.", {{"partition", "0"}}, [] { return 7.0; });
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP tide_events_total Events.\n# TYPE tide_events_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("tide_events_total{outcome=\"applied\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tide_events_total{outcome=\"stale\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("tide_ratio 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("tide_lag{partition=\"0\"} 7\n"), std::string::npos);
  // One HELP/TYPE header per family, not per series.
  EXPECT_EQ(text.find("# TYPE tide_events_total"), text.rfind("# TYPE tide_events_total"));
}

// A revoked partition's lag is another worker's to report: its series goes from /metrics and
// comes back, same object, when the partition does.
TEST(MetricsTest, ARemovedSeriesIsNotRenderedUntilRegisteredAgain) {
  MetricsRegistry registry;
  Gauge* p0 = registry.AddGauge("tide_lag", "Lag.", {{"partition", "0"}});
  registry.AddGauge("tide_lag", "Lag.", {{"partition", "1"}})->Set(4);
  p0->Set(9);
  registry.Remove("tide_lag", {{"partition", "0"}});
  registry.Remove("tide_lag", {{"partition", "7"}});  // never registered: ignored
  registry.Remove("tide_none", {});
  std::string text = registry.Render();
  EXPECT_EQ(text.find("tide_lag{partition=\"0\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("tide_lag{partition=\"1\"} 4\n"), std::string::npos) << text;
  p0->Set(2);  // the pointer stays valid
  EXPECT_EQ(registry.AddGauge("tide_lag", "Lag.", {{"partition", "0"}}), p0);
  text = registry.Render();
  EXPECT_NE(text.find("tide_lag{partition=\"0\"} 2\n"), std::string::npos) << text;
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  Histogram* h = registry.AddHistogram("tide_latency_seconds", "Latency.", {0.1, 1}, {{"mode", "hybrid"}});
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(0.5);
  h->Observe(5);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("tide_latency_seconds_bucket{mode=\"hybrid\",le=\"0.10000000000000001\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tide_latency_seconds_bucket{mode=\"hybrid\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("tide_latency_seconds_bucket{mode=\"hybrid\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("tide_latency_seconds_sum{mode=\"hybrid\"} 5.6500000000000004\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tide_latency_seconds_count{mode=\"hybrid\"} 4\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  Counter* c = registry.AddCounter("c", "c");
  Histogram* h = registry.AddHistogram("h", "h", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Inc();
        h->Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000u);
  std::vector<std::uint64_t> cumulative;
  double sum = 0;
  std::uint64_t count = 0;
  h->Read(&cumulative, &sum, &count);
  EXPECT_EQ(count, 40000u);
  EXPECT_NEAR(sum, 40.0, 1e-6);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  registry.AddCounter("c", "c", {{"path", "a\"b\\c\nd"}})->Inc();
  EXPECT_NE(registry.Render().find("c{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace tide
