#include "core/feature/cluster.h"

#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/base/hex.h"
#include "core/event/codec.h"
#include "core/event/ids.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::feature {

namespace {
using json = nlohmann::json;
using ms = std::chrono::milliseconds;

std::int64_t now_ms() {
  return std::chrono::duration_cast<ms>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    for (auto& c : raw) c = static_cast<char>(std::rand());
  }
  return to_hex(raw);
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}
}  // namespace

result<std::string> instance_id_of(const config::config& cfg) {
  if (!cfg.instance_id.empty()) {
    if (!valid_id(cfg.instance_id))
      return error{errc::invalid_argument, "config key 'instance.id': 1 to 64 characters of [A-Za-z0-9._-], got '" + cfg.instance_id + "'"};
    return cfg.instance_id;
  }
  const auto path = std::filesystem::path(cfg.data_dir) / "instance-id";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::string id;
    std::getline(in, id);
    if (!valid_id(id)) return error{errc::corruption, path.string() + " does not hold an instance id; remove it to generate a new one"};
    return id;
  }
  std::filesystem::create_directories(cfg.data_dir, ec);
  const std::string id = "i-" + random_hex(6);
  {
    std::ofstream out(path.string() + ".tmp");
    out << id << "\n";
    if (!out) return error{errc::io_error, "cannot write " + path.string()};
  }
  std::filesystem::rename(path.string() + ".tmp", path, ec);
  if (ec) return error{errc::io_error, "cannot write " + path.string() + ": " + ec.message()};
  return id;
}

struct membership::impl {
  bus::event_bus& bus;
  membership_options opts;
  std::string incarnation = random_hex(8);
  std::int64_t started_at = now_ms();
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::unique_ptr<bus::consumer> reader;
  std::map<std::string, json> latest;  // instance id -> its latest heartbeat
  std::int64_t read_upto = 0;
  std::shared_ptr<spdlog::logger> log = nf::log::get("cluster");

  impl(bus::event_bus& b, membership_options o) : bus(b), opts(std::move(o)) {}

  const topic_partition tp() const { return {topic_name{kInstancesTopic}, partition_id{0}}; }

  // Reads what is new on platform.instances into `latest`.
  result<void> read_new(ms timeout) {
    NF_TRY_ASSIGN(auto msgs, reader->poll(timeout, 1024));
    for (const auto& m : msgs) {
      read_upto = std::max(read_upto, m.off.get() + 1);
      auto env = event::from_message(m);
      if (!env) continue;
      auto p = event::payload_json(*env);
      if (!p || !p->is_object() || !p->contains("instance")) continue;
      std::lock_guard lk(mu);
      latest[(*p)["instance"].get<std::string>()] = *p;
    }
    return ok();
  }

  result<void> beat(bool leaving = false) {
    json hb = opts.report && !leaving ? opts.report() : json::object();
    if (leaving) hb["left"] = true;
    hb["instance"] = opts.instance_id;
    hb["incarnation"] = incarnation;
    hb["address"] = opts.address;
    hb["startedAt"] = started_at;
    hb["at"] = now_ms();
    hb["periodMs"] = opts.period.count();
    event::new_event ev;
    ev.type = "platform.instance_heartbeat";
    ev.key = opts.instance_id;
    ev.payload_json = hb.dump();
    ev.occurred_at = hb["at"];
    NF_TRY_ASSIGN(auto env, event::build(ev));
    auto rec = event::to_record(env);
    rec.partition = partition_id{0};
    NF_TRY(bus.append(tp().topic, std::span<const bus::record>(&rec, 1)));
    return ok();
  }

  void run() {
    auto next = std::chrono::steady_clock::now();
    while (true) {
      {
        std::unique_lock lk(mu);
        if (stopping) return;
      }
      if (std::chrono::steady_clock::now() >= next) {
        if (auto r = beat(); !r) log->warn("cluster heartbeat failed: {}", describe(r.error()));
        next = std::chrono::steady_clock::now() + opts.period;
        publish();
      }
      if (auto r = read_new(ms(200)); !r) {
        log->warn("reading {} failed: {}", kInstancesTopic, describe(r.error()));
        std::unique_lock lk(mu);
        cv.wait_for(lk, ms(500), [&] { return stopping; });
      }
    }
  }

