// The route table. Each feature registers its routes: method, path template, the permission it
// needs, documentation (parameters, request and response JSON Schemas per status) and the
// handler. The server matches requests against it (404 for no path, 405 with Allow for no
// method), admits the caller when the route declares a permission, checks it, holds the body to
// the route's limit, runs the handler and records the answer; /openapi.json is generated from it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bus/position_token.h"
#include "core/http/admission.h"
#include "core/http/message.h"

namespace nf::http {

// A path or query parameter as documented (path parameters default to a plain string).
struct param_doc {
  std::string name = {};
  std::string description = {};
  json schema = json{{"type", "string"}};
  bool required = false;
  std::string in = "query";           // "query", "path" or "header"
};

struct response_doc {
  std::string description = {};
  json schema = {};                       // null: no body documented
  std::string content_type = "application/json";
  bool etag = false;                      // the answer carries an ETag: the document's version
};

// What a handler gets: the request, its parsed target, path parameters and the admitted caller.
struct route_context {
  const request& req;
  const target& t;
  const std::map<std::string, std::string>& params;
  const caller& who;
  admission& adm;
  std::string_view route;             // the path template, for metrics, audit and quotas
  std::vector<bus::position>* written = nullptr;  // where the answer's NF-Position comes from
  // For a deferred handler on an I/O thread: runs work that may block on a worker (see offload).
  const std::function<void(std::function<void()>)>* offloader = nullptr;
  const std::string& path_param(const std::string& name) const { return params.at(name); }
  // A handler that appended says where the event went; the answer names it in NF-Position.
  void wrote(const topic_partition& tp, offset off) const {
    if (written) written->push_back({tp, off});
  }
  // The quotas for a write of one event of this request's body size (nullopt: go ahead).
  std::optional<response> quota() const { return adm.admit_write(who, 1, static_cast<std::int64_t>(req.body().size()), route, req); }
  // Runs `fn` where it may block (waits, writes that are not queued): on a worker thread when the
  // handler runs on an I/O thread, else right here. What `fn` throws is answered 500.
  void offload(std::function<void()> fn) const {
    if (offloader && *offloader) (*offloader)(std::move(fn));
    else fn();
  }
};
using handler_fn = std::function<response(const route_context&)>;
// A deferred handler answers later, once, from any thread: after a group commit, say. Its
// route_context stays valid until it has called `answer`.
using answer_fn = std::function<void(response)>;
using deferred_fn = std::function<void(const route_context&, answer_fn answer)>;

// ---- streams (Server-Sent Events and WebSocket) ----

// One event of a stream: the position to resume after it, and its JSON (shared by subscribers).
struct stream_frame {
  std::string id;
  std::shared_ptr<const std::string> data;
};
// Where a stream's events come from. Used by one reader thread; wakeup() from any thread.
class stream_source {
 public:
  virtual ~stream_source() = default;
  // Up to `max` events, waiting up to `timeout`; an error ends the stream with its message.
  virtual result<std::vector<stream_frame>> next(std::chrono::milliseconds timeout, std::size_t max) = 0;
  virtual void wakeup() = 0;
};
// What a stream is opened with: the query (SSE) or the first message (WebSocket).
struct stream_request {
  const caller& who;
  const std::map<std::string, std::string>& query;
  std::string last_event_id;          // SSE Last-Event-ID
  const json* message = nullptr;      // WebSocket: the client's first message
};
struct opened_stream {
  std::unique_ptr<stream_source> source;
  json ack;                           // WebSocket: sent to the client before the first event
};
// invalid_argument (400 / close 1008) or permission_denied (403) when the stream cannot open.
using open_fn = std::function<result<opened_stream>(const stream_request&)>;
enum class stream_kind { none, sse, websocket };

struct route {
  verb method = verb::get;
  std::string path = {};              // "/missions/{id}": {name} matches one segment
  std::optional<permission> perm = {};  // nullopt: answered without credentials (operations routes)
  std::string summary = {};
  std::string tag = {};                   // the feature, for the OpenAPI document
  std::vector<param_doc> params = {};
  std::optional<json> body = {};           // the JSON Schema of the request body, when it takes one
  std::map<unsigned, response_doc> responses = {};  // success and route-specific statuses
  handler_fn handler = {};
  // Instead of `handler`: a handler that answers later. Unless `blocking`, it runs on the
  // connection's I/O thread and must not block (c.offload moves work that may).
  deferred_fn deferred = {};
  bool blocking = false;              // true: runs on a worker (always for plain handlers of methods other than GET)
  // true: the server admits the caller but the handler checks `perm` itself (e.g. in the tenant
  // the path names, answering 404 for another tenant's resources before any 403).
  bool authorize_in_handler = false;
  std::size_t max_body = 0;           // 0: the server's http.max_body_bytes
  stream_kind stream = stream_kind::none;
  open_fn open = {};                  // for streams
};

class route_table {
 public:
  // Adds a route; throws std::invalid_argument for a duplicate method and path (a start-up bug).
  void add(route r);
  struct match {
    const route* r = nullptr;                    // null: no route for this method
    std::map<std::string, std::string> params;
    std::vector<verb> allowed;                   // the methods the path has (empty: unknown path)
  };
  match find(verb method, const std::vector<std::string>& segments) const;
  const std::vector<std::unique_ptr<route>>& all() const { return routes_; }
  // The largest body any route accepts (the parser's limit).
  std::size_t max_body(std::size_t default_limit) const;
  // A check every write (any method but GET, HEAD and OPTIONS) passes after admission and before
  // its handler: nullopt to go ahead, or the answer refusing it. A feature adds one for a state
  // of the whole server that forbids writes (regions: a region another one has replaced). Add
  // before the server starts.
  using write_guard = std::function<std::optional<response>(const request& req, const std::string& route_path)>;
  void add_write_guard(write_guard g) { guards_.push_back(std::move(g)); }
  std::optional<response> check_write(const request& req, const std::string& route_path) const {
    for (const auto& g : guards_)
      if (auto refused = g(req, route_path)) return refused;
    return std::nullopt;
  }

 private:
  std::vector<write_guard> guards_;
  std::vector<std::unique_ptr<route>> routes_;
  std::vector<std::vector<std::string>> templates_;  // per route: the path's segments
};

// JSON Schema helpers for route documentation.
namespace schema {
json string(std::string description = "");
json integer(std::string description = "");
json boolean();
json array(json items);
json object(json properties, std::vector<std::string> required = {});
json enumeration(std::vector<std::string> values);
json ref(const std::string& component);   // {"$ref":"#/components/schemas/<component>"}
}  // namespace schema

}  // namespace nf::http
