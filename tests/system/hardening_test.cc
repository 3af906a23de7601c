// Each failure found by attacking the running server, as a regression test against the real
// binary on 127.0.0.1: single requests that stopped the process, 500s for bad input, shutdown
// with subscribers, damaged WALs, a full disk, and four tenant-isolation leaks.
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "tests/support/http_client.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;
namespace fs = std::filesystem;
using nf::test::server;
using nf::test::uuid;

std::string b64url(const std::string& s) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(a[(v >> k) & 63]);
  }
  if (i + 1 == s.size()) {
    const unsigned v = static_cast<unsigned char>(s[i]) << 16;
    out.push_back(a[(v >> 18) & 63]);
    out.push_back(a[(v >> 12) & 63]);
  } else if (i + 2 == s.size()) {
    const unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    for (int k = 18; k >= 6; k -= 6) out.push_back(a[(v >> k) & 63]);
  }
  return out;
}

// A token whose header is `header` (the signature does not matter: the header is read first).
std::string token_with_header(const std::string& header) { return b64url(header) + ".e30.eA"; }

json prompt(int n, const std::string& text = "objective") {
  return {{"id", uuid(n)}, {"objective", text}, {"priority", "P1"}, {"originatingSpec", "https://spec/" + std::to_string(n)}};
}

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    key_.reset(new t::signer_key{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "idp"});
    const auto jwks = (dir_.path() / "jwks.json").string();
    std::ofstream(jwks) << json{{"keys", {key_->jwk()}}}.dump();
    config_ = (dir_.path() / "nf.json").string();
    write_config({});
    start();
  }
  void write_config(const json& extra) {
    json c{{"data_dir", (dir_.path() / "data").string()},
           {"ledger", {{"head_every_ms", 50}}},
           {"auth", {{"jwks_file", (dir_.path() / "jwks.json").string()}, {"jwt_issuer", "https://idp.test"}, {"base_domain", "nexus.test"}}}};
    if (extra.is_object()) c.merge_patch(extra);
    std::ofstream(config_) << c.dump();
  }
  void start() {
    srv_ = std::make_unique<server>(config_);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  }
  t::http_reply call(const std::string& method, const std::string& target, const std::string& key, const std::string& body = "",
                     t::header_map extra = {}) {
    if (!key.empty()) extra["Authorization"] = "Bearer " + key;
    return http_->request(method, target, body, "application/json", true, extra);
  }
  t::http_reply call(const std::string& method, const std::string& target, const std::string& key, const json& body) {
    return call(method, target, key, body.dump());
  }
  json expect(const t::http_reply& r, int status, const std::string& what = "") {
    EXPECT_EQ(r.status, status) << what << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // 400 naming `field`.
  void expect_400(const t::http_reply& r, const std::string& field, const std::string& what) {
    auto j = expect(r, 400, what);
    EXPECT_EQ(j["error"].value("field", ""), field) << what << " " << r.body;
  }
  bool healthy() {
    t::http_client probe("127.0.0.1", srv_->port());
    return probe.get("/healthz").status == 200;
  }
  // The server keeps answering for `d` (a crash on a background thread shows within it).
  bool stays_up(std::chrono::milliseconds d = 500ms) { return !t::wait_until([&] { return !healthy(); }, d); }
  std::string make_tenant(const std::string& id, const std::string& role = "owner") {
    call("POST", "/tenants", t::kAdminKey, json{{"id", id}, {"name", id}, {"plan", "basic"}});
    return expect(call("POST", "/tenants/" + id + "/keys", t::kAdminKey, json{{"role", role}}), 201)["key"].get<std::string>();
  }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<t::signer_key> key_;
  std::unique_ptr<server> srv_;
  std::unique_ptr<t::http_client> http_;
};

// ---- 1. invalid UTF-8 ----

