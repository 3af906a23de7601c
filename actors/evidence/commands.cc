// `ledger verify`, and the ledger checks shared with replay --verify and doctor.
#include "actors/evidence/commands.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>

#include "actors/evidence/evidence.h"
#include "actors/evidence/keys.h"
#include "core/store/vault.h"
#include "core/bus/factory.h"
#include "core/event/codec.h"
#include "core/merkle/merkle.h"

namespace nf::evidence {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// The messages of [from, to) of one partition, read forward in chunks as callers ask for offsets
// in increasing order.
class ordered_reader {
 public:
  ordered_reader(bus::event_bus& bus, topic_partition tp, std::int64_t from, std::int64_t to) : bus_(bus), tp_(std::move(tp)), from_(from), to_(to), next_(from) {}

  // The first message at or after `off` (nullptr when none is left before `to`).
  result<const bus::message*> at_or_after(std::int64_t off) {
    for (;;) {
      while (pos_ < buf_.size() && buf_[pos_].off.get() < off) ++pos_;
      if (pos_ < buf_.size()) return &buf_[pos_];
      if (next_ >= to_) return static_cast<const bus::message*>(nullptr);
      if (!reader_) {
        NF_TRY_ASSIGN(reader_, bus_.make_consumer({}));
        NF_TRY(reader_->assign({{tp_, offset{from_}}}));
      }
      NF_TRY_ASSIGN(auto msgs, reader_->poll(std::chrono::milliseconds(500), static_cast<std::size_t>(std::min<std::int64_t>(4096, to_ - next_))));
      if (msgs.empty()) {
        if (++idle_ > 20) return error{errc::timeout, "reading " + to_string(tp_) + " stalled at offset " + std::to_string(next_)};
        continue;
      }
      idle_ = 0;
      buf_.clear();
      pos_ = 0;
      for (auto& m : msgs) {
        if (m.off.get() < next_ || m.off.get() >= to_) continue;
        next_ = m.off.get() + 1;
        buf_.push_back(std::move(m));
      }
    }
  }

 private:
  bus::event_bus& bus_;
  topic_partition tp_;
  std::int64_t from_, to_, next_;
  std::unique_ptr<bus::consumer> reader_;
  std::vector<bus::message> buf_;
  std::size_t pos_ = 0;
  int idle_ = 0;
};

}  // namespace

result<std::string> verification_key(const std::string& public_key_file, const config::config& cfg) {
  if (!public_key_file.empty()) {
    std::ifstream in(public_key_file);
    if (!in) return error{errc::not_found, "cannot read public key '" + public_key_file + "'"};
    std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    NF_TRY(merkle::key_id(pem));
    return pem;
  }
  NF_TRY_ASSIGN(const auto key_path, signing_key_path(cfg));
  auto s = merkle::signer::load(key_path);
  if (!s) return error{s.error().code, s.error().message + " (give the ledger's public key with --public-key)"};
  return (*s)->public_key_pem();
}

