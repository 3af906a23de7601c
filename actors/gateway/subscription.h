// A subscription to topic patterns with a resumable position, shared by SSE, WebSocket and the
// CLI. The position token is opaque to clients: base64url of "topic partition offset" lines,
// naming the next offset to deliver for every partition seen so far. Resuming from a token
// gives no gap and no duplicate.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bus/bus.h"

namespace nf::gateway {

struct subscription_request {
  std::vector<std::string> patterns;     // "mission.*", exact names
  std::string from = "latest";           // earliest | latest | a position token
  std::optional<std::string> type;       // only events of this type
  std::optional<std::string> tenant;     // only events of this tenant
};

using positions = std::map<topic_partition, std::int64_t>;

std::string encode_token(const positions& p);
result<positions> decode_token(const std::string& token);

// Parses "a.*,b" into patterns; rejects empty or malformed ones.
result<std::vector<std::string>> parse_patterns(const std::string& csv);

struct delivered {
  std::string token;                     // position after this event
  std::string json;                      // the event rendered as JSON
};

// Reads the matching topics in order from the requested position. Not thread-safe: one owner.
class subscription {
 public:
  static result<std::unique_ptr<subscription>> open(bus::event_bus& bus, const subscription_request& req);

  // Up to `max` events, waiting up to `timeout`. Picks up topics created after subscribing.
  result<std::vector<delivered>> next(std::chrono::milliseconds timeout, std::size_t max);
  void wakeup();
  const positions& position() const { return pos_; }

 private:
  subscription(bus::event_bus& bus, subscription_request req) : bus_(bus), req_(std::move(req)) {}
  result<void> refresh_topics(bool initial);

  bus::event_bus& bus_;
  subscription_request req_;
  std::unique_ptr<bus::consumer> consumer_;
  positions pos_;
  std::optional<positions> from_token_;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace nf::gateway
