// nexus-forge doctor [--repair] [--json]: what is damaged, and the way back to a consistent node.
#include "apps/nexus-forge/doctor_commands.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/evidence/commands.h"
#include "core/bus/embedded.h"
#include "core/bus/factory.h"
#include "core/projection/projection.h"

namespace nf::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ends_map = std::map<topic_partition, std::int64_t>;

struct finding {
  std::string area;  // bus, projections, ledger
  std::string message;
};

result<ends_map> end_offsets(bus::event_bus& b) {
  ends_map out;
  NF_TRY_ASSIGN(auto topics, b.list_topics());
  for (const auto& t : topics)
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      topic_partition tp{t.name, partition_id{p}};
      NF_TRY_ASSIGN(auto e, b.end_offset(tp));
      out[tp] = e.get();
    }
  return out;
}

// The ends the damaged log shows when damaged records are skipped, read from a copy so the
// original stays as it was: an upper bound of what existed, for the report of what is lost.
result<ends_map> salvage_ends(const bus::embedded_options& base) {
  const auto copy = fs::temp_directory_path() / ("nf-doctor-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(copy, ec);
  fs::copy(base.path, copy, fs::copy_options::recursive, ec);
  if (ec) return error{errc::io_error, "cannot copy '" + base.path + "' to '" + copy.string() + "': " + ec.message()};
  auto o = base;
  o.path = copy.string();
  o.recovery = bus::wal_recovery::skip_damaged;
  o.retention_check_ms = 0;
  result<ends_map> ends = error{errc::internal, "not read"};
  {
    auto b = bus::open_embedded(o);
    ends = b ? end_offsets(**b) : result<ends_map>(b.error());
  }
  fs::remove_all(copy, ec);
  return ends;
}

}  // namespace