TEST_F(Hardening, InvalidUtf8InPathQueryOrHeaderIsRefusedAndNeverStopsTheServer) {
  const auto viewer = make_tenant("acme", "viewer");
  expect_400(call("GET", "/agents/%ff", viewer), "path", "invalid UTF-8 in the path");
  EXPECT_TRUE(stays_up()) << "the audit writer must not die on the record of that request";
  expect_400(call("GET", "/missions?status=%fe%ff", viewer), "status", "invalid UTF-8 in a query value");
  expect_400(call("GET", "/missions", viewer, "", {{"X-Note", "\xff\xfe"}}), "X-Note", "invalid UTF-8 in a header");
  expect_400(call("GET", "/missions/%c0%af", viewer), "path", "an overlong encoding");
  expect_400(call("GET", "/subscribe?topics=mission.*&x=%ff", viewer), "x", "invalid UTF-8 on the stream route");
  EXPECT_TRUE(stays_up());
  // Valid UTF-8 still works, and the audit keeps recording.
  expect(call("GET", "/agents/%C3%A9t%C3%A9", viewer), 404, "valid UTF-8 in the path");
  expect(call("GET", "/missions", viewer), 200);
  EXPECT_TRUE(stays_up());
}

// ---- 2. deep JSON ----

TEST_F(Hardening, JsonNestedBeyondTheLimitIsRefusedNamingItOnEveryJsonRoute) {
  const auto owner = make_tenant("acme");
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  struct route {
    std::string method, target, body;
  };
  const std::vector<route> routes{
      {"POST", "/ledger/record", R"({"kind":"k","json":)" + deep + "}"},
      {"POST", "/missions", R"({"id":"x","objective":)" + deep + "}"},
      {"POST", "/missions/" + uuid(1) + "/artifacts", R"({"artifactId":)" + deep + "}"},
      {"POST", "/agents/lifecycle", deep},
      {"POST", "/tenants/acme/keys", R"({"role":)" + deep + "}"},
      {"POST", "/tenants/acme/roles", R"({"name":"r","permissions":)" + deep + "}"},
      {"PATCH", "/tenants/acme", R"({"domains":)" + deep + "}"},
  };
  for (const auto& r : routes) {
    auto reply = call(r.method, r.target, owner, r.body);
    auto j = expect(reply, 400, r.target);
    EXPECT_EQ(j["error"].value("code", ""), "nesting_too_deep") << r.target << " " << reply.body.substr(0, 200);
  }
  // 64 levels are fine (an object of that depth is still a valid record).
  std::string ok_json = R"({"kind":"k","json":)" + std::string(62, '[') + std::string(62, ']') + "}";
  expect(call("POST", "/ledger/record", owner, ok_json), 201, "62 arrays inside the body's object");
  // The WebSocket subscribe message is outside JSON too.
  t::ws_client ws("127.0.0.1", srv_->port(), "/ws", t::key_headers(owner));
  ws.send(std::string(100'000, '[') + std::string(100'000, ']'));
  EXPECT_FALSE(ws.next(5s));
  EXPECT_NE(ws.close_reason().find("expected"), std::string::npos) << ws.close_reason();
  EXPECT_TRUE(stays_up());
}

// ---- 3. and 4. malformed tokens and fields of the wrong type ----

TEST_F(Hardening, AJwtHeaderWithAWrongTypeAnswers400NamingItOnStreamsAndRoutes) {
  const auto alg5 = token_with_header(R"({"alg":5})");
  expect_400(call("GET", "/subscribe?access_token=" + alg5 + "&topics=mission.*", ""), "alg", "SSE with access_token");
  EXPECT_TRUE(stays_up());
  expect_400(call("GET", "/ws?access_token=" + alg5, "", "", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                                                             {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}}),
             "alg", "WebSocket upgrade with access_token");
  EXPECT_TRUE(stays_up());
  expect_400(call("GET", "/missions", alg5), "alg", "an ordinary route");
  expect_400(call("GET", "/missions", token_with_header(R"({"alg":"RS256","kid":7})")), "kid", "a non-string kid");
  expect_400(call("GET", "/missions", token_with_header(R"({"alg":["RS256"]})")), "alg", "an array alg");
  expect(call("GET", "/missions", token_with_header(R"({"alg":"none"})")), 401, "alg none stays a 401");
  // A signed token whose claims have wrong types: 400 naming the claim, never 500.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  expect_400(call("GET", "/missions", key_->token({{"iss", "https://idp.test"}, {"aud", "nexus-forge"}, {"exp", now + 60}, {"sub", 5}, {"tenant", "acme"}})),
             "sub", "a numeric sub");
  expect_400(call("GET", "/missions", key_->token({{"iss", 7}, {"aud", "nexus-forge"}, {"exp", now + 60}, {"tenant", "acme"}})), "iss", "a numeric iss");
  EXPECT_TRUE(stays_up());
}

