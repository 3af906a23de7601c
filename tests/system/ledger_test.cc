// The evidence ledger through the real binary on 127.0.0.1: vault records, signed heads, proofs
// and precise 4xx over HTTP; `ledger verify` and `replay --verify` on a clean store and on
// stores with one byte changed in a recorded event, in a ledger leaf and in a blob.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "core/base/base64.h"
#include "core/base/hex.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"
#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;
using nf::test::server;
namespace fs = std::filesystem;

const std::string kMission = "01900000-0000-7000-8000-00000000abcd";

std::string write_config(const fs::path& dir, const fs::path& data) {
  const auto path = (dir / ("nf-" + data.filename().string() + ".json")).string();
  std::ofstream(path) << json{{"data_dir", data.string()}, {"ledger", {{"head_every_ms", 50}, {"max_record_bytes", 65536}}}}.dump();
  return path;
}


nf::merkle::hash hash_of(const json& hex) { return nf::merkle::from_hex(hex.get<std::string>()).value(); }

class LedgerSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    config_ = write_config(dir_.path(), data_);
    srv_ = std::make_unique<server>(config_);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port(), t::admin_headers());
  }

  json call(const std::string& method, const std::string& target, const json& body, int expect) {
    auto r = http_->request(method, target, body.is_null() ? "" : body.dump());
    EXPECT_EQ(r.status, expect) << method << " " << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json get(const std::string& target, int expect = 200) { return call("GET", target, nullptr, expect); }

  // A mission with `n` artifacts (uri s3://evidence/marker-<i>) and a validation of each.
  void record_mission(int n) {
    call("POST", "/missions", {{"id", kMission}, {"objective", "audit"}, {"priority", "P1"}, {"originatingSpec", "spec:ledger"}}, 202);
    for (int i = 0; i < n; ++i) {
      call("POST", "/missions/" + kMission + "/artifacts",
           {{"artifactId", "a" + std::to_string(i)},
            {"type", "code"},
            {"uri", "s3://evidence/marker-" + std::to_string(i)},
            {"checksum", "sha256:" + std::string(64, 'b')},
            {"reviewer", "r"}},
           202);
      call("POST", "/missions/" + kMission + "/validations",
           {{"reportId", "r" + std::to_string(i)}, {"artifactId", "a" + std::to_string(i)}, {"suite", "unit"}, {"result", "pass"}, {"coverage", 90}},
           202);
    }
  }

  json wait_head(std::uint64_t size) {
    json head;
    EXPECT_TRUE(t::wait_until([&] {
      auto r = http_->get("/ledger/tree-head");
      head = json::parse(r.body, nullptr, false);
      return r.status == 200 && head["tree_size"].get<std::uint64_t>() >= size;
    }, 15s)) << head.dump();
    return head;
  }

  std::uint64_t index_of_artifact_event(const std::string& artifact_id) {
    // The artifact's own event is the first leaf naming it (its validation follows).
    return get("/ledger/search?artifactId=" + artifact_id)["indices"][0].get<std::uint64_t>();
  }

  t::temp_dir dir_;
  fs::path data_;
  std::string config_;
  std::unique_ptr<server> srv_;
  std::unique_ptr<t::http_client> http_;
};

