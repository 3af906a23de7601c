// Memory bound of `ledger verify` and `replay --verify` over a long ledger. A child process
// writes N leaves (default 10,000,000) to an embedded bus: each records an event of its own on
// bench.sources (two partitions), with a signed head every 10,000 leaves. Then this process runs
// the checks `ledger verify` runs (check_ledger: the tree, every head, every leaf against its
// event in the log) and the audit `replay --verify` keeps (the tree kept, inclusion proofs of
// 1,000 leaves), sampling RSS every 50 ms. Prints peak RSS against the limit (default 400 MB) and
// the verify rate against a raw read of the same log in the same run; exits non-zero when the
// peak exceeds the limit or a check fails.
// Run: build/bench/nf_bench_ledger_verify_memory [leaves] [limit_mb]
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "actors/evidence/audit.h"
#include "actors/evidence/commands.h"
#include "actors/evidence/evidence.h"
#include "bench/rss.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/merkle/tree_head.h"
#include "envelope.pb.h"
#include "ledger.pb.h"

namespace {

namespace fs = std::filesystem;
using namespace nf;
using nf::bench::rss_kb;
using clock_type = std::chrono::steady_clock;

constexpr const char* kSources = "bench.sources";

std::unique_ptr<bus::embedded_bus> open_bus(const fs::path& dir, bool read_only) {
  bus::embedded_options o;
  o.path = (dir / "bus").string();
  o.sync = false;
  o.retention_check_ms = 0;
  o.read_only = read_only;
  auto b = bus::open_embedded(o);
  if (!b) {
    std::fprintf(stderr, "cannot open the bus: %s\n", b.error().message.c_str());
    std::exit(2);
  }
  return std::move(*b);
}

template <class T>
T must(result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(2);
  }
  return std::move(*r);
}

void must_ok(result<void> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(2);
  }
}

