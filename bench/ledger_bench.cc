// Evidence ledger benchmarks:
//   in-memory append: 2 hashes per leaf, against raw OpenSSL SHA-256 of 64-byte inputs
//   durable append through the ledger projection, batches of 1,000 leaves, a signed head per batch
//   inclusion and consistency proofs on the durable tree (p50/p99 in microseconds), at
//   NF_BENCH_LEDGER_LEAVES leaves (default 1,000,000; docs/performance.md has a 10,000,000 run)
//   ledger verify: the audit over an embedded-bus ledger (200,000 leaves, a signed head per
//   1,000), against a raw sequential read of the same log
// Run: build/bench/nf_bench_ledger [--benchmark_filter=...] (see docs/performance.md).
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include <benchmark/benchmark.h>

#include "actors/evidence/audit.h"
#include "actors/evidence/evidence.h"
#include "bench/ratio_reporter.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "ledger.pb.h"
#include "core/log/log.h"
#include "core/merkle/tree_head.h"
#include "projections/ledger/ledger.h"

namespace {

namespace fs = std::filesystem;
using namespace nf;

// OpenSSL used directly, the fastest way it offers: one fetched algorithm, one reused context.
void BM_RawSha256_64B(benchmark::State& st) {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string input(64, 'x');
  unsigned char out[32];
  unsigned int len = 0;
  for (auto _ : st) {
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, input.data(), input.size());
    EVP_DigestFinal_ex(ctx, out, &len);
    input[0] = static_cast<char>(out[0]);
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// items = hashes (a leaf hash plus, amortised, one node hash per leaf).
void BM_MemoryAppendHashes(benchmark::State& st) {
  merkle::memory_tree tree;
  std::string leaf(64, 'l');
  std::uint64_t n = 0;
  for (auto _ : st) {
    leaf[0] = static_cast<char>(n);
    tree.append(leaf);
    ++n;
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(2 * n));
}

// A leaf event as the evidence actor writes it (typed payload, no JSON on this path).
bus::message leaf_message(std::uint64_t index) {
  events::LedgerLeaf leaf;
  leaf.set_index(index);
  leaf.set_data(std::string(64, static_cast<char>('a' + index % 26)) + std::to_string(index));
  leaf.set_event_id("ev-" + std::to_string(index));
  events::Envelope env;
  env.set_type(ledger::kLeafAppended);
  env.set_key("ledger");
  env.mutable_payload()->PackFrom(leaf);
  return bus::message{topic_name{ledger::kLedgerTopic}, partition_id{0}, offset{static_cast<std::int64_t>(index)}, 1, "ledger",
                      env.SerializeAsString(), {}};
}

struct durable {
  fs::path dir;
  std::unique_ptr<projection::store> store;
  ledger::ledger_projection proj;
  ledger::node_cache cache;
  std::unique_ptr<merkle::signer> sign;
  std::uint64_t size = 0;

  durable() {
    dir = fs::temp_directory_path() / ("nf-bench-ledger-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    store = std::move(projection::store::open({(dir / "store").string(), false}).value());
    (void)store->attach(proj);
    sign = std::move(merkle::signer::load_or_create((dir / "ledger.key").string()).value());
  }
  ~durable() {
    store.reset();
    fs::remove_all(dir);
  }
  // Leaf events as the bus delivers them (already serialized), for the next `n` indices.
  std::vector<bus::message> next_leaves(std::uint64_t n) const {
    std::vector<bus::message> out;
    out.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) out.push_back(leaf_message(size + i));
    return out;
  }
  // Applies leaf events in batches of 1,000, signing a head after each batch.
  void append(const std::vector<bus::message>& leaves) {
    ledger::ledger_view view(*store, proj);
    for (std::size_t at = 0; at < leaves.size(); at += 1000) {
      const auto n = std::min<std::size_t>(1000, leaves.size() - at);
      (void)store->apply(proj, std::span<const bus::message>(leaves.data() + at, n));
      size += n;
      merkle::tree_head h;
      h.size = size;
      h.root = view.root(size).value();
      h.timestamp_ms = 1;
      h.signature = sign->sign(h).value();
      benchmark::DoNotOptimize(h);
    }
  }
  void append(std::uint64_t n) {
    for (std::uint64_t done = 0; done < n; done += 100'000) append(next_leaves(std::min<std::uint64_t>(100'000, n - done)));
  }
  static durable& get() {
    static durable d;
    return d;
  }
};