TEST_F(LedgerSystem, RecordsHeadsAndProofsOverHttp) {
  record_mission(3);
  auto rec = call("POST", "/ledger/record", {{"json", {{"suite", "e2e"}, {"passed", 12}}}, {"kind", "test.report"}, {"missionId", kMission}}, 201);
  const auto blob = nf::to_base64(std::string("\x00\x01binary evidence\xff", 18));
  auto rec2 = call("POST", "/ledger/record", {{"data", blob}, {"kind", "log"}, {"artifactId", "a1"}}, 201);
  EXPECT_EQ(rec2["leaf_index"].get<std::uint64_t>(), rec["leaf_index"].get<std::uint64_t>() + 1);
  const std::uint64_t n = 8;
  auto head = wait_head(n);
  ASSERT_EQ(head["tree_size"], n);

  // The head is signed by the published key.
  auto key = get("/ledger/public-key");
  nf::merkle::tree_head h;
  h.size = n;
  h.root = hash_of(head["root_hash"]);
  h.timestamp_ms = head["timestamp"].get<std::int64_t>();
  h.signature = nf::from_hex(head["signature"].get<std::string>()).value();
  EXPECT_TRUE(nf::merkle::verify_head(h, key["public_key_pem"]).value());
  EXPECT_EQ(head["key_id"], key["key_id"]);

  // Every leaf: entry, inclusion by index and by hash; every consistency pair.
  for (std::uint64_t i = 0; i < n; ++i) {
    auto e = get("/ledger/entries/" + std::to_string(i));
    const auto data = nf::from_base64(e["data"].get<std::string>()).value();
    EXPECT_EQ(nf::merkle::to_hex(nf::merkle::leaf_hash(data)), e["leaf_hash"]);
    for (const auto& target : {"/ledger/proof/inclusion?index=" + std::to_string(i),
                               "/ledger/proof/inclusion?leaf_hash=" + e["leaf_hash"].get<std::string>() + "&tree_size=" + std::to_string(n)}) {
      auto p = get(target);
      std::vector<nf::merkle::hash> path;
      for (const auto& x : p["audit_path"]) path.push_back(hash_of(x));
      EXPECT_EQ(p["leaf_index"], i);
      EXPECT_TRUE(nf::merkle::verify_inclusion(hash_of(e["leaf_hash"]), i, n, path, h.root)) << target;
    }
  }
  for (std::uint64_t first = 1; first <= n; ++first) {
    auto c = get("/ledger/proof/consistency?first=" + std::to_string(first) + "&second=" + std::to_string(n));
    std::vector<nf::merkle::hash> proof;
    for (const auto& x : c["consistency"]) proof.push_back(hash_of(x));
    EXPECT_TRUE(nf::merkle::verify_consistency(first, n, hash_of(c["first_root"]), h.root, proof)) << first;
  }
  EXPECT_EQ(get("/ledger/search?missionId=" + kMission)["indices"].size(), 7u);
  EXPECT_EQ(get("/ledger/search?artifactId=a1")["indices"], json::array({2, 3, 7}));

  // The vault: the record's blob is served verified; uploads must hash to their name.
  auto r = http_->get("/evidence/blobs/" + rec2["sha256"].get<std::string>());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string("\x00\x01binary evidence\xff", 18));
  const std::string content = "artifact content";
  const auto sha = nf::merkle::to_hex(nf::merkle::sha256(content));
  EXPECT_EQ(http_->request("PUT", "/evidence/blobs/" + sha, content, "application/octet-stream").status, 201);
  EXPECT_EQ(http_->request("PUT", "/evidence/blobs/" + sha, content, "application/octet-stream").status, 200);
  auto bad = http_->request("PUT", "/evidence/blobs/" + sha, content + "!", "application/octet-stream");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["code"], "hash_mismatch");

  // Bad input: precise 4xx.
  get("/ledger/entries/99", 404);
  get("/ledger/entries/-1", 400);
  get("/ledger/entries/1x", 400);
  get("/ledger/proof/inclusion?index=0&tree_size=99", 400);
  get("/ledger/proof/inclusion?index=8", 400);
  get("/ledger/proof/inclusion?leaf_hash=xyz", 400);
  get("/ledger/proof/inclusion?leaf_hash=" + std::string(64, '0'), 404);
  get("/ledger/proof/inclusion", 400);
  get("/ledger/proof/consistency?first=5&second=3", 400);
  get("/ledger/proof/consistency?first=0", 400);
  get("/ledger/proof/consistency?first=1&second=99", 400);
  get("/ledger/search", 400);
  get("/evidence/blobs/nothex", 400);
  get("/evidence/blobs/" + std::string(64, 'c'), 404);
  call("POST", "/ledger/record", {{"kind", "x"}}, 400);
  call("POST", "/ledger/record", {{"data", "!!"}, {"kind", "x"}}, 400);
  call("POST", "/ledger/record", {{"data", "aGk="}, {"json", 1}, {"kind", "x"}}, 400);
  call("POST", "/ledger/record", {{"data", "aGk="}, {"kind", "Bad Kind"}}, 400);
  call("POST", "/ledger/record", {{"data", "aGk="}, {"kind", "x"}, {"extra", 1}}, 400);
  call("POST", "/ledger/record", {{"data", nf::to_base64(std::string(70000, 'z'))}, {"kind", "x"}}, 413);
  EXPECT_EQ(http_->request("POST", "/ledger/record", "{", "application/json").status, 400);
  EXPECT_EQ(http_->request("POST", "/ledger/record", "{}", "text/plain").status, 415);
  EXPECT_EQ(http_->request("DELETE", "/ledger/tree-head").status, 405);
  // None of that added a leaf.
  EXPECT_EQ(get("/ledger/entries/8", 404)["error"]["code"], "not_found");
}

