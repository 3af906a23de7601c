// ledger verify and the ledger audit shared with replay --verify.
#include "apps/nexus-forge/ledger_commands.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "actors/evidence/evidence.h"
#include "actors/evidence/vault.h"
#include "core/bus/factory.h"
#include "core/event/codec.h"
#include "ledger.pb.h"
#include "missions.pb.h"

namespace nf::cli {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// Reads [from, to) of one partition in order, calling fn(message); stops early if fn returns false.
template <class F>
result<void> read_range(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to, F&& fn) {
  if (from >= to) return ok();
  NF_TRY_ASSIGN(auto c, b.make_consumer({}));
  NF_TRY(c->assign({{tp, offset{from}}}));
  std::int64_t next = from;
  int idle = 0;
  while (next < to) {
    NF_TRY_ASSIGN(auto msgs, c->poll(std::chrono::milliseconds(500), static_cast<std::size_t>(std::min<std::int64_t>(4096, to - next))));
    if (msgs.empty()) {
      if (++idle > 20) return error{errc::timeout, "reading " + to_string(tp) + " stalled at offset " + std::to_string(next)};
      continue;
    }
    idle = 0;
    for (const auto& m : msgs) {
      if (m.off.get() < next || m.off.get() >= to) continue;
      next = m.off.get() + 1;
      if (!fn(m)) return ok();
    }
  }
  return ok();
}

std::string hash_of_hex(const std::string& checksum) {
  // ArtifactEvidence.checksum is "sha256:<hex>"; anything else names no vault blob.
  if (checksum.rfind("sha256:", 0) != 0) return {};
  auto hex = checksum.substr(7);
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return evidence::vault::valid_name(hex) ? hex : std::string();
}

}  // namespace

std::string signing_key_path(const config::config& cfg) {
  return cfg.ledger.signing_key.empty() ? cfg.data_dir + "/ledger/tree-head.key" : cfg.ledger.signing_key;
}

std::string blob_dir(const config::config& cfg) { return cfg.data_dir + "/evidence/blobs"; }

result<std::shared_ptr<merkle::signer>> load_signer(const config::config& cfg) {
  const auto path = signing_key_path(cfg);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  NF_TRY_ASSIGN(auto s, merkle::signer::load_or_create(path));
  return std::shared_ptr<merkle::signer>(std::move(s));
}

result<std::string> verification_key(const std::string& public_key_file, const config::config& cfg) {
  if (!public_key_file.empty()) {
    std::ifstream in(public_key_file);
    if (!in) return error{errc::not_found, "cannot read public key '" + public_key_file + "'"};
    std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    NF_TRY(merkle::key_id(pem));
    return pem;
  }
  auto s = merkle::signer::load(signing_key_path(cfg));
  if (!s) return error{s.error().code, s.error().message + " (give the ledger's public key with --public-key)"};
  return (*s)->public_key_pem();
}

