// Topic browsing and subscriptions over HTTP, which belong to no feature:
//   GET /topics                      events:read   topics (a tenant sees names and partitions only)
//   GET /topics/{topic}/events       events:read   a page of one partition (a tenant: its own events)
//   GET /subscribe?topics=&from=     events:read   Server-Sent Events, resumable by Last-Event-ID
//   GET /ws                          events:read   WebSocket; first message {"subscribe":[...],"from"}
// Restricted topics (see visibility.h) are the platform admin's only; a tenant receives its own
// events only, whatever it asks for.
#pragma once

#include <memory>

#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "core/streams/visibility.h"

namespace nf::streams {

inline constexpr http::permission kEventsRead{"events:read"};

class render_cache;

class topic_routes {
 public:
  topic_routes(bus::event_bus& bus, const topic_visibility& visibility);
  ~topic_routes();
  void add_to(http::route_table& routes);

 private:
  http::response list(const http::route_context& c);
  http::response events(const http::route_context& c);
  result<http::opened_stream> open(const http::stream_request& r, bool websocket);

  bus::event_bus& bus_;
  const topic_visibility& visibility_;
  std::unique_ptr<render_cache> renders_;
};

}  // namespace nf::streams