// Changes one byte of a value in the embedded bus's RocksDB: the first record whose value
// contains `marker` and, as asked, does or does not contain `ledger_type`.
void flip_in_bus(const fs::path& data, const std::string& marker, bool in_ledger) {
  rocksdb::Options o;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, (data / "bus").string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, (data / "bus").string(), descs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  bool done = false;
  for (auto* cf : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid() && !done; it->Next()) {
      std::string v = it->value().ToString();
      const auto at = v.find(marker);
      if (at == std::string::npos || (v.find("evidence.leaf_appended") != std::string::npos) != in_ledger) continue;
      v[at + marker.size() - 1] ^= 0x01;  // "marker-2" -> "marker-3": still a valid record
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, it->key(), v).ok());
      done = true;
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  ASSERT_TRUE(done) << "no record holds " << marker;
}

json verify(const std::string& config) {
  auto r = t::run({t::nexus_forge_binary(), "ledger", "verify", "--config", config, "--json", "--quiet"});
  auto j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.out << r.err;
  j["exit"] = r.exit_code;
  return j;
}

TEST_F(LedgerSystem, VerifyNamesTheExactIndexOfAChangedEventLeafOrBlob) {
  record_mission(4);
  auto rec = call("POST", "/ledger/record", {{"data", nf::to_base64("vault evidence")}, {"kind", "log"}}, 201);
  const auto rec_index = rec["leaf_index"].get<std::uint64_t>();
  wait_head(rec_index + 1);
  const auto a2 = index_of_artifact_event("a2");
  ASSERT_EQ(srv_->stop(), 0);

  auto clean = verify(config_);
  EXPECT_EQ(clean["exit"], 0) << clean.dump();
  EXPECT_EQ(clean["leaves"], rec_index + 1);
  EXPECT_EQ(clean["signedSize"], rec_index + 1);
  EXPECT_EQ(clean["sourcesChecked"], rec_index + 1);
  auto replay = t::run({t::nexus_forge_binary(), "replay", "--config", config_, "--topic", "mission.*", "--verify", "--quiet", "--json"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.err.find("verify: 8 proved against the latest signed head, 0 recorded after it, 0 failed"), std::string::npos) << replay.err;

  auto copy = [&](const std::string& name) {
    const auto to = dir_.path() / name;
    fs::copy(data_, to, fs::copy_options::recursive);
    return std::make_pair(to, write_config(dir_.path(), to));
  };
  {  // A recorded event changed in its topic.
    auto [data, config] = copy("event");
    flip_in_bus(data, "marker-2", false);
    auto v = verify(config);
    EXPECT_EQ(v["exit"], 1);
    EXPECT_EQ(v["firstBadIndex"], a2) << v.dump();
    EXPECT_NE(v["problems"][0]["message"].get<std::string>().find("differs from the ledger's copy"), std::string::npos) << v.dump();
    auto r = t::run({t::nexus_forge_binary(), "replay", "--config", config, "--topic", "mission.artifacts", "--verify", "--quiet", "--json"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("the event differs from leaf " + std::to_string(a2)), std::string::npos) << r.out;
  }
  {  // A leaf changed in evidence.ledger: its event no longer matches and the signed roots break.
    auto [data, config] = copy("leaf");
    flip_in_bus(data, "marker-2", true);
    auto v = verify(config);
    EXPECT_EQ(v["exit"], 1);
    EXPECT_EQ(v["firstBadIndex"], a2) << v.dump();
    bool head_reported = false;
    for (const auto& p : v["problems"]) head_reported |= p.contains("headSize");
    EXPECT_TRUE(head_reported) << v.dump();
  }
  {  // A vault blob changed on disk.
    auto [data, config] = copy("blob");
    const auto sha = rec["sha256"].get<std::string>();
    const auto path = data / "evidence" / "blobs" / sha.substr(0, 2) / sha;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('#');
    f.close();
    auto v = verify(config);
    EXPECT_EQ(v["exit"], 1);
    EXPECT_EQ(v["firstBadIndex"], rec_index) << v.dump();
  }
}

}  // namespace
