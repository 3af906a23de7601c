#include "actors/regions/links.h"

#include <nlohmann/json.hpp>

#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::regions {

using json = nlohmann::json;
using namespace std::chrono_literals;

link_runner::link_runner(link_settings s, source_fn source_of, target_guard& target, std::chrono::milliseconds lag_refresh, const nf::clock& clk)
    : s_(std::move(s)), source_of_(std::move(source_of)), target_(target), lag_refresh_(lag_refresh), clk_(clk) {}

link_runner::~link_runner() { stop(); }

void link_runner::start() { thread_ = std::thread([this] { run(); }); }

void link_runner::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void link_runner::publish(const std::vector<partition_state>& parts) {
  auto& reg = metrics::registry::global();
  const auto now = clk_.now_ms();
  for (const auto& p : parts) {
    const metrics::labels l{{"from", s_.from}, {"to", s_.to}, {"topic", p.tp.topic.get()}, {"partition", std::to_string(p.tp.partition.get())}};
    reg.get_gauge("nf_region_lag_events", "Events of a source partition a link has not copied yet", l).set(static_cast<double>(p.lag_events()));
    reg.get_gauge("nf_region_lag_ms", "How long the oldest event a link has not copied has waited", l).set(static_cast<double>(p.lag_ms(now)));
  }
  std::lock_guard lk(mu_);
  parts_ = parts;
}

void link_runner::run() {
  auto log = nf::log::get("regions");
  auto& errors = metrics::registry::global().get_counter("nf_region_link_errors_total", "Errors a link met (it starts again from what the target holds)",
                                                         {{"from", s_.from}, {"to", s_.to}});
  auto fail = [&](const std::string& what) {
    errors.inc();
    log->error("link {} -> {}: {}; starting again in 1 s", s_.from, s_.to, what);
    {
      std::lock_guard lk(mu_);
      state_ = "error";
      error_ = what;
    }
    for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(100ms);
  };
  while (!stop_) {
    try {
      auto source = source_of_();
      if (!source) {
        fail(source.error().message);
        continue;
      }
      replicator r(**source, target_, link_options{s_.from, s_.to, s_.topics, static_cast<std::size_t>(s_.batch)});
      if (auto p = r.prepare(); !p) {
        fail(p.error().message);
        continue;
      }
      {
        std::lock_guard lk(mu_);
        state_ = "running";
        error_.clear();
      }
      auto last_lag = std::chrono::steady_clock::time_point{};
      auto last_topics = std::chrono::steady_clock::now();
      bool failed = false;
      while (!stop_ && !failed) {
        auto n = r.step(100ms);
        if (!n) {
          fail(n.error().message);
          failed = true;
          break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_lag >= lag_refresh_) {
          auto l = r.lag(true);
          if (!l) {
            fail(l.error().message);
            failed = true;
            break;
          }
          publish(*l);
          last_lag = now;
        }
        if (now - last_topics >= 5s) {
          if (auto t = r.refresh_topics(); !t) {
            fail(t.error().message);
            failed = true;
            break;
          }
          last_topics = now;
        }
      }
    } catch (const std::exception& e) {
      fail(std::string("unexpected: ") + e.what());
    }
  }
}

json link_runner::status() const {
  std::lock_guard lk(mu_);
  const auto now = clk_.now_ms();
  json parts = json::array();
  std::int64_t copied = 0, loop = 0, seen = 0, lag = 0, lag_ms = 0;
  for (const auto& p : parts_) {
    copied += p.copied;
    loop += p.skipped_loop;
    seen += p.skipped_seen;
    lag += p.lag_events();
    lag_ms = std::max(lag_ms, p.lag_ms(now));
    parts.push_back({{"topic", p.tp.topic.get()}, {"partition", p.tp.partition.get()}, {"next", p.next}, {"sourceEnd", p.source_end},
                     {"lagEvents", p.lag_events()}, {"lagMs", p.lag_ms(now)}});
  }
  json out{{"from", s_.from}, {"to", s_.to}, {"topics", s_.topics}, {"state", state_}, {"copied", copied}, {"skippedLoop", loop},
           {"skippedSeen", seen}, {"lagEvents", lag}, {"lagMs", lag_ms}, {"partitions", parts}};
  if (!error_.empty()) out["error"] = error_;
  return out;
}

}  // namespace nf::regions
