// Memory bound of the evidence actor's decision path over a long ledger: for N leaves (default
// 10,000,000), each input is checked against the ledger read model's event index (as the actor
// asks it), decided and evolved with the actor's pure logic, and its leaf event folded into the
// ledger read model (RocksDB) in batches of 1,000, with a head every 1,000 leaves; every 10th
// input repeats an earlier event, which must get no leaf. Samples the process RSS; exits non-zero
// if the peak exceeds the limit (default 400 MB) or a repeat got a leaf.
// Run: build/bench/nf_bench_evidence_memory [leaves] [limit_mb]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "actors/evidence/evidence.h"
#include "bench/rss.h"
#include "core/log/log.h"
#include "envelope.pb.h"
#include "ledger.pb.h"
#include "projections/ledger/ledger.h"

namespace {

namespace fs = std::filesystem;
using namespace nf;

using nf::bench::rss_kb;

std::string event_id(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-8000-%012llu", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t leaves = argc > 1 ? std::stoull(argv[1]) : 10'000'000;
  const long limit_mb = argc > 2 ? std::stol(argv[2]) : 400;
  nf::log::set_level("warn");
  const auto dir = fs::temp_directory_path() / ("nf-bench-evidence-mem-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto opened = projection::store::open({(dir / "store").string(), false});
  if (!opened) {
    std::fprintf(stderr, "cannot open the store: %s\n", opened.error().message.c_str());
    return 2;
  }
  auto store = std::move(*opened);
  ledger::ledger_projection proj;
  if (!store->attach(proj)) return 2;
  ledger::ledger_view view(*store, proj);
  evidence::state s;
  std::vector<bus::message> batch;
  batch.reserve(1000);
  long peak = rss_kb();
  std::uint64_t inputs = 0, repeats_refused = 0, next_event = 0;
  const auto started = std::chrono::steady_clock::now();
  while (s.next_index < leaves) {
    // Every 10th input is an event recorded before (a redelivery): no second leaf.
    const bool repeat = inputs % 10 == 9 && next_event > 0;
    const auto id = event_id(repeat ? (inputs * 7919) % next_event : next_event);
    ++inputs;
    evidence::input in;
    in.event_id = id;
    in.data = std::string(64, static_cast<char>('a' + inputs % 26)) + id;
    auto known = view.index_of_event(id);
    if (!known) {
      std::fprintf(stderr, "index lookup failed: %s\n", known.error().message.c_str());
      return 2;
    }
    // The read model is behind by the batch not yet folded: those ids are the batch's own.
    bool in_batch = false;
    if (repeat && !known->has_value())
      for (const auto& m : batch)
        if (m.key == id) in_batch = true;
    auto l = evidence::decide(s, in, known->has_value() || in_batch);
    if (repeat) {
      if (l) {
        std::fprintf(stderr, "event %s got a second leaf\n", id.c_str());
        return 1;
      }
      ++repeats_refused;
      continue;
    }
    ++next_event;
    events::LedgerLeaf leaf;
    leaf.set_index(l->index);
    leaf.set_data(in.data);
    leaf.set_event_id(id);
    events::Envelope env;
    env.set_type(ledger::kLeafAppended);
    env.set_key("ledger");
    env.mutable_payload()->PackFrom(leaf);
    batch.push_back(bus::message{topic_name{ledger::kLedgerTopic}, partition_id{0}, offset{static_cast<std::int64_t>(l->index)}, 1, id,
                                 env.SerializeAsString(), {}});
    s = evidence::evolve(std::move(s), in);
    if (batch.size() == 1000 || s.next_index == leaves) {
      if (auto r = store->apply(proj, batch); !r) {
        std::fprintf(stderr, "apply failed: %s\n", r.error().message.c_str());
        return 2;
      }
      batch.clear();
      auto h = evidence::next_head(s, 1);
      if (h) s = evidence::with_head(std::move(s), *h);
      if (s.next_index % 100'000 == 0) {
        peak = std::max(peak, rss_kb());
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::fprintf(stderr, "\r%llu leaves, %.0f leaves/s, RSS %ld MB, peak %ld MB", static_cast<unsigned long long>(s.next_index),
                     static_cast<double>(s.next_index) / secs, rss_kb() / 1024, peak / 1024);
      }
    }
  }
  peak = std::max(peak, rss_kb());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("\n%llu leaves (%llu repeats refused) in %.1f s (%.0f leaves/s): peak RSS %ld MB (limit %ld MB)\n",
              static_cast<unsigned long long>(s.next_index), static_cast<unsigned long long>(repeats_refused), secs,
              static_cast<double>(s.next_index) / secs, peak / 1024, limit_mb);
  store.reset();
  fs::remove_all(dir);
  return peak / 1024 > limit_mb ? 1 : 0;
}