TEST_F(Hardening, FieldsOfTheWrongTypeInTenantBodiesAnswer400NamingTheField) {
  const auto owner = make_tenant("acme");
  expect_400(call("POST", "/tenants/acme/keys", owner, json{{"role", 5}}), "role", "non-string role");
  expect_400(call("POST", "/tenants/acme/keys", owner, json{{"role", "viewer"}, {"name", {1}}}), "name", "non-string key name");
  expect_400(call("POST", "/tenants/acme/roles", owner, json{{"name", {1}}, {"permissions", json::array()}}), "name", "non-string role name");
  expect_400(call("POST", "/tenants", t::kAdminKey, json{{"id", "x"}, {"name", "x"}, {"plan", 3}}), "plan", "non-string plan");
  expect(call("POST", "/tenants/acme/keys", owner, std::string("[1,2]")), 400, "a body that is not an object");
  expect(call("POST", "/missions", owner, std::string("\"just a string\"")), 400, "a body that is not an object");
  EXPECT_TRUE(stays_up());
}

// ---- 5. shutdown with subscribers ----

TEST_F(Hardening, SigtermWithIdleSlowAndFastSubscribersExitsWithinTheTimeoutAndTellsThemWhy) {
  const auto owner = make_tenant("acme");
  // About 4 MB of events, more than the socket buffers of a client that never reads.
  for (int i = 0; i < 64; ++i) expect(call("POST", "/missions", owner, prompt(i, std::string(60'000, 'x'))), 202);
  // Idle: nothing new arrives for it.
  t::sse_stream idle("127.0.0.1", srv_->port(), "/subscribe?topics=mission.lifecycle", "", t::key_headers(owner));
  ASSERT_EQ(idle.status(), 200);
  // Fast: reads everything as it comes.
  t::sse_stream fast("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&from=earliest", "", t::key_headers(owner));
  ASSERT_TRUE(fast.next(5s));
  // Slow: asks for everything and never reads a byte.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket slow(io);
  slow.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(srv_->port())});
  const std::string req = "GET /subscribe?topics=*&from=earliest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(t::kAdminKey) + "\r\n\r\n";
  boost::asio::write(slow, boost::asio::buffer(req));
  // WebSocket, subscribed.
  t::ws_client ws("127.0.0.1", srv_->port(), "/ws", t::key_headers(owner));
  ws.send(R"({"subscribe":["mission.lifecycle"]})");
  ASSERT_TRUE(ws.next(5s));

  const auto stop_at = std::chrono::steady_clock::now();
  srv_->proc().signal(SIGTERM);
  // The idle stream's last frame says why it ends.
  bool told = false;
  while (auto e = idle.next(5s))
    if (e->event == "error" && e->data.find("server stopping") != std::string::npos) told = true;
  EXPECT_TRUE(told) << "an idle SSE client learns that the server is stopping";
  EXPECT_FALSE(ws.next(5s));
  EXPECT_NE(ws.close_reason().find("server stopping"), std::string::npos) << ws.close_reason();
  const int code = srv_->proc().wait(15s);
  const auto took = std::chrono::steady_clock::now() - stop_at;
  EXPECT_EQ(code, 0) << srv_->proc().stderr_text();
  EXPECT_LT(took, 10s) << "shutdown_timeout_ms defaults to 10 s";
  EXPECT_NE(srv_->proc().stderr_text().find("stopped cleanly"), std::string::npos);
}

// Kafka mode (librdkafka's mock cluster in a child process): SIGTERM ends the process within the
// shutdown timeout both with the cluster up and after it went away.
TEST_F(Hardening, OnKafkaSigtermExitsWithinTheTimeoutWithTheClusterUpOrGone) {
  srv_->stop();
  for (const bool cluster_gone : {false, true}) {
    t::child mock({t::nexus_forge_binary(), "kafka-mock", "--config", config_});
    std::string bootstrap;
    ASSERT_TRUE(mock.read_line(bootstrap, 30s)) << mock.stderr_text();
    // A fresh cluster each time, so read models of their own too.
    const std::vector<std::string> env{"NF_BUS_KIND=kafka", "NF_KAFKA_BOOTSTRAP=" + bootstrap,
                                       "NF_DATA_DIR=" + (dir_.path() / (cluster_gone ? "kafka-gone" : "kafka-up")).string()};
    auto kafka = std::make_unique<server>(config_, env);
    t::http_client http("127.0.0.1", kafka->port(), t::admin_headers());
    EXPECT_EQ(http.post("/missions", prompt(1).dump()).status, 202);
    t::sse_stream sse("127.0.0.1", kafka->port(), "/subscribe?topics=mission.*&from=earliest", "", t::admin_headers());
    ASSERT_EQ(sse.status(), 200);
    if (cluster_gone) {
      mock.signal(SIGKILL);
      mock.wait();
    }
    const auto stop_at = std::chrono::steady_clock::now();
    kafka->proc().signal(SIGTERM);
    const int code = kafka->proc().wait(20s);
    const auto took = std::chrono::steady_clock::now() - stop_at;
    EXPECT_EQ(code, 0) << (cluster_gone ? "cluster gone: " : "cluster up: ") << kafka->proc().stderr_text().substr(0, 3000);
    EXPECT_LT(took, 11s) << (cluster_gone ? "cluster gone" : "cluster up") << ": shutdown_timeout_ms defaults to 10 s";
    const bool forced = kafka->proc().stderr_text().find("shutdown took longer") != std::string::npos;
    std::cout << (cluster_gone ? "cluster gone" : "cluster up") << ": exited in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms"
              << (forced ? " (the watchdog ended it)" : " (ordered stop)") << "\n";
  }
}

// ---- 6. damaged WALs ----

// Flips one bit in the middle of every non-empty WAL of `dir`; returns how many it changed.
int flip_wal_bits(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".log" || e.file_size() == 0) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    auto at = static_cast<std::streamoff>(e.file_size() / 2);
    if (at % 32768 > 32768 - 16) at -= 32;  // not in the padding at the end of a WAL block
    char c = 0;
    f.seekg(at);
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x04);
    f.seekp(at);
    f.write(&c, 1);
    ++n;
  }
  return n;
}

