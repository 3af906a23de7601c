// `ledger verify`, and the ledger checks shared with replay --verify and doctor.
#include "actors/evidence/commands.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include <CLI/CLI.hpp>

#include "actors/evidence/evidence.h"
#include "actors/evidence/keys.h"
#include "actors/evidence/vault.h"
#include "core/bus/factory.h"
#include "core/event/codec.h"
#include "core/merkle/merkle.h"

namespace nf::evidence {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

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

result<ledger_check> check_ledger(const config::config& cfg, bus::event_bus& bus, const std::string& public_key_pem, bool progress) {
  auto out = std::make_unique<ledger_audit>(bus, public_key_pem, false);
  auto& audit = *out;
  NF_TRY(audit.run(progress));

  // Every leaf against the event it records, where that event still is in the log.
  std::uint64_t sources_checked = 0, sources_gone = 0;
  for (auto& source : audit.sources) {
    // Named references, not structured bindings: the lambda below captures them.
    const topic_partition& tp = source.first;
    auto& refs = source.second;
    std::sort(refs.begin(), refs.end(), [](const auto& x, const auto& y) { return x.offset < y.offset; });
    auto begin = bus.begin_offset(tp);
    auto end = bus.end_offset(tp);
    if (!begin || !end) {
      for (const auto& r : refs)
        audit.problems.push_back({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event's topic " + to_string(tp) + " is missing"});
      continue;
    }
    std::size_t i = 0;
    while (i < refs.size() && refs[i].offset < begin->get()) ++i, ++sources_gone;
    if (i == refs.size()) continue;
    const std::int64_t to = std::min(end->get(), refs.back().offset + 1);
    auto r = read_range(bus, tp, refs[i].offset, to, [&](const bus::message& m) {
      while (i < refs.size() && refs[i].offset < m.off.get()) {
        audit.problems.push_back({refs[i].index, std::nullopt,
                                  "leaf " + std::to_string(refs[i].index) + ": its event at " + to_string(tp) + "@" +
                                      std::to_string(refs[i].offset) + " is missing from the log"});
        ++i;
      }
      if (i < refs.size() && refs[i].offset == m.off.get()) {
        auto env = event::from_message_as_stored(m);
        const auto where = to_string(tp) + "@" + std::to_string(m.off.get());
        if (!env)
          audit.problems.push_back({refs[i].index, std::nullopt, "leaf " + std::to_string(refs[i].index) + ": its event at " + where + " is unreadable"});
        else if (merkle::leaf_hash(event::canonical_bytes(*env)) != refs[i].leaf_hash)
          audit.problems.push_back({refs[i].index, std::nullopt,
                                    "leaf " + std::to_string(refs[i].index) + ": the event at " + where +
                                        " differs from the ledger's copy (one of them was changed)"});
        ++sources_checked;
        ++i;
      }
      return i < refs.size();
    });
    if (!r) return r.error();
    for (; i < refs.size(); ++i)
      audit.problems.push_back({refs[i].index, std::nullopt,
                                "leaf " + std::to_string(refs[i].index) + ": its event at " + to_string(tp) + "@" + std::to_string(refs[i].offset) +
                                    " is beyond the end of the log"});
  }

  // Blobs: those leaves name, then everything else in the vault.
  evidence::vault vault(blob_dir(cfg));
  std::uint64_t blobs_checked = 0;
  std::set<std::string> checked;
  for (const auto& b : audit.blobs) {
    const bool optional = b.sha256.front() == '?';
    const auto sha = optional ? b.sha256.substr(1) : b.sha256;
    if (optional && !vault.contains(sha)) continue;
    auto bytes = vault.get(sha);
    checked.insert(sha);
    ++blobs_checked;
    if (!bytes) audit.problems.push_back({b.index, std::nullopt, "leaf " + std::to_string(b.index) + ": " + bytes.error().message});
  }
  auto each = vault.each([&](const std::string& sha) {
    if (checked.count(sha)) return true;
    ++blobs_checked;
    if (auto bytes = vault.get(sha); !bytes) audit.problems.push_back({std::nullopt, std::nullopt, bytes.error().message});
    return true;
  });
  if (!each) return each.error();

  // The first bad leaf (lowest index) first, then heads, then the rest.
  std::stable_sort(audit.problems.begin(), audit.problems.end(), [](const ledger_problem& x, const ledger_problem& y) {
    auto rank = [](const ledger_problem& p) {
      return p.index ? std::pair<int, std::uint64_t>{0, *p.index} : p.head_size ? std::pair<int, std::uint64_t>{1, *p.head_size}
                                                                              : std::pair<int, std::uint64_t>{2, 0};
    };
    return rank(x) < rank(y);
  });
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
  auto checked = check_ledger(cfg, **bus, *key, !a.quiet);
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
      std::cout << "FAILED: " << audit.problems.size() << " problem(s); first "
                << (first.index ? "bad leaf index " + std::to_string(*first.index)
                                : first.head_size ? "bad head at size " + std::to_string(*first.head_size) : std::string("problem"))
                << "\n";
      std::size_t shown = 0;
      for (const auto& p : audit.problems) {
        if (++shown > 20) {
          std::cout << "  ... and " << audit.problems.size() - 20 << " more\n";
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
  auto it = id ? audit_->index_of_event.find(id->to_string()) : audit_->index_of_event.end();
  if (it == audit_->index_of_event.end()) {
    ++failed_;
    return json{{"ok", false}, {"reason", "not in the ledger"}};
  }
  const auto index = it->second;
  const auto lh = merkle::leaf_hash(event::canonical_bytes(*env));
  auto stored = audit_->tree.node(0, index);
  if (!stored || *stored != lh) {
    ++failed_;
    return json{{"ok", false}, {"index", index}, {"reason", "the event differs from leaf " + std::to_string(index)}};
  }
  if (!audit_->latest_head || index >= audit_->latest_head->size) {
    ++pending_;
    return json{{"ok", true}, {"index", index}, {"pending", "recorded after the latest signed head"}};
  }
  const auto& head = *audit_->latest_head;
  auto proof = merkle::inclusion_proof(audit_->tree, index, head.size);
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
  verify->add_flag("--json", args.json, "one JSON summary with every problem");
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
