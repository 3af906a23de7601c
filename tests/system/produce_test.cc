// Producing over HTTP to a real `nexus-forge serve`: SIGKILL during a concurrent load of batches
// (every acknowledged event is in the log exactly once after retries by id), the CLI's
// `produce --server --file` and `topics create|list --server`, and Kafka mode read back by an
// independent Kafka client (kcat) from librdkafka's mock cluster.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

namespace t = nf::test;
using nlohmann::json;
using namespace std::chrono_literals;

// "01900000-0000-7000-8000-<12 hex>" for batch b, event i.
std::string event_id(int b, int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-8000-%06x%06x", b, i);
  return buf;
}

json batch(int b, int n) {
  json events = json::array();
  for (int i = 0; i < n; ++i)
    events.push_back({{"type", "load.tick"}, {"key", "k" + std::to_string(i % 7)}, {"id", event_id(b, i)}, {"payload", {{"b", b}, {"i", i}}}});
  return {{"events", events}};
}

// Every event of a topic as (id -> count), read with `consume` (read-only, beside or after a server).
std::map<std::string, int> ids_in_log(const std::string& config, const std::string& topic) {
  auto r = t::run({t::nexus_forge_binary(), "consume", "--config", config, "--topic", topic}, {}, 120s);
  std::map<std::string, int> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("id")) ++out[j["id"].get<std::string>()];
  }
  return out;
}

class Produce : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    std::ofstream(config_) << json{{"data_dir", (dir_.path() / "data").string()},
                                   {"topics", {{"load", {{"partitions", 3}, {"accept_unknown_types", true}}}}}}
                                  .dump();
  }
  t::temp_dir dir_;
  std::string config_;
};

TEST_F(Produce, AfterSigkillDuringConcurrentBatchesEveryAcknowledgedEventIsInTheLogExactlyOnce) {
  constexpr int kWriters = 8, kBatches = 40, kPerBatch = 50;
  std::set<int> acked;
  std::mutex mu;
  {
    auto srv = std::make_unique<t::server>(config_);
    std::atomic<bool> killed{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back([&, w] {
        try {
          t::http_client c("127.0.0.1", srv->port(), t::admin_headers());
          for (int b = w; b < kBatches * kWriters && !killed; b += kWriters) {
            auto r = c.post("/topics/load/events", batch(b, kPerBatch).dump());
            if (r.status == 201) {
              std::lock_guard lk(mu);
              acked.insert(b);
            }
          }
        } catch (const std::exception&) {
          // the server went away mid-request
        }
      });
    ASSERT_TRUE(t::wait_until([&] {
      std::lock_guard lk(mu);
      return acked.size() >= 40;
    }, 60s));
    srv->proc().signal(SIGKILL);
    killed = true;
    srv->proc().wait();
    for (auto& th : writers) th.join();
  }
  // Restart on the same data: retry every batch, as a client that never got an answer would.
  t::server srv(config_);
  t::http_client c("127.0.0.1", srv.port(), t::admin_headers());
  ASSERT_TRUE(t::wait_until([&] { return c.get("/readyz").status == 200; }, 60s));
  int duplicates_answered = 0;
  for (int b = 0; b < kBatches * kWriters; ++b) {
    t::http_reply r;
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = c.post("/topics/load/events", batch(b, kPerBatch).dump());
      if (r.status != 503) break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(r.status, 201) << "batch " << b << ": " << r.body;
    duplicates_answered += json::parse(r.body).value("duplicate", false);
  }
  EXPECT_GE(duplicates_answered, static_cast<int>(acked.size()));  // every acknowledged batch was found, not appended again
  ASSERT_EQ(srv.stop(), 0);
  const auto ids = ids_in_log(config_, "load");
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kBatches * kWriters * kPerBatch));
  for (const auto& [id, n] : ids) ASSERT_EQ(n, 1) << id << " is in the log " << n << " times";
  for (int b : acked)
    for (int i = 0; i < kPerBatch; ++i) ASSERT_EQ(ids.count(event_id(b, i)), 1u) << "acknowledged " << event_id(b, i);
}