// Events on a topic, from the bus's own end offsets (the platform admin sees them).

// Events of one type on a topic, read through GET /topics/{name}/events.
std::int64_t events_of_type(t::http_client& c, const std::string& topic, const std::string& type) {
  auto r = c.request("GET", "/topics", "", "application/json", true, t::admin_headers());
  std::int64_t n = 0;
  const auto topics = json::parse(r.body);
  for (const auto& item : topics["items"]) {
    if (item["name"] != topic) continue;
    for (std::size_t p = 0; p < item["offsets"].size(); ++p) {
      const auto from = item["offsets"][p]["begin"].get<std::int64_t>();
      auto e = c.request("GET", "/topics/" + topic + "/events?partition=" + std::to_string(p) + "&from=" + std::to_string(from) + "&limit=1000",
                         "", "application/json", true, t::admin_headers());
      const auto page = json::parse(e.body);
      for (const auto& ev : page["items"]) n += ev["type"] == type;
    }
  }
  return n;
}

std::size_t count_missions(t::http_client& c) {
  auto r = c.request("GET", "/missions?limit=500", "", "application/json", true, t::admin_headers());
  return json::parse(r.body)["items"].size();
}

TEST_F(Hardening, AFlippedBitInTheWalAfterACleanStopLosesNothing) {
  for (int i = 0; i < 60; ++i) expect(call("POST", "/missions", t::kAdminKey, prompt(i)), 202);
  ASSERT_EQ(srv_->stop(), 0);
  flip_wal_bits(dir_.path() / "data" / "bus");
  start();
  EXPECT_EQ(events_of_type(*http_, "mission.prompts", "mission.prompted"), 60) << "the bus keeps every acknowledged prompt";
  EXPECT_EQ(count_missions(*http_), 60u);
  for (int i = 0; i < 60; ++i) expect(call("GET", "/missions/" + uuid(i), t::kAdminKey), 200, uuid(i));
  expect(call("POST", "/missions", t::kAdminKey, prompt(1000)), 202);
  expect(call("GET", "/missions/" + uuid(1000), t::kAdminKey), 200, "a new mission is not lost to a reused offset");
}

