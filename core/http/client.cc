// The command line's HTTP client.
#include "core/http/client.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iostream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace nf::http::client {

namespace {
namespace net = boost::asio;
using tcp = net::ip::tcp;
}  // namespace

std::optional<endpoint> parse_server(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos) return std::nullopt;
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return std::nullopt;
  return endpoint{rest.substr(0, colon), rest.substr(colon + 1)};
}

std::string key_or_env(const std::string& key) {
  if (!key.empty()) return key;
  const char* env = std::getenv("NF_API_KEY");
  return env ? std::string(env) : std::string();
}

std::optional<reply> call(const std::string& server, verb method, const std::string& target, const std::string& body,
                          std::string& err, const std::string& api_key, const std::string& wait_for) {
  auto ep = parse_server(server);
  if (!ep) {
    err = "--server must look like http://HOST:PORT, got '" + server + "'";
    return std::nullopt;
  }
  try {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(ep->host, ep->port));
    request req{method, target, 11};
    req.set(field::host, ep->host);
    req.set(field::user_agent, "nexus-forge-cli");
    if (!api_key.empty()) req.set(field::authorization, "Bearer " + api_key);
    if (!wait_for.empty()) req.set("NF-Wait-For", wait_for);
    if (method == verb::post || method == verb::patch) {
      req.set(field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    bh::write(stream, req);
    beast::flat_buffer buf;
    response res;
    bh::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    reply out{static_cast<int>(res.result_int()), res.body(), {}};
    if (auto it = res.find("NF-Position"); it != res.end()) out.position = std::string(it->value());
    return out;
  } catch (const std::exception& e) {
    err = "cannot reach " + server + ": " + e.what();
    return std::nullopt;
  }
}

namespace {
std::filesystem::path state_dir() {
  if (const char* d = std::getenv("NF_STATE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::filesystem::path(x) / "nexus-forge";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local" / "state" / "nexus-forge";
  return {};
}
}  // namespace

void remember_position(const std::string& token) {
  const auto dir = state_dir();
  if (dir.empty() || token.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto tmp = dir / "position.tmp";
  {
    std::ofstream out(tmp);
    out << token << "\n";
    if (!out) return;  // remembering is a convenience; a read-only home does not fail the write
  }
  std::filesystem::rename(tmp, dir / "position", ec);
}

std::string remembered_position() {
  const auto dir = state_dir();
  if (dir.empty()) return {};
  std::ifstream in(dir / "position");
  std::string token;
  std::getline(in, token);
  // A token is base64url; anything else in the file is not sent.
  for (char c : token)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return {};
  return token.size() <= 4096 ? token : std::string();
}

std::optional<reply> read_after_write(const std::string& server, const std::string& target, std::string& err, const std::string& api_key) {
  const auto token = remembered_position();
  auto r = call(server, verb::get, target, "", err, api_key, token);
  if (r && !token.empty() && r->status == 400) {
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].value("field", "") == "NF-Wait-For") {
      std::error_code ec;
      std::filesystem::remove(state_dir() / "position", ec);
      return call(server, verb::get, target, "", err, api_key);
    }
  }
  return r;
}

int fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

int api_error(const reply& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    std::string msg = "error: " + e.value("message", "") + " (HTTP " + std::to_string(r.status) + ", " + e.value("code", "");
    if (e.contains("field")) msg += ", field " + e["field"].get<std::string>();
    std::cerr << msg << ")\n";
  } else {
    std::cerr << "error: HTTP " << r.status << ": " << r.body << "\n";
  }
  return 1;
}


}  // namespace nf::http::client