TEST_F(Produce, TheCliProducesAFileThroughTheServerAndManagesTopics) {
  t::server srv(config_);
  const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
  const std::vector<std::string> env{std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir_.path() / "state").string()};
  auto made = t::run({t::nexus_forge_binary(), "topics", "create", "orders", "--partitions", "2", "--accept-unknown-types", "--server", url,
                      "--json"},
                     env);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(json::parse(made.out)["partitions"], 2);
  const auto file = (dir_.path() / "events.ndjson").string();
  {
    std::ofstream out(file);
    for (int i = 0; i < 2500; ++i) out << json{{"type", "order.placed"}, {"key", "o" + std::to_string(i)}, {"payload", {{"n", i}}}}.dump() << "\n";
  }
  auto produced = t::run({t::nexus_forge_binary(), "produce", "--topic", "orders", "--server", url, "--file", file, "--batch", "1000"}, env);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  EXPECT_NE(produced.out.find("appended 2500 events"), std::string::npos) << produced.out;
  // A bad line: named, and nothing of its batch appended.
  {
    std::ofstream out(file);
    out << R"({"type":"order.placed","payload":{}})" << "\n" << R"({"type":"order.placed","payload":[]})" << "\n";
  }
  auto bad = t::run({t::nexus_forge_binary(), "produce", "--topic", "orders", "--server", url, "--file", file}, env);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("line 2"), std::string::npos) << bad.err;
  auto listed = t::run({t::nexus_forge_binary(), "topics", "list", "--server", url, "--json"}, env);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::int64_t events = -1;
  for (const auto& item : json::parse(listed.out))
    if (item["name"] == "orders") {
      events = 0;
      for (const auto& o : item["offsets"]) events += o["end"].get<std::int64_t>() - o["begin"].get<std::int64_t>();
    }
  EXPECT_EQ(events, 2500);
  // One event, as before, but through the server.
  auto one = t::run({t::nexus_forge_binary(), "produce", "--topic", "orders", "--server", url, "--type", "order.paid", "--key", "o1", "--json",
                     R"({"total":3})"},
                    env);
  EXPECT_EQ(one.exit_code, 0) << one.err;
  // Without --server the owned store is refused with the way out.
  auto direct = t::run({t::nexus_forge_binary(), "produce", "--config", config_, "--topic", "orders", "--type", "order.paid", "--key", "o1",
                        "--json", "{}"});
  EXPECT_NE(direct.exit_code, 0);
  EXPECT_NE(direct.err.find("--server"), std::string::npos) << direct.err;
}

TEST_F(Produce, InKafkaModeBatchesAreReadBackByKcat) {
  auto mock = std::make_unique<t::child>(std::vector<std::string>{t::nexus_forge_binary(), "kafka-mock", "--config", config_});
  std::string bootstrap;
  ASSERT_TRUE(mock->read_line(bootstrap, 30s)) << mock->stderr_text();
  t::server srv(config_, {"NF_BUS_KIND=kafka", "NF_KAFKA_BOOTSTRAP=" + bootstrap, "NF_KAFKA_FETCH_WAIT_MS=10"});
  t::http_client c("127.0.0.1", srv.port(), t::admin_headers());
  ASSERT_TRUE(t::wait_until([&] { return c.get("/readyz").status == 200; }, 60s));
  std::string nd;
  for (int i = 0; i < 30; ++i) nd += json{{"type", "load.tick"}, {"key", "k" + std::to_string(i)}, {"payload", {{"i", i}}}}.dump() + "\n";
  auto r = c.request("POST", "/topics/load/events", nd, "application/x-ndjson");
  ASSERT_EQ(r.status, 201) << r.body;
  auto positions = json::parse(r.body)["positions"];
  ASSERT_EQ(positions.size(), 30u);
  auto k = t::run({"/usr/bin/kcat", "-C", "-b", bootstrap, "-t", "load", "-e", "-q", "-f", "%k %p %o %h\\n"}, {}, 60s);
  ASSERT_EQ(k.exit_code, 0) << k.err;
  std::map<std::string, std::string> seen;  // key -> "partition offset"
  std::istringstream in(k.out);
  std::string key, headers;
  int p = 0;
  long long o = 0;
  while (in >> key >> p >> o && std::getline(in, headers)) {
    seen[key] = std::to_string(p) + " " + std::to_string(o);
    EXPECT_NE(headers.find("nf-type=load.tick"), std::string::npos) << headers;
  }
  ASSERT_EQ(seen.size(), 30u) << k.out;
  for (int i = 0; i < 30; ++i)
    EXPECT_EQ(seen["k" + std::to_string(i)],
              std::to_string(positions[static_cast<std::size_t>(i)]["partition"].get<int>()) + " " +
                  std::to_string(positions[static_cast<std::size_t>(i)]["offset"].get<long long>()));
  srv.stop();
}

}  // namespace