result<void> ledger_audit::run(bool progress) {
  if (auto id = merkle::key_id(public_key_pem_)) key_id_ = *id;
  else return id.error();
  const topic_partition tp{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  if (!bus_.describe_topic(tp.topic)) return ok();  // nothing recorded yet
  NF_TRY_ASSIGN(auto begin, bus_.begin_offset(tp));
  NF_TRY_ASSIGN(auto end, bus_.end_offset(tp));
  if (begin.get() > 0)
    problems.push_back({0, std::nullopt,
                        "the first " + std::to_string(begin.get()) + " events of evidence.ledger are gone (retention): the tree cannot be recomputed"});
  const auto total = end.get() - begin.get();
  auto last = clock_type::now();
  std::int64_t done = 0;
  NF_TRY(read_range(bus_, tp, begin.get(), end.get(), [&](const bus::message& m) {
    auto env = event::from_message(m);
    if (!env) {
      problems.push_back({leaves, std::nullopt, "evidence.ledger@" + std::to_string(m.off.get()) + " is unreadable: " + env.error().message});
    } else if (env->type() == evidence::kLeafAppended) {
      leaf(m, m.off.get());
    } else if (env->type() == evidence::kTreeHead) {
      head(m, m.off.get());
    }
    ++done;
    if (progress && clock_type::now() - last > std::chrono::seconds(1)) {
      last = clock_type::now();
      std::cerr << "ledger: " << done << "/" << total << " events (" << (total ? done * 100 / total : 100) << "%)\n";
    }
    return true;
  }));
  return ok();
}

void ledger_audit::leaf(const bus::message& m, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  auto env = event::from_message(m);
  events::LedgerLeaf l;
  if (!env->payload().UnpackTo(&l)) {
    problems.push_back({leaves, std::nullopt, where + ": a leaf event without a LedgerLeaf"});
    return;
  }
  const auto index = leaves;
  if (l.index() != index) {
    problems.push_back({index, std::nullopt, where + ": leaf index " + std::to_string(l.index()) + " where " + std::to_string(index) + " was expected"});
  }
  if (!l.event_id().empty()) {
    auto [it, fresh] = seen_.emplace(l.event_id(), index);
    if (!fresh)
      problems.push_back({index, std::nullopt, "leaf " + std::to_string(index) + " records event " + l.event_id() + " again (first at leaf " +
                                                   std::to_string(it->second) + ")"});
  }
  const auto lh = merkle::leaf_hash(l.data());
  frontier_.append(lh);
  since_head_.push_back(lh);
  if (keep_tree_) {
    tree.append_leaf_hash(lh);
    if (!l.event_id().empty()) index_of_event.emplace(l.event_id(), index);
  }
  if (!l.source_topic().empty())
    sources[topic_partition{topic_name{l.source_topic()}, partition_id{l.source_partition()}}].push_back({l.source_offset(), index, lh});
  // Blobs the recorded event names: vault records always, artifacts when their content was uploaded.
  events::Envelope recorded;
  if (recorded.ParseFromString(l.data())) {
    if (recorded.type() == evidence::kRecordSubmitted) {
      events::EvidenceRecord r;
      if (recorded.payload().UnpackTo(&r)) blobs.push_back({r.sha256(), index});
    } else if (recorded.type() == "mission.artifact_recorded") {
      events::ArtifactEvidence a;
      if (recorded.payload().UnpackTo(&a))
        if (auto sha = hash_of_hex(a.checksum()); !sha.empty()) blobs.push_back({"?" + sha, index});
    }
  }
  ++leaves;
}

void ledger_audit::head(const bus::message& m, std::int64_t off) {
  const auto where = "evidence.ledger@" + std::to_string(off);
  auto env = event::from_message(m);
  events::TreeHead t;
  if (!env->payload().UnpackTo(&t) || t.root_hash().size() != 32) {
    problems.push_back({std::nullopt, frontier_.size(), where + ": a tree head event without a TreeHead"});
    return;
  }
  ++heads;
  merkle::tree_head h;
  h.size = t.tree_size();
  std::copy(t.root_hash().begin(), t.root_hash().end(), h.root.begin());
  h.timestamp_ms = t.timestamp_ms();
  h.signature = t.signature();
  const auto name = "head at size " + std::to_string(h.size) + " (" + where + ")";
  const auto before = problems.size();
  auto bad = [&](const std::string& what) { problems.push_back({std::nullopt, h.size, name + ": " + what}); };
  if (h.size != frontier_.size()) {
    bad("it follows " + std::to_string(frontier_.size()) + " leaves");
  } else if (h.root != frontier_.root()) {
    bad("the signed root is not the root of the leaves before it");
  }
  auto sig = merkle::verify_head(h, public_key_pem_);
  if (!sig || !*sig) bad("the signature does not verify with the ledger's public key");
  if (t.key_id().size() != 32 || std::memcmp(key_id_.data(), t.key_id().data(), 32) != 0) bad("signed with another key id");
  if (prev_) {
    if (h.timestamp_ms < prev_->timestamp_ms) bad("its timestamp is earlier than the previous head's");
    if (h.size < prev_->size) {
      bad("the tree shrank from " + std::to_string(prev_->size));
    } else if (h.size == frontier_.size()) {
      auto proof = merkle::extension_proof(at_head_, since_head_);
      if (!proof || !merkle::verify_consistency(prev_->size, h.size, prev_->root, h.root, *proof))
        bad("not consistent with the head at size " + std::to_string(prev_->size));
    }
  }
  at_head_ = frontier_;
  since_head_.clear();
  prev_ = h;
  if (problems.size() == before) latest_head = h;
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
  ledger_audit audit(**bus, *key, false);
  if (auto r = audit.run(!a.quiet); !r) return fail(r.error().message);

  // Every leaf against the event it records, where that event still is in the log.
  std::uint64_t sources_checked = 0, sources_gone = 0;
  for (auto& [tp, refs] : audit.sources) {
    std::sort(refs.begin(), refs.end(), [](const auto& x, const auto& y) { return x.offset < y.offset; });
    auto begin = (*bus)->begin_offset(tp);
    auto end = (*bus)->end_offset(tp);
    if (!begin || !end) {
      for (const auto& r : refs)
        audit.problems.push_back({r.index, std::nullopt, "leaf " + std::to_string(r.index) + ": its event's topic " + to_string(tp) + " is missing"});
      continue;
    }
    std::size_t i = 0;
    while (i < refs.size() && refs[i].offset < begin->get()) ++i, ++sources_gone;
    if (i == refs.size()) continue;
    const std::int64_t to = std::min(end->get(), refs.back().offset + 1);
    auto r = read_range(**bus, tp, refs[i].offset, to, [&](const bus::message& m) {
      while (i < refs.size() && refs[i].offset < m.off.get()) {
        audit.problems.push_back({refs[i].index, std::nullopt,
                                  "leaf " + std::to_string(refs[i].index) + ": its event at " + to_string(tp) + "@" +
                                      std::to_string(refs[i].offset) + " is missing from the log"});
        ++i;
      }
      if (i < refs.size() && refs[i].offset == m.off.get()) {
        auto env = event::from_message(m);
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
    if (!r) return fail(r.error().message);
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
  if (!each) return fail(each.error().message);

  // The first bad leaf (lowest index) first, then heads, then the rest.
  std::stable_sort(audit.problems.begin(), audit.problems.end(), [](const ledger_problem& x, const ledger_problem& y) {
    auto rank = [](const ledger_problem& p) {
      return p.index ? std::pair<int, std::uint64_t>{0, *p.index} : p.head_size ? std::pair<int, std::uint64_t>{1, *p.head_size}
                                                                              : std::pair<int, std::uint64_t>{2, 0};
    };
    return rank(x) < rank(y);
  });
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
    std::cout << "leaves: " << audit.leaves << ", heads: " << audit.heads << ", latest good head at size "
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

}  // namespace nf::cli
