// A small synchronous HTTP/1.1 client on Boost.Beast for system tests: keep-alive requests, SSE
// streams and WebSocket sessions against a server on 127.0.0.1.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nf::test {

struct http_reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

using header_map = std::map<std::string, std::string>;

// The platform admin key test servers are configured with (see server.h), and headers sending it.
inline constexpr const char* kAdminKey = "nfk_systemtestsplatformadminkey00001";
inline constexpr const char* kAdminKeySha256 = "507e4bdbfc45a668d67abe90d330f0a1c58200596acf031241e26a331de63b93";
inline header_map admin_headers() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }
inline header_map key_headers(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

class http_client {
 public:
  // `defaults` go with every request (a request's own headers win).
  http_client(std::string host, int port, header_map defaults = {});
  ~http_client();
  // One request on a kept-alive connection (reconnects if the server closed it).
  http_reply request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& content_type = "application/json", bool keep_alive = true,
                     const std::map<std::string, std::string>& headers = {});
  http_reply get(const std::string& target) { return request("GET", target); }
  http_reply post(const std::string& target, const std::string& body) { return request("POST", target, body); }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct sse_event {
  std::string id;
  std::string event;  // empty for plain data events
  std::string data;
};

// An open Server-Sent Events stream.
class sse_stream {
 public:
  sse_stream(const std::string& host, int port, const std::string& target, const std::string& last_event_id = "",
             const header_map& extra = {});
  ~sse_stream();
  int status() const;
  // Next event, or nullopt on timeout or end of stream.
  std::optional<sse_event> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class ws_client {
 public:
  ws_client(const std::string& host, int port, const std::string& target, const header_map& extra = {});
  ~ws_client();
  void send(const std::string& text);
  // Next text message, or nullopt on timeout or close (close_reason() then says why).
  std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string close_reason() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::test