TEST_F(Hardening, ADamagedWalAfterACrashStopsTheStartAndDoctorRepairsNamingTheLostOffsets) {
  for (int i = 0; i < 60; ++i) expect(call("POST", "/missions", t::kAdminKey, prompt(i)), 202);
  srv_->proc().signal(SIGKILL);
  srv_->proc().wait();
  ASSERT_GE(flip_wal_bits(dir_.path() / "data" / "bus"), 1);
  const auto bin = t::nexus_forge_binary();

  // The server refuses to start, naming the file and what to do; it does not drop records.
  auto refused = t::run({bin, "serve", "--config", config_, "--listen", "127.0.0.1:0"}, {}, 30s);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(".log"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("doctor"), std::string::npos) << refused.err;

  auto check = t::run({bin, "doctor", "--config", config_, "--json"});
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  auto found = json::parse(check.out, nullptr, false);
  ASSERT_TRUE(found.is_object()) << check.out;
  EXPECT_FALSE(found["ok"].get<bool>());

  auto repair = t::run({bin, "doctor", "--config", config_, "--repair", "--json"});
  EXPECT_EQ(repair.exit_code, 0) << repair.out << repair.err;
  auto repaired = json::parse(repair.out, nullptr, false);
  ASSERT_TRUE(repaired.is_object()) << repair.out;
  EXPECT_TRUE(repaired["ok"].get<bool>()) << repair.out;
  std::int64_t lost_prompts = 0;
  for (const auto& l : repaired["lost"])
    if (l["topic"] == "mission.prompts") lost_prompts += l["to"].get<std::int64_t>() - l["from"].get<std::int64_t>();
  EXPECT_GT(lost_prompts, 0) << "the report names the lost offsets: " << repair.out;
  EXPECT_FALSE(repaired["rebuilt"].empty()) << "read models ahead of the bus are rebuilt: " << repair.out;

  // Afterwards: the server starts, holds exactly what the report says is left, and a new
  // mission is not swallowed by a reused offset (202 then 200, never 404).
  start();
  // The lost offsets may include the prompt owner's claims. A prompt lost while its command
  // survived (mission.commands is another log) is decided again by the restarted owner, so the
  // log can regain prompts: the read model shows exactly what the log holds, never less than
  // what the report leaves.
  std::int64_t left = 0;
  ASSERT_TRUE(t::wait_until([&] {
    left = events_of_type(*http_, "mission.prompts", "mission.prompted");
    return static_cast<std::int64_t>(count_missions(*http_)) == left;
  }));
  EXPECT_GE(left, 60 - lost_prompts);
  EXPECT_LE(left, 60);
  expect(call("POST", "/missions", t::kAdminKey, prompt(1000)), 202);
  expect(call("GET", "/missions/" + uuid(1000), t::kAdminKey), 200);
  EXPECT_EQ(t::run({bin, "doctor", "--config", config_}).exit_code, 2) << "doctor refuses a running node";
}

// ---- 7. disk full ----

