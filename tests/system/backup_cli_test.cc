// Backup and restore through the real binary: a running server with a tenant, missions with
// ledger entries and a stream of produced events is backed up while writes continue; writing
// goes on; the backup is restored into a fresh data dir, where a server starts, every event
// acknowledged before the backup began is there, `ledger verify` passes and every read model's
// digest equals a rebuild from the restored log. A second backup copies only what is new; bad
// directories, a damaged file and a restore over live or non-empty data are refused precisely.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
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
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string write_config(const fs::path& dir, const fs::path& data) {
  const auto path = (dir / ("nf-" + data.filename().string() + ".json")).string();
  std::ofstream(path) << json{{"data_dir", data.string()}, {"ledger", {{"head_every_ms", 50}}}}.dump();
  return path;
}

std::uint64_t dir_bytes(const fs::path& p) {
  std::uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

std::string uuid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-8000-%012d", i);
  return buf;
}

TEST(BackupCli, ABackupTakenWhileWritingRestoresEveryAcknowledgedWriteAndAVerifiableLedger) {
  t::temp_dir dir;
  const auto data = dir.path() / "data";
  const auto restored = dir.path() / "restored";
  const auto backups = dir.path() / "backups";
  const auto config = write_config(dir.path(), data);
  const auto restored_config = write_config(dir.path(), restored);
  const std::vector<std::string> env{std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir.path() / "state").string()};
  const std::string mission = "01900000-0000-7000-8000-00000000beef";

  std::set<std::string> acked_before;  // events acknowledged before the backup began
  {
    t::server srv(config);
    const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
    t::http_client http("127.0.0.1", srv.port(), t::admin_headers());
    ASSERT_EQ(http.post("/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
    ASSERT_EQ(http.post("/topics", R"({"name":"orders","partitions":3,"acceptUnknownTypes":true})").status, 201);
    ASSERT_EQ(http.post("/missions", json{{"id", mission}, {"objective", "o"}, {"priority", "P1"}, {"originatingSpec", "spec:x"}}.dump()).status, 202);
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(http.post("/missions/" + mission + "/artifacts", json{{"artifactId", "a" + std::to_string(i)},
                                                                      {"type", "code"},
                                                                      {"uri", "s3://evidence/" + std::to_string(i)},
                                                                      {"checksum", "sha256:" + std::string(64, 'c')},
                                                                      {"reviewer", "r"}}
                                                                     .dump())
                    .status,
                202);
    }
    // A writer that keeps producing until told to stop; each acknowledged id is remembered.
    std::mutex mu;
    std::vector<std::string> acked;
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::thread writer([&] {
      t::http_client w("127.0.0.1", srv.port(), t::admin_headers());
      const std::string pad(1000, 'x');  // a few MB in all, so that table files dominate a backup
      for (int i = 0; !stop; i += 20) {
        json batch{{"events", json::array()}};
        std::vector<std::string> ids;
        for (int j = i; j < i + 20; ++j) {
          ids.push_back(uuid(j));
          batch["events"].push_back({{"type", "order.placed"}, {"key", "o-" + std::to_string(j % 17)}, {"id", ids.back()},
                                     {"payload", {{"n", j}, {"pad", pad}}}});
        }
        auto r = w.post("/topics/orders/events", batch.dump());
        if (r.status != 201) {
          ++failures;
          continue;
        }
        std::lock_guard lk(mu);
        acked.insert(acked.end(), ids.begin(), ids.end());
      }
    });
    ASSERT_TRUE(t::wait_until([&] {
      std::lock_guard lk(mu);
      return acked.size() >= 3000;
    }, 30s));
    {
      std::lock_guard lk(mu);
      acked_before.insert(acked.begin(), acked.end());
    }
    auto made = t::run({t::nexus_forge_binary(), "backup", "create", backups.string(), "--server", url, "--json"}, env);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    EXPECT_NE(made.err.find("backing up"), std::string::npos) << made.err;  // progress on stderr
    const auto m = json::parse(made.out);
    EXPECT_EQ(m["id"], 1);
    EXPECT_FALSE(m["bus"].is_null());
    EXPECT_GT(m["fileCount"].get<std::uint64_t>(), 3u);
    // Writing goes on after the backup.
    const auto at_backup = acked_before.size();
    ASSERT_TRUE(t::wait_until([&] {
      std::lock_guard lk(mu);
      return acked.size() >= at_backup + 1000;
    }, 30s));
    stop = true;
    writer.join();
    EXPECT_EQ(failures.load(), 0);
    // The data dir of a running server is not backed up offline: the way out is named.
    auto offline = t::run({t::nexus_forge_binary(), "backup", "create", (dir.path() / "other").string(), "--config", config});
    EXPECT_NE(offline.exit_code, 0);
    EXPECT_NE(offline.err.find("--server"), std::string::npos) << offline.err;
    // Nor restored over.
    auto over = t::run({t::nexus_forge_binary(), "restore", backups.string(), "--data-dir", data.string(), "--force"});
    EXPECT_NE(over.exit_code, 0);
    EXPECT_NE(over.err.find("running server"), std::string::npos) << over.err;
  }

  auto listed = t::run({t::nexus_forge_binary(), "backup", "list", backups.string(), "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_EQ(json::parse(listed.out).size(), 1u);  // backups 2 and 3 are taken below
  auto verified = t::run({t::nexus_forge_binary(), "backup", "verify", backups.string(), "--json"});
  ASSERT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_EQ(json::parse(verified.out)["ok"], true);

  // Incremental: after a backup of the stopped data dir (its stores flushed into table files), one
  // more event and another backup copy only what is new.
  auto second = t::run({t::nexus_forge_binary(), "backup", "create", backups.string(), "--config", config, "--json", "-q"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(json::parse(second.out)["id"], 2);
  const auto second_bytes = json::parse(second.out)["bytes"].get<std::uint64_t>();
  ASSERT_EQ(t::run({t::nexus_forge_binary(), "produce", "--config", config, "--topic", "orders", "--key", "late", "--type", "order.placed",
                    "--json", R"({"n":-1})"})
                .exit_code,
            0);
  const auto before_third = dir_bytes(backups);
  auto third = t::run({t::nexus_forge_binary(), "backup", "create", backups.string(), "--config", config, "--json", "-q"});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  const auto grew = dir_bytes(backups) - before_third;
  EXPECT_LT(grew, second_bytes / 4) << "the third backup copied " << grew << " bytes; the second held " << second_bytes;

  // Restore backup 1 into a fresh directory, then into it again only with --force.
  auto restore = t::run({t::nexus_forge_binary(), "restore", backups.string(), "1", "--data-dir", restored.string()});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_NE(restore.out.find("restored backup 1"), std::string::npos) << restore.out;
  auto again = t::run({t::nexus_forge_binary(), "restore", backups.string(), "1", "--data-dir", restored.string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("not empty"), std::string::npos) << again.err;
  ASSERT_EQ(t::run({t::nexus_forge_binary(), "restore", backups.string(), "1", "--data-dir", restored.string(), "--force", "-q"}).exit_code, 0);

  {
    t::server srv(restored_config);
    t::http_client http("127.0.0.1", srv.port(), t::admin_headers());
    EXPECT_EQ(http.get("/tenants/acme").status, 200);
    EXPECT_EQ(http.get("/missions/" + mission).status, 200);
  }
  // Every event acknowledged before the backup began is in the restored log.
  auto events = t::run({t::nexus_forge_binary(), "consume", "--config", restored_config, "--topic", "orders", "--from", "earliest"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  std::set<std::string> found;
  std::istringstream lines(events.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("id")) found.insert(j["id"].get<std::string>());
  }
  for (const auto& id : acked_before) EXPECT_TRUE(found.count(id)) << "event " << id << " was acknowledged before the backup, and is lost";
  auto ledger = t::run({t::nexus_forge_binary(), "ledger", "verify", "--config", restored_config});
  EXPECT_EQ(ledger.exit_code, 0) << ledger.out << ledger.err;
  // Every read model equals a rebuild from the restored log.
  auto rebuilt = t::run({t::nexus_forge_binary(), "rebuild", "--all", "--config", restored_config, "--json", "-q"});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  for (const auto& r : json::parse(rebuilt.out)) EXPECT_EQ(r["oldDigest"], r["newDigest"]) << r.dump();
}

// A backup killed at any point leaves no backup that lists or restores half-made, and the next
// one into the same directory succeeds, verifies and restores every event.
TEST(BackupCli, AKilledBackupLeavesNothingHalfMadeAndTheNextOneSucceeds) {
  t::temp_dir dir;
  const auto data = dir.path() / "data";
  const auto config = write_config(dir.path(), data);
  const auto backups = dir.path() / "backups";
  const std::vector<std::string> env{std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir.path() / "state").string()};
  constexpr int kEvents = 20'000;
  {
    t::server srv(config);
    const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
    t::http_client http("127.0.0.1", srv.port(), t::admin_headers());
    ASSERT_EQ(http.post("/topics", R"({"name":"orders","partitions":2,"acceptUnknownTypes":true})").status, 201);
    const auto file = (dir.path() / "events.ndjson").string();
    {
      std::ofstream out(file);
      for (int i = 0; i < kEvents; ++i)
        out << json{{"type", "order.placed"}, {"key", "k" + std::to_string(i % 50)}, {"payload", {{"n", i}, {"pad", std::string(1000, 'p')}}}}.dump()
            << "\n";
    }
    auto produced = t::run({t::nexus_forge_binary(), "produce", "--server", url, "--topic", "orders", "--file", file, "--batch", "500", "-q"}, env,
                           std::chrono::seconds(300));
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    // The server killed while it backs itself up: it starts again, its data untouched.
    ASSERT_EQ(http.post("/backups", json{{"dir", backups.string()}}.dump()).status, 202);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    srv.proc().signal(SIGKILL);
    srv.proc().wait();
  }
  // The offline form killed as it reports each step (its progress line on stderr): in the middle
  // of the read models' copy, and of the bus's. Nothing of either is listed afterwards.
  // A backup that outran its kill finished whole and is listed; every killed one left nothing.
  std::size_t finished = 0, killed_in_bus = 0;
  for (const char* step : {"projections", "bus", "bus", "bus"}) {
    t::child c({t::nexus_forge_binary(), "backup", "create", backups.string(), "--config", config});
    const std::string line = std::string("backing up ") + step;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (c.stderr_text().find(line) == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    c.signal(SIGKILL);
    const int code = c.wait();
    if (code == 0) ++finished;
    else if (std::string(step) == "bus") ++killed_in_bus;
    ASSERT_TRUE(code == 0 || code == 128 + SIGKILL) << code << ": " << c.stderr_text();
    auto listed = t::run({t::nexus_forge_binary(), "backup", "list", backups.string(), "--json"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_EQ(json::parse(listed.out).size(), finished) << step << ": " << listed.out;
  }
  EXPECT_GE(killed_in_bus, 1u) << "no kill landed while the bus was copied";
  auto made = t::run({t::nexus_forge_binary(), "backup", "create", backups.string(), "--config", config, "--json", "-q"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto id = json::parse(made.out)["id"].get<int>();
  // What the killed backups wrote of the stores is gone: each store holds the finished backups only.
  for (const char* store : {"projections", "bus"}) {
    std::size_t kept = 0;
    for (const auto& e : fs::directory_iterator(backups / store / "meta"))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') ++kept;
    EXPECT_EQ(kept, finished + 1) << store;
  }
  auto verified = t::run({t::nexus_forge_binary(), "backup", "verify", backups.string(), std::to_string(id)});
  ASSERT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  const auto restored = dir.path() / "restored";
  ASSERT_EQ(t::run({t::nexus_forge_binary(), "restore", backups.string(), std::to_string(id), "--data-dir", restored.string(), "-q"}).exit_code, 0);
  auto events = t::run({t::nexus_forge_binary(), "consume", "--config", write_config(dir.path(), restored), "--topic", "orders"}, {},
                       std::chrono::seconds(120));
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_EQ(std::count(events.out.begin(), events.out.end(), '\n'), kEvents);
}

TEST(BackupCli, BadDirectoriesAndDamagedFilesAreRefusedPrecisely) {
  t::temp_dir dir;
  const auto data = dir.path() / "data";
  const auto config = write_config(dir.path(), data);
  const auto backups = dir.path() / "backups";
  {
    t::server srv(config);  // makes the data dir: keys, instance files, stores
  }
  ASSERT_EQ(t::run({t::nexus_forge_binary(), "backup", "create", backups.string(), "--config", config, "-q"}).exit_code, 0);

  // Not a backup directory.
  fs::create_directories(dir.path() / "plain");
  std::ofstream(dir.path() / "plain" / "notes.txt") << "hello";
  for (const char* cmd : {"list", "verify"}) {
    auto r = t::run({t::nexus_forge_binary(), "backup", cmd, (dir.path() / "plain").string()});
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.err.find("not a nexus-forge backup directory"), std::string::npos) << cmd << ": " << r.err;
  }
  auto into_plain = t::run({t::nexus_forge_binary(), "backup", "create", (dir.path() / "plain").string(), "--config", config});
  EXPECT_NE(into_plain.exit_code, 0);
  EXPECT_NE(into_plain.err.find("not a nexus-forge backup directory"), std::string::npos) << into_plain.err;
  auto unknown = t::run({t::nexus_forge_binary(), "backup", "verify", backups.string(), "7"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no backup 7"), std::string::npos) << unknown.err;

  // One byte changed in a stored file: verify names it and exits 1; restore refuses and writes nothing.
  auto m = json::parse(t::run({t::nexus_forge_binary(), "backup", "list", backups.string(), "--json"}).out)[0];
  ASSERT_FALSE(m["files"].empty()) << m.dump();
  const auto victim = m["files"][0];
  const auto stored = backups / "files" / victim["sha256"].get<std::string>();
  {
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    char c = 0;
    f.read(&c, 1);
    f.seekp(0);
    c = static_cast<char>(c ^ 0x20);
    f.write(&c, 1);
  }
  auto damaged = t::run({t::nexus_forge_binary(), "backup", "verify", backups.string()});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.out << damaged.err;
  EXPECT_NE(damaged.out.find(victim["path"].get<std::string>()), std::string::npos) << damaged.out;
  EXPECT_NE(damaged.out.find("fails its checksum"), std::string::npos) << damaged.out;
  auto refused = t::run({t::nexus_forge_binary(), "restore", backups.string(), "--data-dir", (dir.path() / "fresh").string()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("fails its checksum"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir.path() / "fresh" / "bus"));
}

}  // namespace