  bool live(const json& hb, std::int64_t now) const {
    if (hb.value("left", false)) return false;  // stopped cleanly
    const auto period = hb.value("periodMs", std::int64_t{2000});
    return now - hb.value("at", std::int64_t{0}) <= 2 * period + 1000;
  }

  void publish() {
    auto& reg = metrics::registry::global();
    const auto now = now_ms();
    std::lock_guard lk(mu);
    int n = 0;
    for (const auto& [id, hb] : latest) {
      const bool up = live(hb, now);
      n += up;
      reg.get_gauge("nf_cluster_instance_up", "1 when the instance's heartbeat is recent", {{"instance", id}}).set(up ? 1 : 0);
      reg.get_gauge("nf_cluster_instance_lag_events", "Events an instance's read models had not applied, at its last heartbeat", {{"instance", id}})
          .set(static_cast<double>(hb.value("lag", std::int64_t{0})));
    }
    reg.get_gauge("nf_cluster_instances_live", "Instances whose heartbeat is recent").set(n);
  }
};

membership::membership(bus::event_bus& bus, membership_options o) : impl_(std::make_unique<impl>(bus, std::move(o))) {}
membership::~membership() { stop(); }

result<void> membership::start() {
  auto& i = *impl_;
  // Read the heartbeats of the last few periods.
  const auto from_ts = now_ms() - 5 * i.opts.period.count();
  NF_TRY_ASSIGN(auto from, i.bus.offset_for_time(i.tp(), from_ts));
  NF_TRY_ASSIGN(i.reader, i.bus.make_consumer(bus::consumer_options{}));
  NF_TRY(i.reader->assign({{i.tp(), from}}));
  NF_TRY_ASSIGN(auto end, i.bus.end_offset(i.tp()));
  i.read_upto = from.get();
  const auto read_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (i.read_upto < end.get() && std::chrono::steady_clock::now() < read_by) NF_TRY(i.read_new(ms(200)));
  // The same id heard from another incarnation within two periods: wait for it to go quiet (a
  // crashed predecessor), then refuse if it is still there.
  const auto deadline = std::chrono::steady_clock::now() + 3 * i.opts.period;
  for (;;) {
    json other;
    {
      std::lock_guard lk(i.mu);
      auto it = i.latest.find(i.opts.instance_id);
      if (it != i.latest.end() && it->second.value("incarnation", "") != i.incarnation && i.live(it->second, now_ms())) other = it->second;
    }
    if (other.is_null()) break;
    if (std::chrono::steady_clock::now() >= deadline)
      return error{errc::already_exists, "instance id '" + i.opts.instance_id + "' is live at " + other.value("address", std::string("?")) +
                                             " (heard " + std::to_string(now_ms() - other.value("at", std::int64_t{0})) +
                                             " ms ago): give this instance another instance.id, or stop that one"};
    NF_TRY(i.read_new(ms(200)));
  }
  NF_TRY(i.beat());
  i.thread = std::thread([this] { nf::log::guarded("cluster membership", [this] { impl_->run(); }); });
  return ok();
}

void membership::stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->reader->wakeup();
  impl_->thread.join();
  // A clean stop says so: a restart with the same id need not wait for this one to go quiet.
  if (auto r = impl_->beat(true); !r) impl_->log->warn("cannot announce leaving the cluster: {}", describe(r.error()));
}

json membership::status() {
  auto& i = *impl_;
  const auto now = now_ms();
  json instances = json::array();
  json groups = json::object();
  std::lock_guard lk(i.mu);
  for (const auto& [id, hb] : i.latest) {
    const bool up = i.live(hb, now);
    instances.push_back({{"id", id},
                         {"address", hb.value("address", "")},
                         {"live", up},
                         {"lastHeardMsAgo", now - hb.value("at", std::int64_t{0})},
                         {"startedAt", hb.value("startedAt", std::int64_t{0})},
                         {"lag", hb.value("lag", std::int64_t{0})},
                         {"self", id == i.opts.instance_id}});
    if (!up || !hb.contains("actors") || !hb["actors"].is_object()) continue;
    for (const auto& [actor, parts] : hb["actors"].items()) {
      auto& g = groups[actor];
      if (!g.contains("members")) g = json{{"members", json::array()}, {"partitions", json::object()}};
      g["members"].push_back(id);
      g["partitions"][id] = parts;
    }
  }
  return json{{"self", i.opts.instance_id}, {"instances", instances}, {"groups", groups}};
}

}  // namespace nf::feature
