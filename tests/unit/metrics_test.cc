// Prometheus text rendering.
#include <gtest/gtest.h>

#include "core/metrics/metrics.h"

TEST(Metrics, RendersCountersGaugesAndHistograms) {
  nf::metrics::registry r;
  r.get_counter("nf_events_total", "Events", {{"topic", "a\"b"}}).inc(3);
  r.get_gauge("nf_depth", "Depth").set(2.5);
  auto& h = r.get_histogram("nf_latency_seconds", "Latency", {{"route", "/x"}}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const auto text = r.render();
  EXPECT_NE(text.find("# TYPE nf_events_total counter\nnf_events_total{topic=\"a\\\"b\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nf_depth 2.5\n"), std::string::npos);
  EXPECT_NE(text.find("nf_latency_seconds_bucket{route=\"/x\",le=\"0.10000000000000001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nf_latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("nf_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("nf_latency_seconds_count{route=\"/x\"} 3\n"), std::string::npos);
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
  nf::metrics::registry r;
  r.get_counter("c", "h", {{"a", "1"}}).inc();
  r.get_counter("c", "h", {{"a", "1"}}).inc();
  EXPECT_EQ(r.get_counter("c", "h", {{"a", "1"}}).value(), 2u);
  EXPECT_THROW(r.get_gauge("c", "h"), std::logic_error);
}
