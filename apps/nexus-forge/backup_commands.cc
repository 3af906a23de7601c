#include "apps/nexus-forge/backup_commands.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/bus/factory.h"
#include "core/feature/backup.h"
#include "core/http/client.h"
#include "core/projection/projection.h"

namespace nf::cli {

namespace {

namespace client = http::client;
using json = nlohmann::json;

std::string human(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// One progress line on stderr, redrawn at most every 200 ms.
class progress_line {
 public:
  progress_line(bool quiet, std::string verb) : quiet_(quiet), verb_(std::move(verb)) {}
  void operator()(const feature::backup_progress& p) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    if (p.step == step_ && now - last_ < std::chrono::milliseconds(200) && (p.files_total == 0 || p.files < p.files_total)) return;
    last_ = now;
    if (p.step != step_ && !step_.empty()) std::cerr << "\n";
    step_ = p.step;
    std::cerr << "\r" << verb_ << " " << p.step << ": " << human(p.bytes);
    if (p.files_total > 0) std::cerr << ", " << p.files << "/" << p.files_total << " files";
    std::cerr << "        " << std::flush;
  }
  void end() {
    if (!quiet_ && !step_.empty()) std::cerr << "\n";
  }

 private:
  bool quiet_;
  std::string verb_, step_;
  std::chrono::steady_clock::time_point last_{};
};

int fail(const error& e) {
  std::cerr << "error: " << e.message << "\n";
  return 2;
}

void print_manifest(const json& m) {
  std::cout << "backup " << m.value("id", 0) << "\t" << m.value("createdAt", std::int64_t{0}) << "\t" << human(m.value("bytes", std::uint64_t{0}))
            << " in " << m.value("fileCount", std::uint64_t{0}) << " files\tbus=" << (m["bus"].is_null() ? m.value("busKind", "") + " (not in the backup)" : "embedded")
            << "\n";
}

}  // namespace

int backup_create(const backup_args& a, const config::config* cfg) {
  json manifest;
  const auto started = std::chrono::steady_clock::now();
  progress_line line(a.quiet, "backing up");
  if (!a.server.empty()) {
    std::error_code ec;
    const auto dir = std::filesystem::absolute(a.dir, ec).string();
    std::string err;
    auto r = client::call(a.server, http::verb::post, "/backups", json{{"dir", dir}}.dump(), err, client::key_or_env(a.key));
    if (!r) return client::fail(err);
    if (r->status != 202) return client::api_error(*r);
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto g = client::call(a.server, http::verb::get, "/backups/current", "", err, client::key_or_env(a.key));
      if (!g) return client::fail(err);
      if (g->status != 200) return client::api_error(*g);
      auto j = json::parse(g->body, nullptr, false);
      if (!j.is_object()) return client::fail("the server's /backups/current answer is not JSON");
      const auto state = j.value("state", "");
      line({j.value("step", ""), j.value("bytes", std::uint64_t{0}), j.value("files", std::uint64_t{0}), j.value("filesTotal", std::uint64_t{0})});
      if (state == "failed") {
        line.end();
        return client::fail("the backup failed: " + j.value("error", ""));
      }
      if (state == "done") {
        manifest = j["manifest"];
        break;
      }
    }
  } else {
    if (!cfg) return client::fail("give --config or --server");
    // The stores are opened as their owner: refused while a server runs (it backs itself up).
    auto b = bus::open_bus(*cfg, bus::access::owner);
    if (!b) return fail({b.error().code, b.error().message + " (a running server backs itself up: give --server URL)"});
    auto st = projection::store::open({cfg->data_dir + "/projections", false});
    if (!st) return fail({st.error().code, st.error().message + " (a running server backs itself up: give --server URL)"});
    auto m = feature::create_backup({**st, **b, cfg->data_dir}, a.dir, system_clock::instance(), std::ref(line));
    if (!m) {
      line.end();
      return fail(m.error());
    }
    manifest = std::move(*m);
  }
  line.end();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (a.json) {
    manifest["seconds"] = secs;
    std::cout << manifest.dump() << "\n";
  } else {
    std::cout << "backup " << manifest.value("id", 0) << " in " << a.dir << ": " << human(manifest.value("bytes", std::uint64_t{0})) << " in "
              << manifest.value("fileCount", std::uint64_t{0}) << " files (" << human(manifest.value("filesCopiedBytes", std::uint64_t{0}))
              << " of instance files new), " << secs << " s\n";
  }
  return 0;
}

int backup_list(const backup_args& a) {
  auto all = feature::list_backups(a.dir);
  if (!all) return fail(all.error());
  if (a.json) {
    std::cout << json(*all).dump() << "\n";
    return 0;
  }
  if (all->empty()) std::cout << "no finished backup in " << a.dir << "\n";
  for (const auto& m : *all) print_manifest(m);
  return 0;
}

int backup_verify(const backup_args& a) {
  progress_line line(a.quiet, "verifying");
  auto r = feature::verify_backup(a.dir, a.id, std::ref(line));
  line.end();
  if (!r) return fail(r.error());
  if (a.json) std::cout << r->dump() << "\n";
  else if (r->value("ok", false))
    std::cout << "backup " << (*r)["id"] << " is intact: " << (*r)["filesChecked"] << " instance files and both stores' files match their checksums\n";
  else {
    std::cout << "backup " << (*r)["id"] << " is damaged:\n";
    for (const auto& p : (*r)["problems"]) std::cout << "  " << p.get<std::string>() << "\n";
  }
  return r->value("ok", false) ? 0 : 1;
}

int backup_restore(const backup_args& a) {
  progress_line line(a.quiet, "restoring");
  auto r = feature::restore_backup(a.dir, a.id, a.data_dir, a.force, std::ref(line));
  line.end();
  if (!r) return fail(r.error());
  if (a.json) std::cout << r->dump() << "\n";
  else
    std::cout << "restored backup " << (*r)["id"] << " into " << a.data_dir << ": " << human((*r)["bytes"].get<std::uint64_t>()) << " in "
              << (*r)["fileCount"] << " files\n";
  return 0;
}

}  // namespace nf::cli
