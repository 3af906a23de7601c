// Tenancy benchmarks:
//   tenant-context resolution with 10,000 tenants x 10 API keys (random keys, mixed with custom
//   domains and subdomains), p50/p99 per resolution; baseline: the raw work of a lookup, SHA-256
//   of the key plus one hash-map find, in the same run
//   JWT verification (RS256, ES256) against a JWKS: tokens per second
//   keeping the directory current: reloading the one tenant a change touched vs reloading all
//   10,000 tenants x 10 keys from the tenants projection
//   usage metering: rebuilding the usage projection over 200,000 events of 100 tenants on the
//   embedded bus, events/s; baseline: reading the same events with a consumer, same run
//   the tenant's owner deciding If-Match changes one after another (the Kafka-mode path),
//   decisions/s; baseline: one synchronous append of an outcome-sized record, same run
// Run: build/bench/nf_bench_tenancy (see docs/performance.md).

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <unordered_map>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "actors/tenancy/directory.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "actors/tenancy/directory_sync.h"
#include "actors/tenancy/events.h"
#include "actors/tenancy/reservation_owner.h"
#include "core/command/owner.h"
#include "tenancy.pb.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"
#include "bench/log_reader.h"
#include "bench/ratio_reporter.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/owner_context.h"
#include "core/base/base64.h"