// The child: N source events and their leaves, a signed head every 10,000 leaves.
int write_ledger(const fs::path& dir, std::uint64_t leaves) {
  auto b = open_bus(dir, false);
  must_ok(b->create_topic(topic_name{evidence::kLedgerTopic}, {1, -1, -1}), "ledger topic");
  must_ok(b->create_topic(topic_name{kSources}, {2, -1, -1}), "sources topic");
  auto sign = must(merkle::signer::load_or_create((dir / "ledger.key").string()), "signing key");
  merkle::frontier f;
  std::vector<bus::record> sources, ledger;
  std::vector<events::Envelope> envs;
  constexpr std::uint64_t kBatch = 1000;
  const auto started = clock_type::now();
  for (std::uint64_t at = 0; at < leaves; at += kBatch) {
    const auto n = std::min(kBatch, leaves - at);
    sources.clear();
    envs.clear();
    for (std::uint64_t i = at; i < at + n; ++i) {
      events::Envelope env;
      env.set_id("ev-" + std::to_string(i));
      env.set_type("bench.recorded");
      env.set_key("k" + std::to_string(i % 977));
      env.set_occurred_at(static_cast<std::int64_t>(i));
      env.set_origin_region("local");
      envs.push_back(env);
      sources.push_back({.key = env.key(), .value = env.SerializeAsString(), .partition = partition_id{static_cast<std::int32_t>(i % 2)}});
    }
    auto placed = must(b->append(topic_name{kSources}, sources), "append sources");
    ledger.clear();
    for (std::uint64_t i = at; i < at + n; ++i) {
      events::LedgerLeaf leaf;
      leaf.set_index(i);
      leaf.set_data(event::canonical_bytes(envs[i - at]));
      leaf.set_event_id("ev-" + std::to_string(i));
      leaf.set_source_topic(kSources);
      leaf.set_source_partition(placed[i - at].partition.get());
      leaf.set_source_offset(placed[i - at].off.get());
      f.append(merkle::leaf_hash(leaf.data()));
      events::Envelope le;
      le.set_type(evidence::kLeafAppended);
      le.set_key("ledger");
      le.mutable_payload()->PackFrom(leaf);
      ledger.push_back({.key = "ledger", .value = le.SerializeAsString()});
    }
    if ((at + n) % 10'000 == 0 || at + n == leaves) {
      merkle::tree_head h{at + n, f.root(), static_cast<std::int64_t>(at + n), {}};
      h.signature = must(sign->sign(h), "sign");
      events::TreeHead t;
      evidence::fill_tree_head(t, h, sign->key_id());
      events::Envelope he;
      he.set_type(evidence::kTreeHead);
      he.set_key("ledger");
      he.mutable_payload()->PackFrom(t);
      ledger.push_back({.key = "ledger", .value = he.SerializeAsString()});
    }
    (void)must(b->append(topic_name{evidence::kLedgerTopic}, ledger), "append leaves");
    if ((at + n) % 500'000 == 0)
      std::fprintf(stderr, "\rwritten %llu leaves (%.0f/s)", static_cast<unsigned long long>(at + n),
                   static_cast<double>(at + n) / std::chrono::duration<double>(clock_type::now() - started).count());
  }
  std::fprintf(stderr, "\n");
  std::printf("%s\n", sign->public_key_pem().c_str());
  return 0;
}

// Peak RSS while fn runs, sampled every 50 ms.
template <class F>
long peak_during(F&& fn) {
  std::atomic<bool> done{false};
  std::atomic<long> peak{rss_kb()};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), rss_kb());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  fn();
  done = true;
  sampler.join();
  return std::max(peak.load(), rss_kb());
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t leaves = argc > 1 ? std::stoull(argv[1]) : 10'000'000;
  const long limit_mb = argc > 2 ? std::stol(argv[2]) : 400;
  nf::log::set_level("warn");
  const auto dir = fs::temp_directory_path() / ("nf-bench-verify-mem-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct cleanup {
    fs::path d;
    ~cleanup() { fs::remove_all(d); }
  } clean{dir};

  // The writer runs in a child, so what it allocates does not count against the checks.
  int out[2];
  if (pipe(out) != 0) return 2;
  const pid_t child = fork();
  if (child == 0) {
    close(out[0]);
    dup2(out[1], 1);
    const int rc = write_ledger(dir, leaves);
    std::fflush(stdout);
    std::_Exit(rc);
  }
  close(out[1]);
  std::string pem;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) pem.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "writing the ledger failed\n");
    return 2;
  }

  auto b = open_bus(dir, true);
  const topic_partition tp{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  const auto end = must(b->end_offset(tp), "end offset").get();

  // Raw baseline: read the ledger once, nothing parsed.
  auto t0 = clock_type::now();
  std::int64_t raw = 0;
  must_ok(evidence::read_range(*b, tp, 0, end, [&](const bus::message&) {
            ++raw;
            return true;
          }), "raw read");
  const double raw_s = std::chrono::duration<double>(clock_type::now() - t0).count();

  config::config cfg;
  cfg.data_dir = dir.string();
  bool ok = true;
  double verify_s = 0;
  const long verify_peak = peak_during([&] {
    t0 = clock_type::now();
    auto checked = must(evidence::check_ledger(cfg, *b, pem, false), "check_ledger");
    verify_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (checked.audit->problems_total || checked.audit->leaves != leaves || checked.sources_checked != leaves) {
      std::fprintf(stderr, "ledger verify: %llu problems (%s), %llu leaves, %llu sources checked\n",
                   static_cast<unsigned long long>(checked.audit->problems_total),
                   checked.audit->problems.empty() ? "" : checked.audit->problems.front().message.c_str(),
                   static_cast<unsigned long long>(checked.audit->leaves), static_cast<unsigned long long>(checked.sources_checked));
      ok = false;
    }
  });

  double tree_s = 0;
  const long tree_peak = peak_during([&] {
    t0 = clock_type::now();
    evidence::ledger_audit audit(*b, pem, true);
    must_ok(audit.run(false), "audit with the tree");
    tree_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (!audit.latest_head || audit.latest_head->size != leaves) {
      std::fprintf(stderr, "the audit's latest head is not at %llu leaves\n", static_cast<unsigned long long>(leaves));
      ok = false;
      return;
    }
    for (std::uint64_t k = 0; k < 1000 && ok; ++k) {
      const std::uint64_t i = (k * 2654435761ull) % leaves;
      auto idx = must(audit.index_of_event("ev-" + std::to_string(i)), "index of event");
      auto leaf = must(audit.tree().node(0, i), "leaf hash");
      auto proof = must(merkle::inclusion_proof(audit.tree(), i, leaves), "inclusion proof");
      if (idx != std::optional<std::uint64_t>{i} || !merkle::verify_inclusion(leaf, i, leaves, proof, audit.latest_head->root)) {
        std::fprintf(stderr, "leaf %llu: no valid proof from the audit's tree\n", static_cast<unsigned long long>(i));
        ok = false;
      }
    }
    if (auto none = audit.index_of_event("never-recorded"); !none || none->has_value()) ok = false;
  });

  const double raw_rate = static_cast<double>(raw) / raw_s;
  std::printf("%llu leaves, %lld log events\n", static_cast<unsigned long long>(leaves), static_cast<long long>(end));
  std::printf("raw read of the ledger:        %.0f events/s\n", raw_rate);
  std::printf("ledger verify (check_ledger):  %.1f s, %.0f events/s, ratio %.3f to the raw read; peak RSS %ld MB\n", verify_s,
              static_cast<double>(end) / verify_s, static_cast<double>(end) / verify_s / raw_rate, verify_peak / 1024);
  std::printf("replay --verify audit (tree):  %.1f s, %.0f events/s, ratio %.3f to the raw read; peak RSS %ld MB\n", tree_s,
              static_cast<double>(end) / tree_s, static_cast<double>(end) / tree_s / raw_rate, tree_peak / 1024);
  std::printf("limit %ld MB: %s\n", limit_mb, ok && std::max(verify_peak, tree_peak) <= limit_mb * 1024 ? "within" : "FAILED");
  return ok && std::max(verify_peak, tree_peak) <= limit_mb * 1024 ? 0 : 1;
}