int doctor(const doctor_args& a, const config::config& cfg, const std::vector<projection::projection*>& read_models) {
  auto fail = [](const std::string& msg) {
    std::cerr << "error: " << msg << "\n";
    return 2;
  };
  auto say = [&](const std::string& line) {
    if (!a.json) std::cerr << line << "\n";
  };
  const auto started = std::chrono::steady_clock::now();
  std::vector<finding> problems;
  std::vector<std::string> repairs;
  json lost = json::array();
  ends_map seen_ends;   // what the damaged log held (salvaged), when it was repaired
  ends_map repaired_ends;
  const bool embedded = cfg.bus.kind == config::bus_kind::embedded;

  // ---- the bus ----
  say("checking the bus...");
  std::unique_ptr<bus::event_bus> bus;
  if (embedded) {
    auto opts = bus::embedded_options_of(cfg, bus::access::owner);
    opts.retention_check_ms = 0;
    auto opened = bus::open_embedded(opts);
    if (!opened && opened.error().code == errc::locked) return fail(opened.error().message + " (doctor needs the node stopped)");
    if (!opened && opened.error().code == errc::corruption) {
      problems.push_back({"bus", opened.error().message});
      if (a.repair) {
        say("repairing the bus: salvaging a copy to see what the damaged log held...");
        auto salvaged = salvage_ends(opts);
        if (!salvaged) return fail("cannot read the damaged log even skipping damaged records: " + salvaged.error().message);
        seen_ends = *salvaged;
        say("repairing the bus: recovering to the last consistent point...");
        auto pit = opts;
        pit.recovery = bus::wal_recovery::point_in_time;
        {
          auto recovered = bus::open_embedded(pit);
          if (!recovered) return fail("recovery to the last consistent point failed: " + recovered.error().message);
          auto ends = end_offsets(**recovered);
          if (!ends) return fail(ends.error().message);
          repaired_ends = *ends;
          auto clamped = (*recovered)->clamp_committed_offsets();
          if (!clamped) return fail(clamped.error().message);
          for (auto& line : *clamped) repairs.push_back(std::move(line));
        }  // closed (and flushed): the damaged WAL is gone
        repairs.push_back("bus recovered to its last consistent point");
        opened = bus::open_embedded(opts);
        if (!opened) return fail("the repaired bus does not open: " + opened.error().message);
      }
    }
    if (opened) {
      bus = std::move(*opened);
      auto* eb = dynamic_cast<bus::embedded_bus*>(bus.get());
      auto v = eb->verify();
      if (!v) return fail(v.error().message);
      for (auto& p : v->problems) problems.push_back({"bus", std::move(p)});
      say("bus: " + std::to_string(v->records) + " records read back");
    }
  } else {
    auto opened = bus::open_bus(cfg, bus::access::owner);
    if (!opened) return fail(opened.error().message);
    bus = std::move(*opened);
    say("bus: Kafka keeps its own checksums; checking the read models against its end offsets");
  }

  // ---- read models ----
  std::vector<std::string> rebuilt;
  if (bus) {
    say("checking the read models...");
    auto store = projection::store::open({cfg.data_dir + "/projections", false});
    if (!store) return fail(store.error().message + " (doctor needs the node stopped)");
    if (auto v = (*store)->verify_checksums(); !v) problems.push_back({"projections", v.error().message});
    auto ends = end_offsets(*bus);
    if (!ends) return fail(ends.error().message);
    for (auto* p : read_models) {
      if (auto r = (*store)->attach(*p); !r) return fail(r.error().message);
      auto applied = (*store)->last_applied(*p);
      if (!applied) return fail(applied.error().message);
      bool ahead = false;
      for (const auto& [tp, off] : *applied) {
        auto e = ends->find(tp);
        const auto end = e == ends->end() ? 0 : e->second;
        if (off.get() > end) {
          ahead = true;
          problems.push_back({"projections", "projection " + p->name() + " has applied " + to_string(tp) + " up to offset " +
                                                 std::to_string(off.get()) + " but the bus ends at " + std::to_string(end)});
          seen_ends[tp] = std::max(seen_ends[tp], off.get());
        }
      }
      if (ahead && a.repair) {
        say("rebuilding projection " + p->name() + " from the bus...");
        auto last_report = std::chrono::steady_clock::now();
        auto n = (*store)->rebuild(*p, *bus, [&](const projection::rebuild_progress& pr) {
          const auto now = std::chrono::steady_clock::now();
          if (now - last_report < std::chrono::seconds(1)) return;
          last_report = now;
          say("  " + p->name() + ": " + std::to_string(pr.applied) + " / " + std::to_string(pr.total) + " events");
        });
        if (!n) return fail("rebuilding " + p->name() + ": " + n.error().message);
        rebuilt.push_back(p->name());
        repairs.push_back("projection " + p->name() + " rebuilt from " + std::to_string(*n) + " events");
      }
    }
  }

  // What was lost: between the end the repaired log has and the furthest the damaged one held.
  for (const auto& [tp, seen] : seen_ends) {
    auto r = repaired_ends.find(tp);
    const auto kept = r == repaired_ends.end() ? 0 : r->second;
    if (!repaired_ends.empty() && seen > kept)
      lost.push_back({{"topic", tp.topic.get()}, {"partition", tp.partition.get()}, {"from", kept}, {"to", seen}});
  }

  // ---- ledger and vault ----
  std::uint64_t leaves = 0, blobs = 0;
  if (bus) {
    say("checking the evidence ledger and vault...");
    auto key = evidence::verification_key("", cfg);
    if (!key) {
      say("ledger: no signing key in this data directory yet; skipped");
    } else {
      auto checked = evidence::check_ledger(cfg, *bus, *key, false);
      if (!checked) return fail(checked.error().message);
      leaves = checked->audit->leaves;
      blobs = checked->blobs_checked;
      std::size_t n = 0;
      for (const auto& p : checked->audit->problems) {
        if (++n > 20) {
          problems.push_back({"ledger", "... and " + std::to_string(checked->audit->problems_total - 20) + " more"});
          break;
        }
        problems.push_back({"ledger", p.message});
      }
    }
  }

  // Problems the repair resolved no longer count: the bus opens, projections were rebuilt.
  std::vector<finding> remaining;
  for (const auto& p : problems) {
    const bool fixed = a.repair && ((p.area == "bus" && !repaired_ends.empty() && p.message.find("is damaged") != std::string::npos) ||
                                    (p.area == "projections" && p.message.find("has applied") != std::string::npos));
    if (!fixed) remaining.push_back(p);
  }
  const bool ok = remaining.empty();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (a.json) {
    json probs = json::array(), left = json::array();
    for (const auto& p : problems) probs.push_back({{"area", p.area}, {"message", p.message}});
    for (const auto& p : remaining) left.push_back({{"area", p.area}, {"message", p.message}});
    std::cout << json{{"ok", ok},          {"problems", probs}, {"remaining", left},       {"repaired", a.repair},
                      {"repairs", repairs}, {"lost", lost},      {"rebuilt", rebuilt},     {"ledgerLeaves", leaves},
                      {"blobsChecked", blobs}, {"seconds", seconds}}
                     .dump()
              << std::endl;
  } else {
    for (const auto& p : problems) std::cout << "PROBLEM [" << p.area << "] " << p.message << "\n";
    for (const auto& r : repairs) std::cout << "REPAIRED " << r << "\n";
    for (const auto& l : lost)
      std::cout << "LOST " << l["topic"].get<std::string>() << "/" << l["partition"] << " offsets " << l["from"] << ".."
                << l["to"].get<std::int64_t>() - 1 << "\n";
    std::cout << "ledger leaves checked: " << leaves << ", vault blobs checked: " << blobs << "\n";
    if (ok) std::cout << (a.repair && !repairs.empty() ? "OK after repair\n" : "OK: nothing is damaged\n");
    else
      std::cout << "FAILED: " << remaining.size() << " problem(s)"
                << (a.repair ? "" : "; 'doctor --repair' recovers the bus to its last consistent point and rebuilds read models that are ahead of it")
                << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace nf::cli
