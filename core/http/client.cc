// The command line's HTTP client.
#include "core/http/client.h"

#include <chrono>
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
                          std::string& err, const std::string& api_key) {
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
    return reply{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    err = "cannot reach " + server + ": " + e.what();
    return std::nullopt;
  }
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
