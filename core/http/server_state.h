// The server's shared state, private to core/http: what sessions, streams and stop() share.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "core/http/server.h"
#include "core/metrics/metrics.h"

namespace nf::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// An open SSE or WebSocket stream, as stop() sees it.
class stream_session {
 public:
  virtual ~stream_session() = default;
  // Sends the client a last frame saying why the stream ends and closes it (any thread).
  virtual void end_stream(const std::string& reason) = 0;
  // Stops the stream's reader thread (any thread).
  virtual void stop_reader() = 0;
};

struct server::state {
  route_table& routes;
  admission& adm;
  server_options opts;
  std::shared_ptr<spdlog::logger> log;
  // One io_context per I/O thread, each run by its thread alone: a connection lives on one
  // context, so its handlers never race and need no strand (the cost of strands and of waking
  // other threads showed in profiles). The acceptor is on the first; connections are dealt out
  // round-robin.
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> io_work;
  std::atomic<std::size_t> next_ioc{0};
  std::unique_ptr<net::thread_pool> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::atomic<bool> stopping{false};
  std::size_t body_limit = 0;
  std::atomic<std::uint64_t> request_seq{0};

  // Stream readers and sessions, so stop() can tell clients and wait for the readers.
  std::mutex subs_mu;
  std::condition_variable subs_cv;
  int subs_running = 0;
  std::vector<std::weak_ptr<stream_session>> streams;
  metrics::gauge* subscribers_gauge = nullptr;

  // Deferred answers still to come; stop() waits for them.
  std::mutex deferred_mu;
  std::condition_variable deferred_cv;
  int deferred_running = 0;
  void deferred_started();
  void deferred_ended();

  std::mutex openapi_mu;
  std::string openapi;               // rendered on first request

  state(route_table& r, admission& a, server_options o);

  std::string next_request_id();
  void observe(std::string_view route, std::string_view method, unsigned status, double seconds);
  // Handles one request matched to `m`; nothing it throws escapes.
  response serve(const request& req, const target& t, const route_table::match& m);
  // The route's answer: admission, permission, body limit, handler, audit. A deferred handler
  // is waited for.
  response handle(const request& req, const target& t, const route_table::match& m, std::string& route);
  // Before a route's handler: 404 or 405, admission and permission. A refusal is the whole
  // answer; nullopt: `who` is admitted and `route_name` names the route.
  std::optional<response> admit_route(const request& req, const target& t, const route_table::match& m, caller& who,
                                      std::string& route_name);
  // Then the body limit, stream routes and NF-Wait-For (which may wait): a refusal, or nullopt.
  std::optional<response> refuse_request(const request& req, const route& r);
  // After the handler: NF-Position naming what it wrote, and the audit record.
  void conclude(response& res, const request& req, const target& t, const route& r, const caller& who,
                const std::vector<bus::position>& written);
  response internal_error(const request& req, const std::string& rid, const std::string& what);
  // Every answer names its request id; a 5xx is logged with it.
  response finish(response res, const request& req, std::string_view route, const std::string& rid);
  // NF-Wait-For: nothing once this instance's read models applied the token's positions, else
  // 400 invalid_header (a bad or foreign token) or 503 not_caught_up with Retry-After.
  std::optional<response> wait_for_positions(const request& req);
  // Whether this request opens a stream (an SSE GET or a WebSocket upgrade on a stream route).
  static bool opens_stream(const request& req, const route_table::match& m);
  // The caller of a stream (credentials may come as ?access_token=), or the answer refusing it.
  std::variant<caller, response> admit_stream(const request& req, const target& t, const route& r);

  void sub_started();
  void sub_ended();
  void stream_opened(std::weak_ptr<stream_session> s);
  std::vector<std::shared_ptr<stream_session>> open_streams();
};

// Hands an admitted stream request to its own session (core/http/stream.cc).
void start_stream(server::state& st, tcp::socket socket, request req, const target& t, const route& r, caller who);

}  // namespace nf::http
