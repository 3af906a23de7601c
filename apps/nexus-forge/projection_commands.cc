#include "apps/nexus-forge/projection_commands.h"

#include <chrono>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/bus/factory.h"
#include "core/feature/projections.h"
#include "core/http/client.h"

namespace nf::cli {

namespace {

namespace client = http::client;
using json = nlohmann::json;

void print_projection(const json& p) {
  std::cout << p.value("name", "") << "\tgeneration=" << p.value("generation", 0) << "\tlag=" << p.value("lagEvents", 0) << " events";
  if (p.value("lagMs", std::int64_t{0}) > 0) std::cout << " (" << p.value("lagMs", std::int64_t{0}) << " ms)";
  if (p.contains("rebuild") && p["rebuild"].value("state", "idle") != "idle") std::cout << "\trebuild=" << p["rebuild"].value("state", "");
  if (p.contains("digest")) std::cout << "\tdigest=" << p.value("digest", "");
  std::cout << "\n";
}

void print_rebuilt(const json& r) {
  std::cout << "rebuilt " << r.value("name", "") << ": generation " << r.value("fromGeneration", 0) << " -> " << r.value("toGeneration", 0)
            << ", " << r.value("events", std::uint64_t{0}) << " events in " << r.value("seconds", 0.0) << " s, digest "
            << r.value("oldDigest", "").substr(0, 16) << (r.value("oldDigest", "") == r.value("newDigest", "") ? " (unchanged)" : " -> " + r.value("newDigest", "").substr(0, 16))
            << "\n";
}

void progress_line(bool quiet, const std::string& name, std::uint64_t applied, std::uint64_t total, double rate) {
  if (quiet) return;
  std::cerr << "\rrebuilding " << name << ": " << applied << "/" << total << " events";
  if (rate > 0) {
    std::cerr << " (" << static_cast<std::int64_t>(rate) << "/s";
    if (total > applied) std::cerr << ", ETA " << static_cast<std::int64_t>(static_cast<double>(total - applied) / rate) << " s";
    std::cerr << ")";
  }
  std::cerr << std::flush;
}

struct opened {
  std::unique_ptr<bus::event_bus> bus;
  std::unique_ptr<projection::store> store;
};

// The bus read-only and the store for writing: refused while a server owns the data directory.
result<opened> open_offline(const config::config& cfg, const std::vector<projection::projection*>& all) {
  opened o;
  NF_TRY_ASSIGN(o.bus, bus::open_bus(cfg, bus::access::read_only));
  auto st = projection::store::open({cfg.data_dir + "/projections", false});
  if (!st)
    return error{st.error().code, st.error().message + " (a running server owns the read models: give --server URL to go through it)"};
  o.store = std::move(*st);
  for (auto* p : all) NF_TRY(o.store->attach(*p));
  return o;
}

int fail(const error& e) {
  std::cerr << "error: " << e.message << "\n";
  return 2;
}

std::vector<std::string> names_of(const projections_args& a, const std::vector<projection::projection*>& all, int& rc) {
  std::vector<std::string> names;
  if (a.all) {
    if (!a.name.empty()) {
      rc = client::fail("give a projection or --all, not both");
      return {};
    }
    for (auto* p : all) names.push_back(p->name());
    return names;
  }
  if (a.name.empty()) {
    rc = client::fail("give a projection to rebuild, or --all");
    return {};
  }
  bool known = false;
  std::string list;
  for (auto* p : all) {
    known = known || p->name() == a.name;
    list += (list.empty() ? "" : ", ") + p->name();
  }
  if (!known) {
    rc = client::fail("no projection '" + a.name + "' (there are: " + list + ")");
    return {};
  }
  return {a.name};
}

}  // namespace

int projections(const projections_args& a, const config::config* cfg, const std::vector<projection::projection*>& all) {
  json list = json::array();
  if (!a.server.empty()) {
    std::string err;
    auto r = client::call(a.server, http::verb::get, std::string("/projections") + (a.digest ? "?digest=true" : ""), "", err,
                          client::key_or_env(a.key));
    if (!r) return client::fail(err);
    if (r->status != 200) return client::api_error(*r);
    auto j = json::parse(r->body, nullptr, false);
    if (!j.is_object()) return client::fail("the server's /projections answer is not JSON");
    list = j["projections"];
  } else {
    if (!cfg) return client::fail("give --config or --server");
    auto o = open_offline(*cfg, all);
    if (!o) return fail(o.error());
    for (auto* p : all) {
      // Digests read every key: say how far along each is.
      bool told = false;
      auto d = feature::describe_projection(*o->store, *o->bus, *p, a.digest, system_clock::instance(), [&](std::uint64_t keys) {
        if (a.quiet) return;
        std::cerr << "\rdigest of " << p->name() << ": " << keys << " keys read" << std::flush;
        told = true;
      });
      if (told) std::cerr << "\n";
      if (!d) return fail(d.error());
      list.push_back(std::move(*d));
    }
  }
  if (a.json) std::cout << list.dump() << "\n";
  else
    for (const auto& p : list) print_projection(p);
  return 0;
}

int rebuild(const projections_args& a, const config::config* cfg, const std::vector<projection::projection*>& all) {
  int rc = 0;
  const auto names = names_of(a, all, rc);
  if (names.empty()) return rc;
  json reports = json::array();
  if (!a.server.empty()) {
    for (const auto& name : names) {
      std::string err;
      const auto started = std::chrono::steady_clock::now();
      auto r = client::call(a.server, http::verb::post, "/projections/" + http::url_encode(name) + "/rebuild", "", err, client::key_or_env(a.key));
      if (!r) return client::fail(err);
      if (r->status != 202) return client::api_error(*r);
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        auto g = client::call(a.server, http::verb::get, "/projections/" + http::url_encode(name), "", err, client::key_or_env(a.key));
        if (!g) return client::fail(err);
        if (g->status != 200) return client::api_error(*g);
        auto j = json::parse(g->body, nullptr, false);
        const auto& rb = j["rebuild"];
        const auto state = rb.value("state", "");
        progress_line(a.quiet, name, rb.value("applied", std::uint64_t{0}), rb.value("total", std::uint64_t{0}), rb.value("eventsPerSecond", 0.0));
        if (state == "failed") {
          if (!a.quiet) std::cerr << "\n";
          return client::fail("the rebuild of " + name + " failed: " + rb.value("error", "") + " (the old generation stays in use)");
        }
        if (state != "done") continue;
        if (!a.quiet) std::cerr << "\n";
        reports.push_back({{"name", name},
                           {"fromGeneration", rb.value("fromGeneration", 0)},
                           {"toGeneration", rb.value("toGeneration", 0)},
                           {"events", rb.value("applied", std::uint64_t{0})},
                           {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()},
                           {"oldDigest", rb.value("oldDigest", "")},
                           {"newDigest", rb.value("newDigest", "")}});
        break;
      }
    }
  } else {
    if (!cfg) return client::fail("give --config or --server");
    auto o = open_offline(*cfg, all);
    if (!o) return fail(o.error());
    for (const auto& name : names) {
      projection::projection* p = nullptr;
      for (auto* x : all)
        if (x->name() == name) p = x;
      const auto started = std::chrono::steady_clock::now();
      auto from = o->store->generation(*p);
      auto before = o->store->digest(*p);
      if (!from || !before) return fail(!from ? from.error() : before.error());
      auto last = std::chrono::steady_clock::time_point{};
      auto n = o->store->rebuild(*p, *o->bus, [&](const projection::rebuild_progress& pr) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(200) && pr.applied < pr.total) return;
        last = now;
        const double secs = std::chrono::duration<double>(now - started).count();
        progress_line(a.quiet, name, pr.applied, pr.total, secs > 0 ? static_cast<double>(pr.applied) / secs : 0);
      });
      if (!a.quiet) std::cerr << "\n";
      if (!n) return fail(n.error());
      auto after = o->store->digest(*p);
      auto to = o->store->generation(*p);
      if (!after || !to) return fail(!after ? after.error() : to.error());
      reports.push_back({{"name", name},
                         {"fromGeneration", *from},
                         {"toGeneration", *to},
                         {"events", *n},
                         {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()},
                         {"oldDigest", *before},
                         {"newDigest", *after}});
    }
  }
  if (a.json) std::cout << (a.all ? reports : reports[0]).dump() << "\n";
  else
    for (const auto& r : reports) print_rebuilt(r);
  return 0;
}

}  // namespace nf::cli