void BM_DurableAppend(benchmark::State& st) {
  auto& d = durable::get();
  std::uint64_t total = 0;
  for (auto _ : st) {
    st.PauseTiming();
    const auto leaves = d.next_leaves(100'000);
    st.ResumeTiming();
    d.append(leaves);
    total += leaves.size();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(total));
  st.counters["tree_size"] = static_cast<double>(d.size);
}

template <bool Consistency>
void BM_Proof(benchmark::State& st) {
  auto& d = durable::get();
  const auto target = static_cast<std::uint64_t>(st.range(0));
  if (d.size < target) d.append(target - d.size);
  ledger::ledger_view view(*d.store, d.proj, &d.cache);
  // As the server does at start: load the immutable upper nodes once.
  const auto w0 = std::chrono::steady_clock::now();
  const auto warmed = view.warm_cache().value();
  st.counters["warm_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
  st.counters["cached_nodes"] = static_cast<double>(warmed);
  std::mt19937_64 rng(9);
  std::vector<double> us;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    if constexpr (Consistency) {
      const auto first = 1 + rng() % (target - 1);
      benchmark::DoNotOptimize(view.consistency(first, target));
    } else {
      benchmark::DoNotOptimize(view.inclusion(rng() % target, target));
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  nf::bench::latency_counters(st, us);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// An embedded-bus ledger as the evidence actor writes it: leaves, and a signed head per 1,000.
struct verify_fixture {
  static constexpr std::uint64_t kLeaves = 200'000;
  fs::path dir;
  std::unique_ptr<bus::embedded_bus> bus;
  std::string public_pem;

  verify_fixture() {
    dir = fs::temp_directory_path() / ("nf-bench-verify-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    bus::embedded_options o;
    o.path = (dir / "bus").string();
    o.sync = false;
    o.retention_check_ms = 0;
    bus = std::move(bus::open_embedded(o).value());
    (void)bus->create_topic(topic_name{evidence::kLedgerTopic}, {1, -1, -1});
    auto sign = merkle::signer::load_or_create((dir / "key").string()).value();
    public_pem = sign->public_key_pem();
    merkle::frontier f;
    std::vector<bus::record> batch;
    for (std::uint64_t i = 0; i < kLeaves; ++i) {
      auto m = leaf_message(i);
      events::Envelope env;
      env.ParseFromString(m.value);
      events::LedgerLeaf leaf;
      env.payload().UnpackTo(&leaf);
      f.append(merkle::leaf_hash(leaf.data()));
      bus::record r;
      r.key = "ledger";
      r.value = m.value;
      batch.push_back(std::move(r));
      if ((i + 1) % 1000 == 0) {
        merkle::tree_head h{i + 1, f.root(), 1, {}};
        h.signature = sign->sign(h).value();
        events::TreeHead t;
        evidence::fill_tree_head(t, h, sign->key_id());
        events::Envelope he;
        he.set_type(evidence::kTreeHead);
        he.mutable_payload()->PackFrom(t);
        bus::record hr;
        hr.key = "ledger";
        hr.value = he.SerializeAsString();
        batch.push_back(std::move(hr));
        (void)bus->append(topic_name{evidence::kLedgerTopic}, batch);
        batch.clear();
      }
    }
  }
  ~verify_fixture() {
    bus.reset();
    fs::remove_all(dir);
  }
  static verify_fixture& get() {
    static verify_fixture f;
    return f;
  }
};

// items = events read (leaves and heads).
void BM_RawLedgerRead(benchmark::State& st) {
  auto& f = verify_fixture::get();
  const topic_partition tp{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  const auto end = f.bus->end_offset(tp).value().get();
  std::int64_t n = 0;
  for (auto _ : st) {
    (void)evidence::read_range(*f.bus, tp, 0, end, [&](const bus::message& m) {
      benchmark::DoNotOptimize(m.value.data());
      ++n;
      return true;
    });
  }
  st.SetItemsProcessed(n);
}

// items = events audited: parsed, leaves hashed into the tree, heads' roots, signatures and
// consistency checked.
void BM_LedgerVerify(benchmark::State& st) {
  auto& f = verify_fixture::get();
  const auto end = f.bus->end_offset({topic_name{evidence::kLedgerTopic}, partition_id{0}}).value().get();
  std::int64_t n = 0;
  for (auto _ : st) {
    evidence::ledger_audit audit(*f.bus, f.public_pem, false);
    (void)audit.run(false);
    if (!audit.problems.empty() || audit.leaves != verify_fixture::kLeaves) st.SkipWithError(audit.problems.empty() ? "leaves missing" : audit.problems[0].message.c_str());
    n += end;
  }
  st.SetItemsProcessed(n);
  st.counters["leaves_per_s"] = benchmark::Counter(static_cast<double>(st.iterations() * verify_fixture::kLeaves), benchmark::Counter::kIsRate);
}

std::int64_t proof_leaves() {
  const char* v = std::getenv("NF_BENCH_LEDGER_LEAVES");
  return v ? std::atoll(v) : 1'000'000;
}

}  // namespace

BENCHMARK(BM_RawLedgerRead)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LedgerVerify)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawSha256_64B)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_MemoryAppendHashes)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_DurableAppend)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Proof<false>)->Name("BM_InclusionProof")->Apply([](auto* b) { b->Arg(proof_leaves()); })->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_Proof<true>)->Name("BM_ConsistencyProof")->Apply([](auto* b) { b->Arg(proof_leaves()); })->UseRealTime()->MinTime(1.0);

int main(int argc, char** argv) {
  nf::log::set_level("warn");
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_MemoryAppendHashes", "BM_RawSha256_64B"}, {"BM_LedgerVerify", "BM_RawLedgerRead"}},
                                     {{"BM_MemoryAppendHashes", 0.5}});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
