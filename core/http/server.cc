// The HTTP server: accepting, sessions, the request pipeline and the operations routes.
#include "core/http/server.h"

#include <future>
#include <sstream>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/base/number.h"
#include "core/base/text.h"
#include "core/http/server_state.h"
#include "core/log/guard.h"
#include "core/log/log.h"

namespace nf::http {

namespace {

std::string allow_header(const std::vector<verb>& methods) {
  std::string out;
  for (auto m : methods) out += (out.empty() ? "" : ", ") + std::string(to_string(m));
  return out;
}

void add_operations_routes(route_table& routes, server::state& st) {
  const json status_schema = schema::object({{"status", schema::string()}}, {"status"});
  routes.add({.method = verb::get, .path = "/healthz", .summary = "Liveness: the process answers", .tag = "operations",
              .responses = {{200, {"alive", status_schema}}},
              .handler = [](const route_context& c) { return json_response(status::ok, json{{"status", "ok"}}, c.req); }});
  routes.add({.method = verb::get, .path = "/readyz", .summary = "Readiness: every read model has caught up with the log",
              .tag = "operations",
              .responses = {{200, {"ready", status_schema}}, {503, {"still catching up", status_schema}}},
              .handler = [&st](const route_context& c) {
                auto [ready, details] = st.opts.readiness ? st.opts.readiness() : std::pair<bool, json>{true, json::object()};
                json body = details.is_object() ? details : json::object();
                body["status"] = ready ? "ready" : "catching_up";
                return json_response(ready ? status::ok : status::service_unavailable, body, c.req);
              }});
  routes.add({.method = verb::get, .path = "/metrics", .summary = "Prometheus metrics (text format 0.0.4)", .tag = "operations",
              .responses = {{200, {"metrics", schema::string(), "text/plain"}}},
              .handler = [](const route_context& c) {
                response res{status::ok, c.req.version()};
                res.set(field::content_type, "text/plain; version=0.0.4");
                res.keep_alive(c.req.keep_alive());
                res.body() = metrics::registry::global().render();
                res.prepare_payload();
                return res;
              }});
  routes.add({.method = verb::get, .path = "/openapi.json", .summary = "This API as an OpenAPI 3.1 document", .tag = "operations",
              .responses = {{200, {"the document", json{{"type", "object"}}}}},
              .handler = [&st](const route_context& c) {
                std::string doc;
                {
                  std::lock_guard lk(st.openapi_mu);
                  if (st.openapi.empty()) st.openapi = openapi_document(st.routes, st.opts.title, st.opts.version).dump(2);
                  doc = st.openapi;
                }
                response res{status::ok, c.req.version()};
                res.set(field::content_type, "application/json");
                res.set(field::server, "nexus-forge");
                res.keep_alive(c.req.keep_alive());
                res.body() = std::move(doc);
                res.prepare_payload();
                return res;
              }});
}

}  // namespace

// ---- the request pipeline ----

server::state::state(route_table& r, admission& a, server_options o)
    : routes(r), adm(a), opts(std::move(o)), log(nf::log::get("http")) {
  subscribers_gauge = &metrics::registry::global().get_gauge("nf_gateway_subscribers", "Open SSE and WebSocket subscriptions");
}

std::string server::state::next_request_id() {
  // Unique per process and start: the start time in ms, then a sequence number.
  static const std::string boot = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  return boot + "-" + std::to_string(++request_seq);
}

void server::state::observe(std::string_view route, std::string_view method, unsigned code, double seconds) {
  // The registry lookup builds label maps; remember the handles per thread.
  thread_local std::unordered_map<std::string, std::pair<metrics::counter*, metrics::histogram*>> handles;
  std::string key;
  key.reserve(route.size() + method.size() + 6);
  key.append(route).append(1, ' ').append(method).append(1, ' ').append(std::to_string(code));
  auto it = handles.find(key);
  if (it == handles.end()) {
    auto& reg = metrics::registry::global();
    const std::string r(route), m(method);
    it = handles
             .emplace(key, std::make_pair(&reg.get_counter("nf_http_requests_total", "HTTP requests by route, method and status",
                                                          {{"route", r}, {"method", m}, {"status", std::to_string(code)}}),
                                          &reg.get_histogram("nf_http_request_duration_seconds", "HTTP request latency by route",
                                                             {{"route", r}, {"method", m}})))
             .first;
  }
  it->second.first->inc();
  it->second.second->observe(seconds);
}

response server::state::internal_error(const request& req, const std::string& rid, const std::string& what) {
  log->error("request {} {} {}: {}", rid, std::string(to_string(req.method())),
             sanitize_utf8(std::string_view(req.target().data(), req.target().size())), sanitize_utf8(what));
  metrics::registry::global().get_counter("nf_http_internal_errors_total", "Requests answered 500 because of a fault of ours").inc();
  return error_response(status::internal_server_error, "internal", "internal error; quote request id " + rid, req);
}

response server::state::finish(response res, const request& req, std::string_view route, const std::string& rid) {
  res.set("X-Request-Id", rid);
  if (res.result_int() >= 500)
    log->error("request {} {} {} ({}) answered {}: {}", rid, std::string(to_string(req.method())),
               sanitize_utf8(std::string_view(req.target().data(), req.target().size())), route, res.result_int(),
               sanitize_utf8(res.body().substr(0, 512)));
  return res;
}

response server::state::serve(const request& req, const target& t, const route_table::match& m) {
  const auto start = std::chrono::steady_clock::now();
  const auto rid = next_request_id();
  std::string route = "unknown";
  response res;
  try {
    res = handle(req, t, m, route);
  } catch (const std::exception& e) {
    res = internal_error(req, rid, e.what());
  }
  observe(route, std::string(to_string(req.method())), res.result_int(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return finish(std::move(res), req, route, rid);
}

response server::state::handle(const request& req, const target& t, const route_table::match& m, std::string& route_name) {
  caller who;
  if (auto refused = admit_route(req, t, m, who, route_name)) return std::move(*refused);
  const route& r = *m.r;
  response res;
  std::vector<bus::position> written;
  if (auto refused = refuse_request(req, r)) {
    res = std::move(*refused);
  } else if (r.deferred) {
    // Answered later (e.g. after a group commit): this thread waits for it.
    struct waiting {
      std::promise<response> answer;
      std::atomic<bool> given{false};
    };
    auto w = std::make_shared<waiting>();
    auto answered = w->answer.get_future();
    route_context ctx{req, t, m.params, who, adm, r.path, &written};
    r.deferred(ctx, [w](response out) {
      if (!w->given.exchange(true)) w->answer.set_value(std::move(out));
    });
    res = answered.get();
  } else {
    route_context ctx{req, t, m.params, who, adm, r.path, &written};
    res = r.handler(ctx);
  }
  conclude(res, req, t, r, who, written);
  return res;
}

std::optional<response> server::state::admit_route(const request& req, const target& t, const route_table::match& m, caller& who,
                                                   std::string& route_name) {
  if (!m.r) {
    if (m.allowed.empty()) return error_response(status::not_found, "not_found", "no route for " + t.path, req);
    auto res = error_response(status::method_not_allowed, "method_not_allowed",
                              std::string(to_string(req.method())) + " is not allowed on " + t.path, req);
    res.set(field::allow, allow_header(m.allowed));
    return res;
  }
  const route& r = *m.r;
  route_name = r.path;
  if (!r.perm) return std::nullopt;
  auto admitted = adm.admit(req);
  if (auto* denied = std::get_if<response>(&admitted)) return std::move(*denied);
  who = std::get<caller>(std::move(admitted));
  if (!r.authorize_in_handler)
    if (auto d = adm.require(who, *r.perm, req)) {
      adm.record(who, req, r.path, t.path, d->result_int());
      return std::move(*d);
    }
  return std::nullopt;
}

std::optional<response> server::state::refuse_request(const request& req, const route& r) {
  if (req.method() != verb::get && req.method() != verb::head && req.method() != verb::options)
    if (auto refused = routes.check_write(req, r.path)) return refused;
  const std::size_t limit = r.max_body ? r.max_body : opts.max_body_bytes;
  if (r.stream != stream_kind::none)
    return error_response(status::upgrade_required, "upgrade_required",
                          r.stream == stream_kind::websocket ? "this route takes a WebSocket upgrade" : "this route is a stream", req);
  if (req.body().size() > limit)
    return error_response(status::payload_too_large, "payload_too_large", "the body is larger than " + std::to_string(limit) + " bytes", req);
  return wait_for_positions(req);
}

void server::state::conclude(response& res, const request& req, const target& t, const route& r, const caller& who,
                             const std::vector<bus::position>& written) {
  if (!written.empty() && opts.positions) res.set("NF-Position", opts.positions->token(written));
  if (r.perm) adm.record(who, req, r.path, t.path, res.result_int());
}

void server::state::deferred_started() {
  std::lock_guard lk(deferred_mu);
  ++deferred_running;
}
void server::state::deferred_ended() {
  std::lock_guard lk(deferred_mu);
  if (--deferred_running == 0) deferred_cv.notify_all();
}

std::optional<response> server::state::wait_for_positions(const request& req) {
  const auto token = req["NF-Wait-For"];
  if (token.empty() || !opts.positions) return std::nullopt;
  auto waited = opts.positions->wait_for(std::string_view(token.data(), token.size()), opts.wait_for_timeout);
  if (waited) return std::nullopt;
  if (waited.error().code == errc::invalid_argument)
    return error_response(status::bad_request, "invalid_header", "NF-Wait-For: " + waited.error().message, req, "NF-Wait-For");
  auto res = error_response(status::service_unavailable, "not_caught_up", waited.error().message, req);
  res.set(field::retry_after, "1");
  return res;
}

bool server::state::opens_stream(const request& req, const route_table::match& m) {
  if (!m.r || m.r->stream == stream_kind::none) return false;
  if (m.r->stream == stream_kind::websocket) return beast::websocket::is_upgrade(req);
  return req.method() == verb::get;
}

std::variant<caller, response> server::state::admit_stream(const request& req, const target& t, const route& r) {
  if (!r.perm) return caller{};
  // Browsers cannot set headers on EventSource or WebSocket, so streams also take
  // ?access_token=<key or JWT>.
  auto admitted = [&] {
    auto tok = t.query.find("access_token");
    if (tok == t.query.end() || !req[field::authorization].empty()) return adm.admit(req);
    request with = req;
    with.set(field::authorization, "Bearer " + tok->second);
    return adm.admit(with);
  }();
  if (auto* who = std::get_if<caller>(&admitted))
    if (auto d = adm.require(*who, *r.perm, req)) {
      adm.record(*who, req, r.path, t.path, d->result_int());
      return std::move(*d);
    }
  return admitted;
}

void server::state::sub_started() {
  std::lock_guard lk(subs_mu);
  ++subs_running;
  subscribers_gauge->set(subs_running);
}
void server::state::sub_ended() {
  std::lock_guard lk(subs_mu);
  --subs_running;
  subscribers_gauge->set(subs_running);
  subs_cv.notify_all();
}
void server::state::stream_opened(std::weak_ptr<stream_session> s) {
  std::lock_guard lk(subs_mu);
  std::erase_if(streams, [](const auto& w) { return w.expired(); });
  streams.push_back(std::move(s));
}
std::vector<std::shared_ptr<stream_session>> server::state::open_streams() {
  std::lock_guard lk(subs_mu);
  std::vector<std::shared_ptr<stream_session>> out;
  for (const auto& w : streams)
    if (auto s = w.lock()) out.push_back(std::move(s));
  return out;
}

// ---- connections ----

namespace {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket socket, server::state& st) : stream_(std::move(socket)), st_(st) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(st_.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    bh::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bh::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof) return close();
    if (ec) {
      request dummy{verb::get, "/", 11};
      dummy.keep_alive(false);
      response res = ec == bh::error::body_limit
                         ? error_response(status::payload_too_large, "payload_too_large",
                                          "the body is larger than " + std::to_string(st_.body_limit) + " bytes", dummy)
                         : error_response(status::bad_request, "malformed_request", "malformed HTTP request: " + ec.message(), dummy);
      res.keep_alive(false);
      st_.observe("invalid", "?", res.result_int(), 0);
      return write(std::move(res));
    }
    request req = parser_->release();
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    if (auto bad = refuse_invalid_utf8(req, t)) {
      st_.observe("invalid", std::string(to_string(req.method())), bad->result_int(), 0);
      return write(st_.finish(std::move(*bad), req, "invalid", st_.next_request_id()));
    }
    auto m = st_.routes.find(req.method(), t.segments);
    if (server::state::opens_stream(req, m)) return open_stream(std::move(req), t, *m.r);
    if (m.r && m.r->deferred) {
      // Runs here up to its queued write (a request that waits for a position, or a route that
      // blocks, starts on a worker); the answer comes back to this connection's thread.
      const bool worker = m.r->blocking || !req["NF-Wait-For"].empty();
      auto ex = std::make_shared<exchange>(shared_from_this(), std::move(req), t, std::move(m));
      ex->rid = st_.next_request_id();
      st_.deferred_started();
      if (worker) return net::post(*st_.workers, [ex] { ex->session->run_deferred(ex, true); });
      return run_deferred(ex, false);
    }
    if (!m.r || (m.r->method == verb::get && !m.r->blocking && req["NF-Wait-For"].empty())) {
      // Reads never block on the bus: answer on the I/O thread and skip two thread hops. A read
      // that waits for a position (NF-Wait-For, up to seconds) goes to a worker, so a client
      // cannot stall the connections that share its I/O thread. A path or method no route takes
      // (404, 405) is answered here too: probing unknown paths does not occupy the workers.
      return write(st_.serve(req, t, m));
    }
    net::post(*st_.workers, [self = shared_from_this(), req = std::move(req), t, m = std::move(m)]() mutable {
      auto res = self->st_.serve(req, t, m);
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  // A request to a deferred route, from its start to its answer.
  struct exchange : std::enable_shared_from_this<exchange> {
    exchange(std::shared_ptr<http_session> s, request r, const target& tg, route_table::match mt)
        : session(std::move(s)), req(std::move(r)), t(tg), m(std::move(mt)) {}
    std::shared_ptr<http_session> session;
    request req;
    target t;
    route_table::match m;
    caller who;
    std::vector<bus::position> written;
    std::string rid;
    std::string route_name = "unknown";
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    bool admitted = false;
    std::atomic<bool> answered{false};
    std::function<void(std::function<void()>)> offloader;
    std::optional<route_context> ctx;
  };

  void run_deferred(const std::shared_ptr<exchange>& ex, bool on_worker) {
    auto answer = [ex](response res) { ex->session->give_answer(*ex, std::move(res)); };
    try {
      if (auto refused = st_.admit_route(ex->req, ex->t, ex->m, ex->who, ex->route_name)) return answer(std::move(*refused));
      ex->admitted = true;
      const route& r = *ex->m.r;
      if (auto refused = st_.refuse_request(ex->req, r)) return answer(std::move(*refused));
      if (!on_worker)
        ex->offloader = [&st = st_, raw = ex.get()](std::function<void()> fn) {
          net::post(*st.workers, [ex = raw->shared_from_this(), fn = std::move(fn)] {
            try {
              fn();
            } catch (const std::exception& e) {
              ex->session->give_answer(*ex, ex->session->st_.internal_error(ex->req, ex->rid, e.what()));
            }
          });
        };
      ex->ctx.emplace(route_context{ex->req, ex->t, ex->m.params, ex->who, st_.adm, r.path, &ex->written, &ex->offloader});
      r.deferred(*ex->ctx, answer);
    } catch (const std::exception& e) {
      answer(st_.internal_error(ex->req, ex->rid, e.what()));
    }
  }

  // The one answer of a deferred request (any thread): concluded and written on the
  // connection's thread. A second answer is a bug of the handler: logged and dropped.
  void give_answer(exchange& ex, response res) {
    if (ex.answered.exchange(true)) {
      st_.log->error("request {} ({}) was answered twice; the second answer ({}) is dropped", ex.rid, ex.route_name, res.result_int());
      return;
    }
    try {
      if (ex.admitted) st_.conclude(res, ex.req, ex.t, *ex.m.r, ex.who, ex.written);
    } catch (const std::exception& e) {
      res = st_.internal_error(ex.req, ex.rid, e.what());
    }
    st_.observe(ex.route_name, std::string(to_string(ex.req.method())), res.result_int(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - ex.start).count());
    res = st_.finish(std::move(res), ex.req, ex.route_name, ex.rid);
    net::post(stream_.get_executor(), [self = shared_from_this(), res = std::move(res)]() mutable { self->write(std::move(res)); });
    st_.deferred_ended();
  }

  // An SSE or WebSocket stream: admitted here, then handed to its own session.
  void open_stream(request req, const target& t, const route& r) {
    const auto rid = st_.next_request_id();
    std::variant<caller, response> who = response{};
    try {
      who = st_.admit_stream(req, t, r);
    } catch (const std::exception& e) {
      who = st_.internal_error(req, rid, e.what());
    }
    if (auto* denied = std::get_if<response>(&who)) {
      st_.observe(r.path, "GET", denied->result_int(), 0);
      denied->keep_alive(false);
      return write(st_.finish(std::move(*denied), req, r.path, rid));
    }
    start_stream(st_, stream_.release_socket(), std::move(req), t, r, std::get<caller>(std::move(who)));
  }

  void write(response res) {
    // Every answer is a whole string body with its Content-Length (prepare_payload), so it goes
    // out as one buffer of bytes laid out here: Beast's general serializer showed as a tenth of
    // the CPU of a small answer.
    const bool keep = res.keep_alive();
    auto out = std::make_shared<std::string>(wire_bytes(res));
    net::async_write(stream_, net::buffer(*out), [self = shared_from_this(), out, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  static std::string wire_bytes(const response& res) {
    std::string out;
    const auto& body = res.body();
    out.reserve(256 + body.size());
    out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out.append(std::to_string(res.result_int()));
    out.push_back(' ');
    const auto reason = res.reason();
    out.append(reason.data(), reason.size());
    out.append("\r\n");
    for (const auto& f : res) {
      const auto name = f.name_string();
      const auto value = f.value();
      out.append(name.data(), name.size());
      out.append(": ");
      out.append(value.data(), value.size());
      out.append("\r\n");
    }
    const auto code = res.result_int();
    if (code >= 200 && code != 204 && code != 304 && res.find(field::content_length) == res.end() &&
        res.find(field::transfer_encoding) == res.end())
      out.append("Content-Length: " + std::to_string(body.size()) + "\r\n");
    out.append("\r\n");
    out.append(body);
    return out;
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  server::state& st_;
  beast::flat_buffer buffer_;
  std::optional<bh::request_parser<bh::string_body>> parser_;
};

void do_accept(server::state& st) {
  auto& ioc = *st.iocs[st.next_ioc.fetch_add(1, std::memory_order_relaxed) % st.iocs.size()];
  st.acceptor->async_accept(ioc, [&st](beast::error_code ec, tcp::socket socket) {
    if (st.stopping) return;
    if (!ec) {
      beast::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);  // responses are single writes; do not wait for ACKs
      std::make_shared<http_session>(std::move(socket), st)->run();
    }
    do_accept(st);
  });
}

}  // namespace

server::server(route_table& routes, admission& adm, server_options opts)
    : state_(std::make_unique<state>(routes, adm, std::move(opts))) {
  add_operations_routes(routes, *state_);
}

server::~server() { stop(); }

result<std::uint16_t> server::start() {
  auto& st = *state_;
  st.body_limit = st.routes.max_body(st.opts.max_body_bytes);
  const auto colon = st.opts.listen.rfind(':');
  if (colon == std::string::npos) return error{errc::invalid_argument, "listen address must be HOST:PORT"};
  beast::error_code ec;
  const auto addr = net::ip::make_address(st.opts.listen.substr(0, colon), ec);
  if (ec) return error{errc::invalid_argument, "bad listen host '" + st.opts.listen.substr(0, colon) + "': " + ec.message()};
  NF_TRY_ASSIGN(const auto port, parse_number<std::uint16_t>(std::string_view(st.opts.listen).substr(colon + 1), "the listen port"));
  for (int i = 0; i < std::max(1, st.opts.io_threads); ++i) {
    st.iocs.push_back(std::make_unique<net::io_context>(1));
    st.io_work.push_back(net::make_work_guard(*st.iocs.back()));
  }
  st.acceptor = std::make_unique<tcp::acceptor>(*st.iocs.front());
  const tcp::endpoint ep(addr, port);
  st.acceptor->open(ep.protocol(), ec);
  if (!ec) st.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor->bind(ep, ec);
  if (!ec) st.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error{errc::unavailable, "cannot listen on " + st.opts.listen + ": " + ec.message()};
  st.workers = std::make_unique<net::thread_pool>(static_cast<std::size_t>(std::max(1, st.opts.workers)));
  do_accept(st);
  // A handler that throws is logged and counted; the thread goes back to serving.
  for (auto& ioc : st.iocs)
    st.io_threads.emplace_back([&ioc = *ioc] {
      while (!nf::log::guarded("http-io", [&ioc] { ioc.run(); }) && !ioc.stopped()) {
      }
    });
  const auto bound = st.acceptor->local_endpoint().port();
  st.log->info("listening on http://{}:{}", st.opts.listen.substr(0, colon), bound);
  return bound;
}

std::string server::respond(std::string_view raw) {
  auto& st = *state_;
  if (st.body_limit == 0) st.body_limit = st.routes.max_body(st.opts.max_body_bytes);
  bh::request_parser<bh::string_body> parser;
  parser.eager(true);
  parser.body_limit(st.body_limit);
  parser.header_limit(16 * 1024);
  beast::error_code ec;
  std::size_t used = 0;
  while (!ec && used < raw.size() && !parser.is_done()) {
    const auto n = parser.put(net::buffer(raw.data() + used, raw.size() - used), ec);
    if (n == 0 && !ec) break;
    used += n;
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) ec = bh::error::partial_message;
  }
  response res;
  if (ec) {
    request dummy{verb::get, "/", 11};
    res = ec == bh::error::body_limit ? error_response(status::payload_too_large, "payload_too_large", "the body is too large", dummy)
                                      : error_response(status::bad_request, "malformed_request", "malformed HTTP request: " + ec.message(), dummy);
  } else {
    request req = parser.release();
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    auto m = st.routes.find(req.method(), t.segments);
    if (auto bad = refuse_invalid_utf8(req, t)) {
      res = st.finish(std::move(*bad), req, "invalid", st.next_request_id());
    } else if (server::state::opens_stream(req, m)) {
      std::variant<caller, response> who = response{};
      try {
        who = st.admit_stream(req, t, *m.r);
      } catch (const std::exception& e) {
        who = st.internal_error(req, st.next_request_id(), e.what());
      }
      if (auto* denied = std::get_if<response>(&who)) res = std::move(*denied);
      else res = json_response(status::ok, json{{"stream", "admitted"}}, req);
    } else {
      res = st.serve(req, t, m);
    }
  }
  std::ostringstream out;
  out << res;
  return out.str();
}

void server::stop() {
  auto& st = *state_;
  if (st.stopping.exchange(true)) return;
  // 1. No new connections.
  if (st.acceptor) {
    std::promise<void> closed;
    net::post(*st.iocs.front(), [&] {
      beast::error_code ec;
      st.acceptor->close(ec);
      closed.set_value();
    });
    if (!st.io_threads.empty()) closed.get_future().wait_for(std::chrono::seconds(1));
  }
  // 2. Every stream gets a last frame saying why it ends, and its reader is stopped. Readers
  // notice within one poll (at most half a second) and close their sources.
  std::size_t open = 0;
  for (const auto& s : st.open_streams()) {
    s->end_stream("server stopping");
    s->stop_reader();
    ++open;
  }
  {
    std::unique_lock lk(st.subs_mu);
    st.subs_cv.wait(lk, [&] { return st.subs_running == 0; });
  }
  // 3. Handlers in flight finish (appends and read-your-writes waits are bounded), and so do
  // deferred answers (their queued writes).
  if (st.workers) st.workers->join();
  {
    std::unique_lock lk(st.deferred_mu);
    if (!st.deferred_cv.wait_for(lk, std::chrono::seconds(10), [&] { return st.deferred_running == 0; }))
      st.log->error("{} requests still had no answer after 10 s at stop", st.deferred_running);
  }
  // 4. The last frames get a moment to reach their clients, then I/O stops.
  const auto flush_until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < flush_until && !st.open_streams().empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  st.io_work.clear();
  for (auto& ioc : st.iocs) ioc->stop();
  for (auto& t : st.io_threads)
    if (t.joinable()) t.join();
  st.io_threads.clear();
  st.log->info("stopped ({} streams were open)", open);
}

}  // namespace nf::http
