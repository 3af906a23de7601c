#include "actors/marketplace/commands.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/marketplace/manifest.h"
#include "actors/marketplace/package.h"
#include "actors/marketplace/scan.h"
#include "actors/marketplace/semver.h"
#include "core/base/base64.h"
#include "core/base/hex.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"
#include "envelope.pb.h"
#include "ledger.pb.h"
#include "core/http/client.h"
#include "core/http/message.h"

extern char** environ;

namespace nf::marketplace {

namespace {

namespace client = http::client;
namespace fs = std::filesystem;
using json = nlohmann::json;

// Runs argv (no shell) and waits; its exit status, or -1 when it could not start.
int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct temp_dir {
  std::string path;
  ~temp_dir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

std::optional<json> reply_json(const std::optional<client::reply>& r, int& rc, const std::string& err, std::initializer_list<int> ok) {
  if (!r) {
    rc = client::fail(err);
    return std::nullopt;
  }
  if (std::find(ok.begin(), ok.end(), r->status) == ok.end()) {
    rc = client::api_error(*r);
    return std::nullopt;
  }
  if (!r->position.empty()) client::remember_position(r->position);
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) {
    rc = client::fail("the server's answer is not JSON");
    return std::nullopt;
  }
  return j;
}

std::pair<std::string, std::string> split_spec(const std::string& spec) {
  const auto at = spec.find('@');
  if (at == std::string::npos) return {spec, ""};
  return {spec.substr(0, at), spec.substr(at + 1)};
}

int publish(const cli_args& a) {
  temp_dir tmp;
  std::string dir = a.dir;
  if (!a.git.empty()) {
    // The package at a ref of a git repository, as `git archive` writes it.
    std::string templ = (fs::temp_directory_path() / "nf-publish-XXXXXX").string();
    if (!::mkdtemp(templ.data())) return client::fail("cannot create a temporary directory");
    tmp.path = templ;
    const std::string tar = tmp.path + "/package.tar", out = tmp.path + "/package";
    fs::create_directories(out);
    if (run({"git", "-C", a.git, "archive", "--format=tar", "-o", tar, a.ref}) != 0)
      return client::fail("git archive of '" + a.git + "' at '" + a.ref + "' failed");
    if (run({"tar", "-xf", tar, "-C", out}) != 0) return client::fail("cannot unpack the archive of '" + a.git + "'");
    dir = out;
  }
  if (dir.empty()) return client::fail("name a package directory, or --git PATH --ref REF");
  auto body = package_body(dir);
  if (!body) return client::fail(body.error().message);
  std::string err;
  const auto r = client::call(a.server, http::verb::post, "/marketplace/agents", body->dump(), err, client::key_or_env(a.key));
  int rc = 0;
  auto j = reply_json(r, rc, err, {202});
  if (!j) return rc;
  const std::string name = j->value("name", ""), version = j->value("version", "");
  if (!a.wait) {
    std::cout << (a.json ? j->dump() : "submitted " + name + "@" + version + " (" + j->value("digest", "") + ")") << "\n";
    return 0;
  }
  // Follow the pipeline until it stops: pending review, approved, rejected or failed.
  std::string shown = "submitted";
  if (!a.json) std::cerr << name << "@" << version << ": submitted\n";
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.timeout_ms);
  for (;;) {
    const auto g = client::read_after_write(a.server, "/marketplace/agents/" + name + "/" + version, err, client::key_or_env(a.key));
    auto doc = reply_json(g, rc, err, {200});
    if (!doc) return rc;
    const std::string status = doc->value("status", "");
    if (status != shown && !a.json) std::cerr << name << "@" << version << ": " << status << "\n";
    shown = status;
    if (status == "pending_review" || status == "approved" || status == "rejected" || status == "failed") {
      if (a.json) {
        std::cout << doc->dump() << "\n";
      } else {
        if (status == "failed") std::cout << "failed at " << doc->value("failedStage", "") << ": " << doc->value("reason", "") << "\n";
        for (const auto& f : doc->value("findings", json::array()))
          std::cout << "  " << f.value("severity", "") << "\t" << f.value("rule", "") << "\t" << f.value("file", "") << ":" << f.value("line", 0)
                    << "\t" << f.value("message", "") << "\n";
        std::cout << name << "@" << version << " " << status << "\n";
      }
      return status == "failed" || status == "rejected" ? 1 : 0;
    }
    if (std::chrono::steady_clock::now() > until) return client::fail("the pipeline of " + name + "@" + version + " is still at " + status);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int resolve_cmd(const cli_args& a) {
  const auto [name, range] = split_spec(a.spec);
  std::string target = "/marketplace/resolve?name=" + http::url_encode(name);
  if (!range.empty()) target += "&range=" + http::url_encode(range);
  std::string err;
  const auto r = client::read_after_write(a.server, target, err, client::key_or_env(a.key));
  if (!r) return client::fail(err);
  auto j = json::parse(r->body, nullptr, false);
  if (r->status == 409 && !j.is_discarded()) {
    if (a.json) {
      std::cout << j.dump() << "\n";
      return 1;
    }
    const auto& e = j.value("error", json::object());
    std::cerr << "error: " << e.value("message", "") << " (" << e.value("code", "") << ")\n";
    if (e.contains("explanation"))
      for (const auto& line : e["explanation"].value("derivation", json::array()))
        std::cerr << "  " << line.value("line", 0) << ". " << line.value("text", "") << "\n";
    return 1;
  }
  if (r->status != 200 || j.is_discarded()) return client::api_error(*r);
  if (a.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::map<std::string, std::string> digest;
  for (const auto& p : j["resolved"]) digest[p.value("name", "") + "@" + p.value("version", "")] = p.value("sha256", "");
  for (const auto& o : j["order"]) std::cout << o.get<std::string>() << "\t" << digest[o.get<std::string>()] << "\n";
  return 0;
}

int search_cmd(const cli_args& a) {
  std::string target = "/marketplace/agents?q=" + http::url_encode(a.query) + "&page=" + std::to_string(a.page) +
                       "&per_page=" + std::to_string(a.per_page);
  if (!a.category.empty()) target += "&category=" + http::url_encode(a.category);
  if (!a.protocol.empty()) target += "&protocol=" + http::url_encode(a.protocol);
  if (!a.capability.empty()) target += "&capability=" + http::url_encode(a.capability);
  if (a.min_rating > 0) target += "&min_rating=" + std::to_string(a.min_rating);
  if (a.explain) target += "&explain=true";
  std::string err;
  const auto r = client::read_after_write(a.server, target, err, client::key_or_env(a.key));
  int rc = 0;
  auto j = reply_json(r, rc, err, {200});
  if (!j) return rc;
  if (a.json) {
    std::cout << j->dump() << "\n";
    return 0;
  }
  for (const auto& h : (*j)["items"]) {
    std::printf("%-32s %-12s %5.3f  %.1f★ (%lld)  %lld installs  %s\n", h.value("name", "").c_str(), h.value("version", "").c_str(),
                h.value("score", 0.0), h.value("rating", 0.0), static_cast<long long>(h.value("ratingCount", 0)),
                static_cast<long long>(h.value("installs", 0)), h.value("description", "").substr(0, 60).c_str());
    if (h.contains("explain"))
      std::printf("%-32s relevance %.3f, rating %.3f, usage %.3f\n", "", h["explain"].value("relevance", 0.0), h["explain"].value("rating", 0.0),
                  h["explain"].value("usage", 0.0));
  }
  std::cout << j->value("total", 0) << " match(es), page " << j->value("page", 1) << "\n";
  return 0;
}

// ---- install ----------------------------------------------------------------------------------
//
// Everything is downloaded and verified into staging directories first (each file's SHA-256, the
// package digest recomputed from the manifest and the files, the ledger leaf that records that
// digest, its inclusion proof against a signed tree head whose signature checks); only when every
// package passes are the staging directories renamed into place, dependencies first. A mismatch
// anywhere removes the staging directories: nothing is half-installed.

struct verified {
  std::string name, version, digest;
  std::uint64_t leaf = 0;
  std::string staged;  // the staging directory
};

struct install_failure {
  std::string message;
};

class installer {
 public:
  explicit installer(const cli_args& a) : a_(a), key_(client::key_or_env(a.key)) {}

  json get(const std::string& target) {
    std::string err;
    auto r = client::read_after_write(a_.server, target, err, key_);
    if (!r) throw install_failure{err};
    if (r->status != 200) {
      auto j = json::parse(r->body, nullptr, false);
      const std::string msg = j.is_object() && j.contains("error") ? j["error"].value("message", r->body) : r->body;
      throw install_failure{target + ": HTTP " + std::to_string(r->status) + ": " + msg};
    }
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_discarded()) throw install_failure{target + ": the answer is not JSON"};
    return j;
  }
  std::string get_bytes(const std::string& target) {
    std::string err;
    auto r = client::call(a_.server, http::verb::get, target, "", err, key_);
    if (!r) throw install_failure{err};
    if (r->status != 200) throw install_failure{target + ": HTTP " + std::to_string(r->status)};
    return r->body;
  }

  // The ledger's key (pinned by --ledger-key when given) and its latest signed head.
  void load_head() {
    const auto k = get("/ledger/public-key");
    pem_ = k.value("public_key_pem", "");
    if (!a_.ledger_key.empty()) {
      std::ifstream in(a_.ledger_key);
      std::stringstream ss;
      ss << in.rdbuf();
      if (!in || ss.str().empty()) throw install_failure{"cannot read the ledger key '" + a_.ledger_key + "'"};
      if (ss.str() != pem_) throw install_failure{"the server's ledger key is not the one in " + a_.ledger_key};
    }
    key_id_ = k.value("key_id", "");
    const auto h = get("/ledger/tree-head");
    head_.size = h.value("tree_size", std::uint64_t{0});
    auto root = merkle::from_hex(h.value("root_hash", ""));
    auto sig = from_hex(h.value("signature", ""));
    if (!root || !sig) throw install_failure{"the tree head is malformed"};
    head_.root = *root;
    head_.timestamp_ms = h.value("timestamp", std::int64_t{0});
    head_.signature = *sig;
    auto ok = merkle::verify_head(head_, pem_);
    if (!ok || !*ok) throw install_failure{"the ledger's tree head at size " + std::to_string(head_.size) + " does not carry a valid signature"};
  }

  verified fetch(const std::string& name, const std::string& version, const std::string& expected_digest, const std::string& stage_root) {
    const auto doc = get("/marketplace/agents/" + name + "/" + version);
    const std::string digest = doc.value("digest", "");
    const std::string who = name + "@" + version;
    if (digest != expected_digest)
      throw install_failure{who + ": package digest: expected " + expected_digest + ", the server's version has " + digest};
    if (doc.value("status", "") != "approved") throw install_failure{who + " is " + doc.value("status", "") + ", not approved"};
    if (!doc.contains("leafIndex")) throw install_failure{who + " is not in the evidence ledger yet; try again shortly"};
    const std::uint64_t leaf_index = doc["leafIndex"].get<std::uint64_t>();

    // The leaf records the digest...
    const auto entry = get("/ledger/entries/" + std::to_string(leaf_index));
    const auto data = from_base64(entry.value("data", ""));
    if (!data) throw install_failure{who + ": ledger leaf " + std::to_string(leaf_index) + " has no readable data"};
    events::Envelope env;
    events::EvidenceRecord rec;
    if (!env.ParseFromString(*data) || env.type() != "evidence.record_submitted" || !env.payload().UnpackTo(&rec) ||
        rec.kind() != "marketplace.package")
      throw install_failure{who + ": ledger leaf " + std::to_string(leaf_index) + " is not a marketplace package record"};
    if (rec.sha256() != digest)
      throw install_failure{who + ": ledger leaf " + std::to_string(leaf_index) + " records digest " + rec.sha256() + ", not " + digest};
    // ...and is in the signed tree.
    if (leaf_index >= head_.size) {
      for (int i = 0; i < 50 && leaf_index >= head_.size; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        load_head();
      }
      if (leaf_index >= head_.size) throw install_failure{who + ": no signed tree head covers ledger leaf " + std::to_string(leaf_index) + " yet"};
    }
    const auto proof = get("/ledger/proof/inclusion?index=" + std::to_string(leaf_index) + "&tree_size=" + std::to_string(head_.size));
    std::vector<merkle::hash> path;
    for (const auto& h : proof.value("audit_path", json::array())) {
      auto p = merkle::from_hex(h.get<std::string>());
      if (!p) throw install_failure{who + ": the inclusion proof is malformed"};
      path.push_back(*p);
    }
    if (!merkle::verify_inclusion(merkle::leaf_hash(*data), leaf_index, head_.size, path, head_.root))
      throw install_failure{who + ": the inclusion proof of ledger leaf " + std::to_string(leaf_index) + " does not verify against the signed head"};

    // Every file's bytes, and the digest recomputed from the manifest and the files.
    auto parsed = parse_manifest(doc["manifest"]);
    if (auto* e = std::get_if<manifest_error>(&parsed)) throw install_failure{who + ": its manifest field " + e->field + ": " + e->message};
    std::string templ = (fs::path(stage_root) / (".staging-" + name + "-XXXXXX")).string();
    if (!::mkdtemp(templ.data())) throw install_failure{"cannot create a staging directory in " + stage_root};
    staged_.push_back(templ);
    std::vector<json> entries;
    std::vector<std::pair<fs::path, std::string>> links;  // made after every file, so no file is written through one
    for (const auto& f : doc.value("files", json::array())) {
      const std::string path_in = f.value("path", ""), want = f.value("sha256", "");
      if (!valid_package_path(path_in)) throw install_failure{who + ": file path '" + path_in + "' leaves the package"};
      const fs::path out = fs::path(templ) / path_in;
      std::optional<std::string> link;
      if (f.contains("symlink")) {
        link = f["symlink"].is_string() ? f["symlink"].get<std::string>() : std::string();
        if (!link_stays_inside(path_in, *link)) throw install_failure{who + ": " + path_in + " links to '" + *link + "', outside the package"};
        links.emplace_back(out, *link);
      } else {
        fs::create_directories(out.parent_path());
        const std::string bytes = get_bytes("/marketplace/agents/" + name + "/" + version + "/files?path=" + http::url_encode(path_in));
        const std::string got = merkle::to_hex(merkle::sha256(bytes));
        if (got != want) throw install_failure{who + ": file " + path_in + ": expected sha256 " + want + ", got " + got};
        std::ofstream o(out, std::ios::binary);
        o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!o) throw install_failure{"cannot write " + out.string()};
        if (f.value("executable", false)) fs::permissions(out, fs::perms(0755));
      }
      entries.push_back(file_entry(path_in, want, f.value("size", std::uint64_t{0}), f.value("executable", false), link));
    }
    for (const auto& [at, target] : links) {
      std::error_code ec;
      fs::create_directories(at.parent_path(), ec);
      fs::create_symlink(target, at, ec);
      if (ec) throw install_failure{who + ": cannot make the link " + at.string() + ": " + ec.message()};
    }
    const std::string recomputed = merkle::to_hex(merkle::sha256(provenance_document(std::get<manifest>(parsed), std::move(entries))));
    if (recomputed != digest) throw install_failure{who + ": package digest: expected " + digest + ", the files give " + recomputed};
    std::ofstream(fs::path(templ) / ".nexus-forge-package.json")
        << json{{"name", name}, {"version", version}, {"sha256", digest}, {"leafIndex", leaf_index}}.dump() << "\n";
    return verified{name, version, digest, leaf_index, templ};
  }

  void discard() {
    std::error_code ec;
    for (const auto& d : staged_) fs::remove_all(d, ec);
    staged_.clear();
  }
  void keep() { staged_.clear(); }
  const std::string& key_id() const { return key_id_; }
  std::uint64_t head_size() const { return head_.size; }

 private:
  const cli_args& a_;
  std::string key_;
  std::string pem_, key_id_;
  merkle::tree_head head_;
  std::vector<std::string> staged_;
};

// What is installed at dir/<name>/<version>, by digest ("" when nothing).
std::string installed_digest(const fs::path& target) {
  std::ifstream in(target / ".nexus-forge-package.json");
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = json::parse(ss.str(), nullptr, false);
  return j.is_object() ? j.value("sha256", "") : std::string();
}

int install(const cli_args& a) {
  const auto [name, range_text] = split_spec(a.spec);
  if (!valid_package_name(name)) return client::fail("'" + name + "' is not an agent name");
  auto wanted = range::parse(range_text.empty() ? "*" : range_text);
  if (!wanted) return client::fail("range '" + range_text + "': " + wanted.error().message);
  installer in(a);
  struct planned {
    std::string name, version, digest;
  };
  std::vector<planned> plan;
  json lock_in;
  try {
    if (a.frozen) {
      // Exactly the lock: it must name the request and meet its range, and the server must still
      // serve the same bytes.
      std::ifstream lf(a.lock);
      std::stringstream ss;
      ss << lf.rdbuf();
      lock_in = json::parse(ss.str(), nullptr, false);
      if (!lf || !lock_in.is_object()) return client::fail("--frozen: cannot read the lockfile " + a.lock);
      std::map<std::string, json> locked;
      for (const auto& p : lock_in.value("packages", json::array())) locked[p.value("name", "")] = p;
      auto it = locked.find(name);
      if (it == locked.end()) return client::fail("--frozen: the lock does not name " + name);
      auto v = parse_version(it->second.value("version", ""));
      if (!v || !wanted->satisfied_by(*v))
        return client::fail("--frozen: the lock has " + name + "@" + it->second.value("version", "") + ", which " +
                            (range_text.empty() ? std::string("*") : range_text) + " does not admit");
      for (const auto& o : lock_in.value("order", json::array())) {
        const std::string ov = o.get<std::string>();
        const auto at = ov.find('@');
        const auto& p = locked[ov.substr(0, at)];
        plan.push_back({ov.substr(0, at), ov.substr(at + 1), p.value("sha256", "")});
      }
    } else {
      const auto r = in.get("/marketplace/resolve?name=" + http::url_encode(name) + "&range=" + http::url_encode(range_text.empty() ? "*" : range_text));
      std::map<std::string, std::string> digests;
      for (const auto& p : r["resolved"]) digests[p.value("name", "") + "@" + p.value("version", "")] = p.value("sha256", "");
      for (const auto& o : r["order"]) {
        const std::string ov = o.get<std::string>();
        const auto at = ov.find('@');
        plan.push_back({ov.substr(0, at), ov.substr(at + 1), digests[ov]});
      }
    }
  } catch (const install_failure& f) {
    return client::fail(f.message);
  }
  const fs::path dir(a.install_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return client::fail("cannot create " + dir.string() + ": " + ec.message());

  std::vector<verified> done;
  std::vector<std::string> skipped;
  try {
    in.load_head();
    std::size_t i = 0;
    for (const auto& p : plan) {
      ++i;
      if (!a.json) std::cerr << "[" << i << "/" << plan.size() << "] " << p.name << "@" << p.version << ": downloading and verifying\n";
      const auto have = installed_digest(dir / p.name / p.version);
      if (have == p.digest) {
        skipped.push_back(p.name + "@" + p.version);
        continue;
      }
      if (!have.empty()) throw install_failure{(dir / p.name / p.version).string() + " holds another package (" + have + ")"};
      done.push_back(in.fetch(p.name, p.version, p.digest, dir.string()));
    }
  } catch (const install_failure& f) {
    in.discard();
    std::cerr << "error: " << f.message << "\n";
    std::cerr << "nothing was installed\n";
    return 1;
  } catch (const std::exception& e) {
    in.discard();
    return client::fail(std::string("install failed: ") + e.what() + "; nothing was installed");
  }
  // Every package verified: into place, dependencies first.
  for (const auto& v : done) {
    const fs::path target = dir / v.name / v.version;
    fs::create_directories(target.parent_path(), ec);
    fs::rename(v.staged, target, ec);
    if (ec) {
      in.discard();
      return client::fail("cannot move " + v.staged + " to " + target.string() + ": " + ec.message());
    }
    if (!a.json) std::cerr << "installed " << v.name << "@" << v.version << " (leaf " << v.leaf << ")\n";
  }
  in.keep();
  // Each install is recorded for the tenant (verified usage, for ratings).
  for (const auto& v : done) {
    std::string err;
    auto r = client::call(a.server, http::verb::post, "/marketplace/agents/" + v.name + "/" + v.version + "/installs", "", err, client::key_or_env(a.key));
    if (!r || r->status != 200) std::cerr << "warning: the install of " << v.name << "@" << v.version << " was not recorded: " << (r ? r->body : err) << "\n";
  }
  json packages = json::array(), order = json::array();
  for (const auto& p : plan) order.push_back(p.name + "@" + p.version);
  for (const auto& v : done) packages.push_back({{"name", v.name}, {"version", v.version}, {"sha256", v.digest}, {"leafIndex", v.leaf}});
  if (!a.frozen) {
    json lock{{"lockfileVersion", 1}, {"request", a.spec}, {"ledgerKeyId", in.key_id()}, {"packages", json::array()}, {"order", order}};
    std::map<std::string, json> all;
    for (const auto& v : done) all[v.name] = {{"name", v.name}, {"version", v.version}, {"sha256", v.digest}, {"leafIndex", v.leaf}};
    for (const auto& p : plan)
      if (!all.count(p.name)) all[p.name] = {{"name", p.name}, {"version", p.version}, {"sha256", p.digest}};
    for (auto& [n, p] : all) lock["packages"].push_back(p);
    const std::string tmp = a.lock + ".tmp";
    std::ofstream(tmp) << lock.dump(2) << "\n";
    fs::rename(tmp, a.lock, ec);
    if (ec) return client::fail("cannot write the lockfile " + a.lock + ": " + ec.message());
  }
  if (a.json) std::cout << json{{"installed", packages}, {"alreadyInstalled", skipped}, {"order", order}, {"treeSize", in.head_size()}}.dump() << "\n";
  else std::cout << done.size() << " installed, " << skipped.size() << " already there, into " << dir.string() << "\n";
  return 0;
}

int show(const cli_args& a) {
  const auto [name, version] = split_spec(a.spec);
  std::string err;
  const auto r = client::read_after_write(a.server, "/marketplace/agents/" + name + (version.empty() ? "" : "/" + version), err,
                                          client::key_or_env(a.key));
  int rc = 0;
  auto j = reply_json(r, rc, err, {200});
  if (!j) return rc;
  std::cout << (a.json ? j->dump() : j->dump(2)) << "\n";
  return 0;
}

int post_action(const cli_args& a, const std::string& action, const json& body) {
  const auto [name, version] = split_spec(a.spec);
  if (version.empty()) return client::fail("name the version: NAME@VERSION");
  std::string err;
  const auto r = client::call(a.server, http::verb::post, "/marketplace/agents/" + name + "/" + version + "/" + action, body.dump(), err,
                              client::key_or_env(a.key));
  int rc = 0;
  auto j = reply_json(r, rc, err, {200});
  if (!j) return rc;
  std::cout << (a.json ? j->dump() : name + "@" + version + " " + j->value("status", "")) << "\n";
  return 0;
}

void common(CLI::App* s, cli_args& a) {
  s->add_option("--server", a.server, "the server's URL")->capture_default_str();
  s->add_option("--key", a.key, "API key (default: $NF_API_KEY)");
  s->add_flag("--json", a.json, "print JSON");
}

}  // namespace

result<json> package_body(const std::string& dir) {
  const fs::path root(dir);
  std::ifstream mf(root / "agent.json", std::ios::binary);
  if (!mf) return error{errc::not_found, "'" + (root / "agent.json").string() + "' cannot be read: a package holds its agent.json"};
  std::stringstream ms;
  ms << mf.rdbuf();
  auto manifest = json::parse(ms.str(), nullptr, false);
  if (manifest.is_discarded()) return error{errc::invalid_argument, "agent.json is not JSON"};
  json files = json::object();
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; it != end; it.increment(ec)) {
    if (ec) return error{errc::io_error, "cannot read '" + dir + "': " + ec.message()};
    const auto rel = it->path().lexically_relative(root).generic_string();  // not fs::relative: it follows links
    if (rel == ".git" || rel.rfind(".git/", 0) == 0) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink()) {
      files[rel] = {{"symlink", fs::read_symlink(it->path()).generic_string()}};
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const auto perms = fs::status(it->path()).permissions();
    const bool exec = (perms & fs::perms::owner_exec) != fs::perms::none;
    if (exec) files[rel] = {{"content", to_base64(ss.str())}, {"executable", true}};
    else files[rel] = to_base64(ss.str());
  }
  return json{{"manifest", manifest}, {"files", files}};
}

void add_commands(CLI::App& app, cli_args& a, std::vector<feature::feature::command>& out) {
  auto* pub = app.add_subcommand("publish", "publish a package (a directory with agent.json, or a git ref) to the marketplace");
  pub->add_option("dir", a.dir, "the package directory");
  pub->add_option("--git", a.git, "a git repository to publish from (with --ref)");
  pub->add_option("--ref", a.ref, "the git ref to publish")->capture_default_str();
  pub->add_flag("--wait", a.wait, "follow the pipeline (validation, scan, benchmark) until it stops, showing each stage");
  pub->add_option("--timeout-ms", a.timeout_ms, "how long --wait follows it")->capture_default_str();
  common(pub, a);
  out.push_back({pub, [&a] { return publish(a); }});

  auto* res = app.add_subcommand("resolve", "resolve an agent and its dependencies (highest approved versions, install order)");
  res->add_option("spec", a.spec, "NAME or NAME@RANGE (npm range syntax)")->required();
  common(res, a);
  out.push_back({res, [&a] { return resolve_cmd(a); }});

  auto* se = app.add_subcommand("search", "search the marketplace (relevance, rating and usage)");
  se->add_option("query", a.query, "words to find");
  se->add_option("--category", a.category, "only this category");
  se->add_option("--protocol", a.protocol, "only agents speaking this protocol");
  se->add_option("--capability", a.capability, "only agents with this capability");
  se->add_option("--min-rating", a.min_rating, "only agents rated at least this")->check(CLI::Range(0.0, 5.0));
  se->add_option("--page", a.page, "page number")->check(CLI::Range(1, 10000))->capture_default_str();
  se->add_option("--per-page", a.per_page, "results per page")->check(CLI::Range(1, 100))->capture_default_str();
  se->add_flag("--explain", a.explain, "show each score's parts");
  common(se, a);
  out.push_back({se, [&a] { return search_cmd(a); }});

  auto* ins = app.add_subcommand("install", "install an agent and its dependencies, verifying every file and each package's ledger proof");
  ins->add_option("spec", a.spec, "NAME or NAME@RANGE")->required();
  ins->add_option("--dir", a.install_dir, "where agents go (<dir>/<name>/<version>/)")->capture_default_str();
  ins->add_option("--lock", a.lock, "the lockfile written (or read with --frozen)")->capture_default_str();
  ins->add_flag("--frozen", a.frozen, "install exactly the lockfile, or fail naming what differs");
  ins->add_option("--ledger-key", a.ledger_key, "the ledger's public key (PEM) to pin; default: the server's");
  common(ins, a);
  out.push_back({ins, [&a] { return install(a); }});

  auto* agent = app.add_subcommand("agent", "marketplace agents: show, review, yank");
  agent->require_subcommand(1);
  auto* sh = agent->add_subcommand("show", "an agent, or one version with its pipeline");
  sh->add_option("spec", a.spec, "NAME or NAME@VERSION")->required();
  common(sh, a);
  out.push_back({sh, [&a] { return show(a); }});
  auto* rv = agent->add_subcommand("review", "approve or reject a version pending review (marketplace:review)");
  rv->add_option("spec", a.spec, "NAME@VERSION")->required();
  rv->add_option("decision", a.decision, "approve or reject")->required()->check(CLI::IsMember({"approve", "reject"}));
  rv->add_option("--feedback", a.feedback, "what the publisher reads");
  common(rv, a);
  out.push_back({rv, [&a] { return post_action(a, "review", json{{"decision", a.decision}, {"feedback", a.feedback}}); }});
  auto* yk = agent->add_subcommand("yank", "hide a version from resolution (still installable by exact version)");
  yk->add_option("spec", a.spec, "NAME@VERSION")->required();
  yk->add_option("--reason", a.reason, "why")->required();
  common(yk, a);
  out.push_back({yk, [&a] { return post_action(a, "yank", json{{"reason", a.reason}}); }});
}

}  // namespace nf::marketplace