namespace {

using namespace nf::tenancy;
using json = nlohmann::json;

constexpr int kTenants = 10'000;
constexpr int kKeysPerTenant = 10;

struct world {
  directory dir{"nexus.example"};
  std::vector<std::string> secrets;   // every key
  std::vector<std::string> tenant_of;  // per key
  std::unordered_map<std::string, std::string> raw;  // digest -> tenant, for the baseline
  world() {
    secrets.reserve(kTenants * kKeysPerTenant);
    for (int t = 0; t < kTenants; ++t) {
      const auto id = "t" + std::to_string(t);
      dir.put_tenant(id, {"evidence." + id + ".example"});
      for (int k = 0; k < kKeysPerTenant; ++k) {
        auto key = issue_key();
        dir.put_key(key.digest, id, "developer", key.key_id);
        raw[key.digest] = id;
        secrets.push_back(key.secret);
        tenant_of.push_back(id);
      }
    }
  }
  static world& get() {
    static world w;
    return w;
  }
};

// Raw work of one lookup: SHA-256 of the key, one hash-map find.
void BM_RawKeyLookup(benchmark::State& st) {
  auto& w = world::get();
  std::mt19937 rng(1);
  for (auto _ : st) {
    const auto& s = w.secrets[rng() % w.secrets.size()];
    auto it = w.raw.find(key_digest(s));
    benchmark::DoNotOptimize(it);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// Full resolution: Host (custom domain, subdomain or none) + Authorization or X-API-Key.
void BM_ResolveContext(benchmark::State& st) {
  auto& w = world::get();
  std::mt19937 rng(2);
  std::vector<double> us;
  us.reserve(1 << 20);
  std::int64_t failures = 0;
  for (auto _ : st) {
    const auto i = rng() % w.secrets.size();
    const auto& t = w.tenant_of[i];
    std::string host = i % 3 == 0 ? "evidence." + t + ".example" : i % 3 == 1 ? t + ".nexus.example:443" : "api.example";
    const std::string auth = i % 2 ? "Bearer " + w.secrets[i] : "";
    const auto t0 = std::chrono::steady_clock::now();
    auto c = w.dir.resolve({host, auth, i % 2 ? std::string_view() : std::string_view(w.secrets[i])}, 0);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (!c || c->tenant != t) ++failures;
  }
  if (failures) st.SkipWithError("a resolution gave the wrong tenant");
  nf::bench::latency_counters(st, us);
  st.counters["keys"] = static_cast<double>(w.dir.keys());
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

template <bool Ec>
void BM_VerifyJwt(benchmark::State& st) {
  const nf::test::signer_key k{Ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)),
                               Ec ? "ES256" : "RS256", "k"};
  auto keys = jwks::parse(json{{"keys", {k.jwk()}}}.dump()).value();
  const auto token = k.token(json{{"iss", "i"}, {"aud", "a"}, {"sub", "s"}, {"tenant", "t"}, {"exp", 4'000'000'000}});
  const jwt_policy policy{"i", "a", 60};
  for (auto _ : st) {
    auto c = verify_jwt(token, keys, policy, 1'800'000'000'000);
    if (!c) st.SkipWithError(c.error().message.c_str());
    benchmark::DoNotOptimize(c);
  }
  EVP_PKEY_free(k.pkey);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

}  // namespace

constexpr std::int64_t kMetered = 200'000;

// An embedded bus in a temp directory with one 3-partition topic, filled with events in batches
// of 1,000; removed when destroyed.
struct scratch_log {
  std::filesystem::path dir;
  nf::topic_name topic;
  std::unique_ptr<nf::bus::embedded_bus> bus;
  std::vector<nf::bus::record> batch;
  scratch_log(const std::string& name, const std::string& topic_name)
      : dir(std::filesystem::temp_directory_path() / ("nf-bench-" + name + "-" + std::to_string(::getpid()))), topic(topic_name) {
    std::filesystem::remove_all(dir);
    nf::bus::embedded_options o;
    o.path = (dir / "bus").string();
    o.sync = false;
    o.retention_check_ms = 0;
    bus = std::move(nf::bus::open_embedded(o).value());
    (void)bus->create_topic(topic, {3, -1, -1});
  }
  ~scratch_log() {
    bus.reset();
    std::filesystem::remove_all(dir);
  }
  void add(nf::event::new_event e) {
    batch.push_back(nf::event::to_record(nf::event::build(e).value()));
    if (batch.size() == 1000) flush();
  }
  void flush() {
    if (!batch.empty()) (void)bus->append(topic, batch);
    batch.clear();
  }
};

// 200,000 envelopes of 100 tenants over three days.
struct metered_log {
  scratch_log log{"usage", "mission.prompts"};
  metered_log() {
    for (std::int64_t i = 0; i < kMetered; ++i) {
      nf::event::new_event e;
      e.type = "mission.prompted";
      e.key = "m-" + std::to_string(i);
      e.tenant = "t" + std::to_string(i % 100);
      e.occurred_at = 1'700'000'000'000 + (i * 86'400'000 * 3) / kMetered;
      e.payload_json = json{{"objective", "metered " + std::to_string(i)}, {"priority", "P1"}, {"originatingSpec", "https://s"}}.dump();
      log.add(std::move(e));
    }
    log.flush();
  }
  static metered_log& get() {
    static metered_log l;
    return l;
  }
};

void BM_RawLogRead(benchmark::State& st) {
  auto& l = metered_log::get();
  std::int64_t total = 0;
  std::vector<std::pair<nf::topic_partition, nf::offset>> from;
  for (int p = 0; p < 3; ++p) from.push_back({{l.log.topic, nf::partition_id{p}}, nf::offset{0}});
  for (auto _ : st) total += nf::bench::read_events(*l.log.bus, from, kMetered, st);
  st.SetItemsProcessed(total);
}

void BM_UsageRebuild(benchmark::State& st) {
  auto& l = metered_log::get();
  auto store = nf::projection::store::open({(l.log.dir / "proj").string(), false});
  nf::usage::usage_projection proj;
  if (!store || !(*store)->attach(proj)) {
    st.SkipWithError("store");
    return;
  }
  std::int64_t total = 0;
  for (auto _ : st) {
    auto n = (*store)->rebuild(proj, *l.log.bus);
    if (!n) {
      st.SkipWithError(n.error().message.c_str());
      break;
    }
    total += static_cast<std::int64_t>(*n);
  }
  nf::usage::usage_view view(**store, proj);
  if (view.day(nf::tenant_id{"t7"}, "2023-11-14").value().events == 0) st.SkipWithError("nothing metered");
  st.SetItemsProcessed(total);
}

// The tenants projection holding 10,000 tenants x 10 keys, folded from their events.
struct tenants_store {
  scratch_log log{"tenants", nf::tenants::kTenantsTopic};
  std::unique_ptr<nf::projection::store> store;
  nf::tenants::tenants_projection proj;
  tenants_store() {
    auto add = [&](const std::string& type, const std::string& tenant, const json& payload) {
      nf::event::new_event e;
      e.type = type;
      e.key = tenant;
      e.tenant = tenant;
      e.payload_json = payload.dump();
      log.add(std::move(e));
    };
    for (int t = 0; t < kTenants; ++t) {
      const auto id = "t" + std::to_string(t);
      add("tenancy.tenant_created", id, {{"tenantId", id}, {"name", id}, {"plan", "pro"}, {"domains", {"evidence." + id + ".example"}}});
      for (int k = 0; k < kKeysPerTenant; ++k) {
        const auto key = issue_key();
        add("tenancy.key_created", id, {{"tenantId", id}, {"keyId", key.key_id}, {"digest", key.digest}, {"role", "developer"}, {"name", ""}});
      }
    }
    log.flush();
    store = std::move(nf::projection::store::open({(log.dir / "proj").string(), false}).value());
    (void)store->attach(proj);
    (void)nf::projection::runner(*store, proj, *log.bus).catch_up();
  }
  static tenants_store& get() {
    static tenants_store s;
    return s;
  }
};

void BM_DirectoryFullReload(benchmark::State& st) {
  auto& s = tenants_store::get();
  directory dir("nexus.example");
  nf::tenants::tenants_view view(*s.store, s.proj);
  for (auto _ : st)
    if (!nf::tenancy::load_into(view, dir)) st.SkipWithError("load");
  st.counters["keys"] = static_cast<double>(dir.keys());
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_DirectoryTenantReload(benchmark::State& st) {
  auto& s = tenants_store::get();
  directory dir("nexus.example");
  nf::tenants::tenants_view view(*s.store, s.proj);
  if (!nf::tenancy::load_into(view, dir)) st.SkipWithError("load");
  std::mt19937 rng(7);
  for (auto _ : st)
    if (!nf::tenancy::load_tenant_into(view, dir, "t" + std::to_string(rng() % kTenants))) st.SkipWithError("load");
  if (dir.keys() != static_cast<std::size_t>(kTenants * kKeysPerTenant)) st.SkipWithError("keys lost");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// The tenant's owner deciding changes (the Kafka-mode path of PATCH /tenants/{id} with
// If-Match), one after another as its actor does: catch up on the output partition, check that
// the command was not decided already (nf-decides), read the version, append the outcome and let
// the read model apply it before the next. Baseline: one synchronous append of a record of the
// same size to the same bus, the least a decision writes.
struct owner_rig {
  scratch_log log{"owner", nf::tenants::kTenantsTopic};
  std::unique_ptr<nf::projection::store> store;
  nf::tenants::tenants_projection proj;
  std::unique_ptr<nf::projection::feed> feed;
  std::unique_ptr<nf::command::single_writer> writer;
  std::unique_ptr<reservation_owner> owner;
  std::int64_t next_command = 0, version = 1;

  nf::test::owner_context ctx{"reservation_owner"};

  owner_rig() {
    (void)log.bus->create_topic(nf::topic_name{kCommandsTopic}, {3, -1, -1});
    log.add([] {
      nf::event::new_event e;
      e.type = "tenancy.tenant_created";
      e.key = e.tenant = "acme";
      e.payload_json = json{{"tenantId", "acme"}, {"name", "Acme"}, {"plan", "pro"}}.dump();
      return e;
    }());
    log.flush();
    store = std::move(nf::projection::store::open({(log.dir / "owner-proj").string(), false}).value());
    (void)store->attach(proj);
    feed = std::make_unique<nf::projection::feed>(*store, proj, *log.bus);
    (void)feed->start();
    writer = std::make_unique<nf::command::single_writer>(*log.bus, "reservation_owner", "local",
                                                          nf::command::owned_state{*store, proj, *feed}, std::chrono::seconds(10));
    owner = std::make_unique<reservation_owner>(*writer, nf::tenants::tenants_view(*store, proj));
  }
  // The next change command, as the runtime hands it over (it is not in the log: the owner reads
  // only its position and envelope).
  nf::bus::message next() {
    nf::events::TenantUpdated u;
    u.set_tenant_id("acme");
    (*u.mutable_quotas())["eventsPerDay"] = 1000 + next_command;
    nf::events::TenantChangeRequested req;
    req.set_tenant_id("acme");
    req.set_type("tenancy.tenant_updated");
    req.mutable_change()->PackFrom(u);
    req.set_conditional(true);
    req.set_expected_version(version);
    nf::event::new_event e;
    e.type = kChangeRequested;
    e.key = e.tenant = "acme";
    e.message = &req;
    auto rec = nf::event::to_record(nf::event::build(e).value());
    nf::bus::message m;
    m.topic = nf::topic_name{kCommandsTopic};
    m.partition = nf::bus::partition_for_key("acme", 3);
    m.off = nf::offset{next_command++};
    m.key = rec.key;
    m.value = rec.value;
    m.headers = rec.headers;
    return m;
  }
  static owner_rig& get() {
    static owner_rig r;
    return r;
  }
};

void BM_OwnerDecidesChange(benchmark::State& st) {
  auto& r = owner_rig::get();
  for (auto _ : st) {
    const auto m = r.next();
    r.ctx.input = &m;
    if (auto h = r.owner->handle(m, r.ctx); !h) {
      st.SkipWithError(h.error().message.c_str());
      break;
    }
    ++r.version;
  }
  // Every change applied: none refused, none decided twice.
  const nf::topic_partition out{nf::topic_name{nf::tenants::kTenantsTopic}, nf::bus::partition_for_key("acme", 3)};
  (void)r.feed->wait_applied(out, nf::offset{r.log.bus->end_offset(out).value().get() - 1}, std::chrono::seconds(10));
  if (nf::tenants::tenants_view(*r.store, r.proj).version("acme").value() != r.version) st.SkipWithError("a change was refused or doubled");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_RawOutcomeAppend(benchmark::State& st) {
  auto& r = owner_rig::get();
  const auto probe = r.next();
  nf::bus::record rec;
  rec.key = "acme";
  rec.value = probe.value;
  rec.headers = probe.headers;
  const nf::topic_name raw{"raw.outcomes"};
  (void)r.log.bus->create_topic(raw, {3, -1, -1});
  for (auto _ : st)
    if (!r.log.bus->append(raw, std::span<const nf::bus::record>(&rec, 1))) st.SkipWithError("append");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

BENCHMARK(BM_RawKeyLookup)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ResolveContext)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_VerifyJwt<false>)->Name("BM_VerifyJwt_RS256")->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_VerifyJwt<true>)->Name("BM_VerifyJwt_ES256")->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_DirectoryFullReload)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_DirectoryTenantReload)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawLogRead)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_UsageRebuild)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawOutcomeAppend)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_OwnerDecidesChange)->UseRealTime()->MinTime(1.0);

int main(int argc, char** argv) {
  nf::log::set_level("warn");
  nf::tenancy::register_events(nf::event::type_registry::global());  // as the binary does at start
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_ResolveContext", "BM_RawKeyLookup"}, {"BM_UsageRebuild", "BM_RawLogRead"}, {"BM_DirectoryTenantReload", "BM_DirectoryFullReload"},
                                    {"BM_OwnerDecidesChange", "BM_RawOutcomeAppend"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