TEST_F(Hardening, AFullDiskAnswers507KeepsReadsAndWritesAgainOnceSpaceIsFreed) {
  srv_->stop();
  const auto mnt = dir_.path() / "small";
  fs::create_directories(mnt);
  if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root); the fault-injecting file system test covers the bus";
  struct unmount {
    fs::path p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{mnt};
  write_config({{"data_dir", (mnt / "data").string()}});
  start();
  std::set<int> acked;
  for (int i = 0; i < 5; ++i)
    if (call("POST", "/missions", t::kAdminKey, prompt(i)).status == 202) acked.insert(i);
  // Fill the disk but for a little room, then restart: a WAL created now cannot have its space
  // preallocated, so the disk runs out after a few appends, as it would on a full production disk.
  ASSERT_EQ(srv_->stop(), 0);
  {
    const auto room = fs::space(mnt).available;
    ASSERT_GT(room, 4u << 20);
    std::ofstream filler(mnt / "filler", std::ios::binary);
    const std::string chunk(1 << 16, 'f');
    for (std::uintmax_t left = room - (3u << 20); left >= chunk.size(); left -= chunk.size())
      filler.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  start();
  int n = 5, status = 0;
  std::string body;
  for (; n < 400; ++n) {
    auto r = call("POST", "/missions", t::kAdminKey, prompt(n, std::string(60'000, 'x')));
    status = r.status;
    body = r.body;
    if (status == 202) acked.insert(n);
    else break;
  }
  // The disk may fill between a mission's command and its owner's decision: the command is kept
  // and the answer says so (503 not_decided, decided once there is room); the next one is 507.
  if (status == 503 && json::parse(body)["error"]["code"] == "not_decided") {
    auto r = call("POST", "/missions", t::kAdminKey, prompt(++n));
    status = r.status;
    body = r.body;
  }
  ASSERT_EQ(status, 507) << body;
  auto err = json::parse(body);
  EXPECT_EQ(err["error"]["code"], "insufficient_storage");
  EXPECT_NE(err["error"]["message"].get<std::string>().find((mnt / "data").string()), std::string::npos) << body;
  expect(call("POST", "/missions", t::kAdminKey, prompt(n + 1)), 507, "still full");
  expect(call("GET", "/missions/" + uuid(0), t::kAdminKey), 200, "reads keep working");
  EXPECT_TRUE(stays_up());

  fs::remove(mnt / "filler");
  int m = n + 2;
  EXPECT_TRUE(t::wait_until(
      [&] {
        const int id = m++;
        if (call("POST", "/missions", t::kAdminKey, prompt(id)).status != 202) return false;
        acked.insert(id);
        return true;
      },
      30s))
      << "writes work again once space is freed";
  ASSERT_EQ(srv_->stop(), 0);
  start();
  for (int id : acked) expect(call("GET", "/missions/" + uuid(id), t::kAdminKey), 200, "acknowledged " + uuid(id));
  srv_->stop();
}

// ---- 8. domains ----

TEST_F(Hardening, ADomainBelongsToOneTenantAndIpLiteralsOrLocalhostToNone) {
  const auto acme = make_tenant("acme");
  const auto beta = make_tenant("beta");
  expect(call("PATCH", "/tenants/beta", beta, json{{"domains", {"evidence.beta.example"}}}), 200);
  t::header_map on_beta_domain{{"Host", "evidence.beta.example"}};
  expect(call("GET", "/missions", beta, "", on_beta_domain), 200);

  auto taken = expect(call("PATCH", "/tenants/acme", acme, json{{"domains", {"Evidence.Beta.Example."}}}), 409);
  EXPECT_EQ(taken["error"]["code"], "domain_taken");
  EXPECT_EQ(taken["error"]["field"], "domains");
  expect(call("GET", "/missions", beta, "", on_beta_domain), 200, "beta keeps its domain");
  expect(call("GET", "/missions", acme, "", on_beta_domain), 401, "acme does not get in through beta's domain");

  for (const auto* d : {"127.0.0.1", "10.1.2.3", "[::1]", "::1", "localhost", "api.localhost", "beta.nexus.test"})
    expect_400(call("PATCH", "/tenants/acme", acme, json{{"domains", {d}}}), "domains", d);
  expect(call("GET", "/missions", beta, "", {{"Host", "127.0.0.1"}}), 200, "other tenants keep connecting by IP");

  // Acme takes a domain of its own and releases it: beta's binding is untouched.
  expect(call("PATCH", "/tenants/acme", acme, json{{"domains", {"acme.example"}}}), 200);
  expect(call("PATCH", "/tenants/acme", acme, json{{"domains", json::array()}}), 200);
  expect(call("GET", "/missions", beta, "", on_beta_domain), 200, "beta's domain survives acme's release");
  // And on tenant creation.
  expect(call("POST", "/tenants", t::kAdminKey, json{{"id", "gamma"}, {"name", "g"}, {"plan", "basic"}, {"domains", {"evidence.beta.example"}}}), 409);
}

// ---- 9. blobs and leaf hashes ----

TEST_F(Hardening, AnotherTenantsBlobAndLeafHashAnswerExactlyAsOnesThatDoNotExist) {
  const auto acme = make_tenant("acme", "developer");
  const auto beta = make_tenant("beta", "developer");
  auto rec = expect(call("POST", "/ledger/record", acme, json{{"kind", "k"}, {"json", {{"secret", "acme"}}}}), 201);
  const auto sha = rec["sha256"].get<std::string>();
  const auto leaf = rec["leaf_hash"].get<std::string>();
  expect(call("GET", "/evidence/blobs/" + sha, acme), 200, "the owner reads its blob");
  const auto absent_sha = std::string(64, 'a');
  auto other = call("GET", "/evidence/blobs/" + sha, beta);
  auto none = call("GET", "/evidence/blobs/" + absent_sha, beta);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(none.status, 404);
  auto without = [](std::string body, const std::string& h) {
    for (auto p = body.find(h); p != std::string::npos; p = body.find(h)) body.replace(p, h.size(), "<hash>");
    return body;
  };
  EXPECT_EQ(without(other.body, sha), without(none.body, absent_sha)) << "same answer as for an unknown hash";

  // Inclusion by leaf hash: once the leaf is under a signed head.
  ASSERT_TRUE(t::wait_until([&] { return call("GET", "/ledger/proof/inclusion?leaf_hash=" + leaf, acme).status == 200; }, 10s));
  const auto absent_leaf = std::string(64, 'b');
  auto other_leaf = call("GET", "/ledger/proof/inclusion?leaf_hash=" + leaf, beta);
  auto no_leaf = call("GET", "/ledger/proof/inclusion?leaf_hash=" + absent_leaf, beta);
  EXPECT_EQ(other_leaf.status, no_leaf.status);
  EXPECT_EQ(without(other_leaf.body, leaf), without(no_leaf.body, absent_leaf)) << other_leaf.body;
  EXPECT_EQ(other_leaf.body.find("leaf 0"), std::string::npos) << "nothing of the index shows";
  // Beta storing the same bytes owns them too, and learns nothing about whether they were there.
  auto put = call("PUT", "/evidence/blobs/" + sha, beta, std::string(R"({"secret":"acme"})"), {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(put.status, 201) << put.body;
  expect(call("GET", "/evidence/blobs/" + sha, beta), 200);
}

// ---- 10. platform topics ----

TEST_F(Hardening, PlatformTopicsAreForThePlatformAdminOnlyThroughTheGenericRoutes) {
  const auto viewer = make_tenant("acme", "viewer");
  expect(call("GET", "/missions", viewer), 200);  // something to audit
  for (const auto* topic : {"tenancy.audit", "tenancy.tenants", "evidence.ledger", "evidence.records"}) {
    auto r = expect(call("GET", std::string("/topics/") + topic + "/events?from=0", viewer), 403, topic);
    EXPECT_EQ(r["error"]["code"], "forbidden");
    t::sse_stream s("127.0.0.1", srv_->port(), std::string("/subscribe?from=earliest&topics=") + topic, "", t::key_headers(viewer));
    EXPECT_EQ(s.status(), 403) << topic;
    expect(call("GET", std::string("/topics/") + topic + "/events?from=0", t::kAdminKey), 200, "the platform admin reads it");
  }
  auto listed = expect(call("GET", "/topics", viewer), 200);
  for (const auto& item : listed["items"]) {
    const auto name = item["name"].get<std::string>();
    EXPECT_FALSE(name.rfind("tenancy.tenants", 0) == 0 || name.rfind("tenancy.audit", 0) == 0 || name.rfind("evidence.", 0) == 0) << name;
  }
  // A wildcard subscription carries nothing from platform topics, not even the tenant's own audit.
  t::sse_stream all("127.0.0.1", srv_->port(), "/subscribe?from=earliest&topics=*", "", t::key_headers(viewer));
  ASSERT_EQ(all.status(), 200);
  while (auto e = all.next(1500ms)) {
    if (e->data.empty()) continue;
    const auto j = json::parse(e->data);
    const auto topic = j.value("topic", "");
    EXPECT_TRUE(topic.rfind("tenancy.", 0) != 0 || topic == "tenancy.usage") << topic;
    EXPECT_NE(topic.rfind("evidence.", 0), 0u) << topic;
  }
}

// ---- 11. revoked credentials close their streams ----

TEST_F(Hardening, RevokingAKeyOrSuspendingATenantClosesItsOpenStreamsWithinASecond) {
  const auto owner = make_tenant("acme");
  auto k = expect(call("POST", "/tenants/acme/keys", owner, json{{"role", "viewer"}}), 201);
  const auto viewer = k["key"].get<std::string>();
  t::sse_stream sse("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*", "", t::key_headers(viewer));
  ASSERT_EQ(sse.status(), 200);
  t::ws_client ws("127.0.0.1", srv_->port(), "/ws?access_token=" + viewer);
  ws.send(R"({"subscribe":["mission.*"]})");
  ASSERT_TRUE(ws.next(5s));

  expect(call("DELETE", "/tenants/acme/keys/" + k["keyId"].get<std::string>(), owner), 200);
  const auto revoked_at = std::chrono::steady_clock::now();
  std::optional<t::sse_event> last;
  while (auto e = sse.next(3s)) last = e;
  ASSERT_TRUE(last);
  EXPECT_EQ(last->event, "error");
  EXPECT_NE(last->data.find("revoked"), std::string::npos) << last->data;
  EXPECT_LT(std::chrono::steady_clock::now() - revoked_at, 1500ms);
  EXPECT_FALSE(ws.next(3s));
  EXPECT_NE(ws.close_reason().find("revoked"), std::string::npos) << ws.close_reason();
  // New events never reach the revoked key.
  expect(call("POST", "/missions", owner, prompt(1)), 202);

  // Suspending the tenant closes the streams of its other keys.
  t::sse_stream owner_stream("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*", "", t::key_headers(owner));
  ASSERT_EQ(owner_stream.status(), 200);
  expect(call("PATCH", "/tenants/acme", t::kAdminKey, json{{"status", "suspended"}}), 200);
  std::optional<t::sse_event> end;
  while (auto e = owner_stream.next(3s)) end = e;
  ASSERT_TRUE(end);
  EXPECT_EQ(end->event, "error");
  EXPECT_NE(end->data.find("suspended"), std::string::npos) << end->data;
}

TEST_F(Hardening, AnExpiringJwtEndsItsOpenStreamOnceItExpires) {
  srv_->stop();
  write_config({{"auth", {{"jwt_leeway_s", 0}}}});
  start();
  make_tenant("acme");
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto token = key_->token({{"iss", "https://idp.test"}, {"aud", "nexus-forge"}, {"exp", now + 2}, {"sub", "u"},
                                  {"tenant", "acme"}, {"roles", {"viewer"}}});
  t::sse_stream sse("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&access_token=" + token);
  ASSERT_EQ(sse.status(), 200);
  std::optional<t::sse_event> last;
  while (auto e = sse.next(6s)) last = e;
  const std::int64_t ended = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(last) << "the stream ends with a reason";
  EXPECT_EQ(last->event, "error");
  EXPECT_NE(last->data.find("expired"), std::string::npos) << last->data;
  EXPECT_LE(ended, now + 4) << "within about a second of the expiry";
}

}  // namespace