result<ledger_check> check_ledger(const config::config& cfg, bus::event_bus& bus, const std::string& public_key_pem, bool progress,
                                  const std::string& scratch_parent) {
  auto out = std::make_unique<ledger_audit>(bus, public_key_pem, false, scratch_parent);
  auto& audit = *out;
  NF_TRY(audit.run(progress));

  // Every leaf against the event it records, where that event still is in the log: each
  // partition's references in offset order, against one read of the range they span.
  std::uint64_t sources_checked = 0, sources_gone = 0;
  for (const auto& source : audit.source_partitions) {
    // Named references, not structured bindings: the lambda below captures them.
    const topic_partition& tp = source.first;
    const ledger_audit::source_span& span = source.second;
    auto begin = bus.begin_offset(tp);
    auto end = bus.end_offset(tp);
    const bool missing = !begin || !end;
    const std::int64_t from = missing ? span.first : std::max(span.first, begin->get());
    const std::int64_t to = missing ? span.first : std::min(end->get(), span.last + 1);
    ordered_reader log(bus, tp, from, to);
    std::optional<error> failed;
    auto each = audit.each_source(tp, [&](const ledger_audit::source_ref& r) {
      const auto at = to_string(tp) + "@" + std::to_string(r.offset);
      if (missing) {
        audit.add_problem({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event's topic " + to_string(tp) + " is missing"});
        return true;
      }
      if (r.offset < begin->get()) {
        ++sources_gone;
        return true;
      }
      if (r.offset >= end->get()) {
        audit.add_problem({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event at " + at + " is beyond the end of the log"});
        return true;
      }
      auto m = log.at_or_after(r.offset);
      if (!m) {
        failed = m.error();
        return false;
      }
      if (!*m || (*m)->off.get() != r.offset) {  // the log skips it
        audit.add_problem({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event at " + at + " is missing from the log"});
        return true;
      }
      auto env = event::from_message_as_stored(**m);
      if (!env)
        audit.add_problem({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event at " + at + " is unreadable"});
      else if (merkle::leaf_hash(event::canonical_bytes(*env)) != r.leaf_hash)
        audit.add_problem({r.index, std::nullopt,
                           "leaf " + std::to_string(r.index) + ": the event at " + at + " differs from the ledger's copy (one of them was changed)"});
      ++sources_checked;
      return true;
    });
    if (!each) return each.error();
    if (failed) return *failed;
  }

  // Blobs: those leaves name, then everything else in the vault.
  store::vault vault(blob_dir(cfg));
  std::uint64_t blobs_checked = 0;
  auto named = audit.each_blob([&](std::uint64_t index, const std::string& name) {
    const bool optional = !name.empty() && name.front() == '?';
    const auto sha = optional ? name.substr(1) : name;
    if (optional && !vault.contains(sha)) return true;
    auto bytes = vault.get(sha);
    audit.remember('v', sha);
    ++blobs_checked;
    if (!bytes) audit.add_problem({index, std::nullopt, "leaf " + std::to_string(index) + ": " + bytes.error().message});
    return true;
  });
  if (!named) return named.error();
  std::optional<error> failed;
  auto each = vault.each([&](const std::string& sha) {
    auto seen = audit.remembered('v', sha);
    if (!seen) {
      failed = seen.error();
      return false;
    }
    if (*seen) return true;
    ++blobs_checked;
    if (auto bytes = vault.get(sha); !bytes) audit.add_problem({std::nullopt, std::nullopt, bytes.error().message});
    return true;
  });
  if (!each) return each.error();
  if (failed) return *failed;

  // The first bad leaf (lowest index) first, then heads, then the rest.
  audit.sort_problems();
  ledger_check c;
  c.audit = std::move(out);
  c.sources_checked = sources_checked;
  c.sources_gone = sources_gone;
  c.blobs_checked = blobs_checked;
  return c;
}

int ledger_verify(const ledger_verify_args& a, const config::config& cfg) {
  auto fail = [](const std::string& msg) {
    std::cerr << "error: " << msg << "\n";
    return 2;
  };
  const auto started = clock_type::now();
  auto key = verification_key(a.public_key, cfg);
  if (!key) return fail(key.error().message);
  auto bus = bus::open_bus(cfg, bus::access::read_only);
  if (!bus) return fail(bus.error().message);
  auto checked = check_ledger(cfg, **bus, *key, !a.quiet, a.scratch_dir);
  if (!checked) return fail(checked.error().message);
  auto& audit = *checked->audit;
  const auto sources_checked = checked->sources_checked, sources_gone = checked->sources_gone, blobs_checked = checked->blobs_checked;
  const double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  const double rate = seconds > 0 ? static_cast<double>(audit.leaves) / seconds : 0;
  const bool ok = audit.problems.empty();
  if (a.json) {
    json problems = json::array();
    for (const auto& p : audit.problems) {
      json j{{"message", p.message}};
      if (p.index) j["index"] = *p.index;
      if (p.head_size) j["headSize"] = *p.head_size;
      problems.push_back(j);
    }
    json out{{"ok", ok},
             {"leaves", audit.leaves},
             {"heads", audit.heads},
             {"refusedRecords", audit.fenced},
             {"signedSize", audit.latest_head ? audit.latest_head->size : 0},
             {"sourcesChecked", sources_checked},
             {"sourcesPastRetention", sources_gone},
             {"blobsChecked", blobs_checked},
             {"problems", problems},
             {"problemCount", audit.problems_total},
             {"seconds", seconds},
             {"leavesPerSecond", rate}};
    if (!ok && audit.problems.front().index) out["firstBadIndex"] = *audit.problems.front().index;
    if (!ok && !audit.problems.front().index && audit.problems.front().head_size) out["firstBadHead"] = *audit.problems.front().head_size;
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << "leaves: " << audit.leaves << ", heads: " << audit.heads << ", records of deposed owners refused: " << audit.fenced
              << ", latest good head at size "
              << (audit.latest_head ? audit.latest_head->size : 0) << "\n"
              << "events checked against the log: " << sources_checked << " (" << sources_gone << " past retention)\n"
              << "blobs checked: " << blobs_checked << "\n"
              << "time: " << seconds << " s (" << static_cast<std::uint64_t>(rate) << " leaves/s)\n";
    if (ok) {
      std::cout << "OK: every leaf, head and blob checks out\n";
    } else {
      const auto& first = audit.problems.front();
      std::cout << "FAILED: " << audit.problems_total << " problem(s); first "
                << (first.index ? "bad leaf index " + std::to_string(*first.index)
                                : first.head_size ? "bad head at size " + std::to_string(*first.head_size) : std::string("problem"))
                << "\n";
      std::size_t shown = 0;
      for (const auto& p : audit.problems) {
        if (++shown > 20) {
          std::cout << "  ... and " << audit.problems_total - 20 << " more\n";
          break;
        }
        std::cout << "  " << p.message << "\n";
      }
    }
  }
  return ok ? 0 : 1;
}

result<std::unique_ptr<replay_verifier>> replay_verifier::open(bus::event_bus& bus, const config::config& cfg,
                                                                const std::string& public_key_file, bool progress) {
  NF_TRY_ASSIGN(auto key, verification_key(public_key_file, cfg));
  auto audit = std::make_unique<ledger_audit>(bus, key, true);
  NF_TRY(audit->run(progress));
  return std::unique_ptr<replay_verifier>(new replay_verifier(std::move(audit)));
}

json replay_verifier::check(const bus::message& m) {
  auto env = event::from_message_as_stored(m);
  if (!env) {
    ++failed_;
    return json{{"ok", false}, {"reason", "unreadable: " + env.error().message}};
  }
  const auto& t = env->type();
  if (t != "mission.artifact_recorded" && t != "mission.validation_reported" && t != "evidence.record_submitted") return nullptr;
  const auto id = event::event_id::from_raw(env->id());
  auto found = id ? audit_->index_of_event(id->to_string()) : result<std::optional<std::uint64_t>>(std::optional<std::uint64_t>{});
  if (!found) {
    ++failed_;
    return json{{"ok", false}, {"reason", "the ledger's index cannot be read: " + found.error().message}};
  }
  if (!*found) {
    ++failed_;
    return json{{"ok", false}, {"reason", "not in the ledger"}};
  }
  const auto index = **found;
  const auto lh = merkle::leaf_hash(event::canonical_bytes(*env));
  auto stored = audit_->tree().node(0, index);
  if (!stored || *stored != lh) {
    ++failed_;
    return json{{"ok", false}, {"index", index}, {"reason", "the event differs from leaf " + std::to_string(index)}};
  }
  if (!audit_->latest_head || index >= audit_->latest_head->size) {
    ++pending_;
    return json{{"ok", true}, {"index", index}, {"pending", "recorded after the latest signed head"}};
  }
  const auto& head = *audit_->latest_head;
  auto proof = merkle::inclusion_proof(audit_->tree(), index, head.size);
  if (!proof || !merkle::verify_inclusion(lh, index, head.size, *proof, head.root)) {
    ++failed_;
    return json{{"ok", false}, {"index", index}, {"reason", "no valid inclusion proof against the head at size " + std::to_string(head.size)}};
  }
  ++verified_;
  return json{{"ok", true}, {"index", index}, {"treeSize", head.size}, {"proofLength", proof->size()}};
}

void add_commands(CLI::App& app, ledger_verify_args& args, const feature::command_context& ctx,
                  std::vector<feature::feature::command>& out) {
  args.config = ctx.default_config;
  auto* ledger_cmd = app.add_subcommand("ledger", "the evidence ledger");
  ledger_cmd->require_subcommand(1);
  auto* verify = ledger_cmd->add_subcommand(
      "verify", "recompute the ledger from the log: every leaf against its event, every signed head (root, signature, consistency), "
                "every vault blob; exit 1 naming the first bad leaf index or head (read-only; works beside a server)");
  verify->add_option("--config,-c", args.config, "configuration file (JSON)")->capture_default_str();
  verify->add_option("--public-key", args.public_key, "the ledger's public key (PEM); default: the data dir's signing key");
  verify->add_flag("--json", args.json, "one JSON summary with the problems (the first 1000 by rank, and problemCount)");
  verify->add_option("--scratch-dir", args.scratch_dir,
                     "where the audit keeps its per-leaf sets while it runs (removed after; default: the temporary directory)");
  verify->add_flag("--quiet,-q", args.quiet, "no progress on stderr");
  out.push_back({verify, [&args, ctx] {
                   auto cfg = ctx.load_config(args.config);
                   if (!cfg) {
                     std::cerr << "error: " << cfg.error().message << "\n";
                     return 2;
                   }
                   return ledger_verify(args, *cfg);
                 }});
}

}  // namespace nf::evidence
