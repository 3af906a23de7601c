#include "actors/console/feature.h"

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/console/serve.h"
#include "core/http/client.h"

namespace nf::console {

namespace {

struct dashboard_args {
  std::string config, server;
  bool json = false, no_open = false;
};

// The address a browser reaches the server at: its listen address, with a wildcard host as
// loopback.
std::string url_of(const std::string& listen) {
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "7070" : listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = "127.0.0.1";
  return "http://" + host + ":" + port + "/";
}

// A browser opener when this session has a display ($BROWSER first, then xdg-open).
std::string opener() {
  if (const char* b = std::getenv("BROWSER"); b && *b) return b;
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((display && *display) || (wayland && *wayland))
    if (std::system("command -v xdg-open >/dev/null 2>&1") == 0) return "xdg-open";
  return "";
}

// Single-quoted for the shell.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int dashboard(const ::nf::feature::command_context& ctx, const dashboard_args& a) {
  std::string url;
  if (!a.server.empty()) {
    if (!http::client::parse_server(a.server)) return http::client::fail("--server takes http://HOST:PORT, not '" + a.server + "'");
    url = a.server;
    if (url.rfind("http://", 0) != 0) url = "http://" + url;
    if (url.back() != '/') url += '/';
  } else {
    auto cfg = ctx.load_config(a.config);
    if (!cfg) return http::client::fail(cfg.error().message);
    url = url_of(cfg->http.listen);
  }
  std::string err;
  auto health = http::client::call(url.substr(0, url.size() - 1), http::verb::get, "/healthz", "", err, "");
  const bool up = health && health->status == 200;
  const std::string open_with = a.no_open ? "" : opener();
  bool opened = false;
  if (up && !open_with.empty()) opened = std::system((shell_quoted(open_with) + " " + shell_quoted(url) + " >/dev/null 2>&1 &").c_str()) == 0;
  if (a.json) {
    std::cout << nlohmann::json{{"url", url}, {"serverAnswers", up}, {"opened", opened}}.dump() << std::endl;
  } else {
    std::cout << url << std::endl;
    if (!up)
      std::cerr << "no server answers at " << url << " yet: start it with `nexus-forge serve` (or scripts/run.sh)" << (err.empty() ? "" : " (" + err + ")")
                << "\n";
    else if (!opened)
      std::cerr << "open it in a browser and sign in with an API key (no browser to open here" << (a.no_open ? ": --no-open" : "") << ")\n";
  }
  return up ? 0 : 3;
}

class console_feature final : public feature::feature {
 public:
  std::string_view name() const override { return "console"; }
  std::vector<::nf::feature::topic_spec> topics() const override { return {}; }
  void register_events(event::type_registry&) const override {}
  std::vector<command> add_commands(CLI::App& app, const ::nf::feature::command_context& ctx) override {
    auto* sub = app.add_subcommand("dashboard", "print the web console's address (and open a browser when there is one)");
    args_.config = ctx.default_config;
    sub->add_option("--config,-c", args_.config, "configuration file (its http.listen is the address)")->capture_default_str();
    sub->add_option("--server", args_.server, "the server's URL instead (http://HOST:PORT)");
    sub->add_flag("--no-open", args_.no_open, "only print the address");
    sub->add_flag("--json", args_.json, R"(print {"url","serverAnswers","opened"})");
    return {{sub, [this, &ctx] { return dashboard(ctx, args_); }}};
  }
  result<void> start(::nf::feature::host& h) override {
    add_routes(h.routes, assets());
    return ok();
  }
  void stop() override {}

 private:
  dashboard_args args_;
};

}  // namespace

std::unique_ptr<feature::feature> make_feature() { return std::make_unique<console_feature>(); }

}  // namespace nf::console
