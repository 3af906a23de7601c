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

#include "core/base/base64.h"
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
    const auto rel = fs::relative(it->path(), root).generic_string();
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
