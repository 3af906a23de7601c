// A subscription to topic patterns with a resumable position, shared by SSE, WebSocket and the
// CLI. The position token is opaque to clients: base64url of "topic partition offset" lines,
// naming the next offset to deliver for every partition seen so far. Resuming from a token
// gives no gap and no duplicate.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bus/bus.h"
#include "core/streams/visibility.h"

namespace nf::streams {

struct subscription_request {
  std::vector<std::string> patterns;     // "mission.*", exact names
  std::string from = "latest";           // earliest | latest | a position token
  std::optional<std::string> type;       // only events of this type
  std::optional<std::string> tenant;     // only events of this tenant
  const topic_visibility* hide = nullptr; // set: restricted topics are never read, whatever the patterns
};

using positions = std::map<topic_partition, std::int64_t>;

std::string encode_token(const positions& p);
result<positions> decode_token(const std::string& token);

// Parses "a.*,b" into patterns; rejects empty or malformed ones.
result<std::vector<std::string>> parse_patterns(const std::string& csv);

struct delivered {
  std::string token;                     // position after this event
  std::shared_ptr<const std::string> json;  // the event rendered as JSON (shared between subscribers)
};

// Renders each event to JSON once for all subscribers that read it at about the same time.
class render_cache {
 public:
  explicit render_cache(std::size_t capacity = 65'536) : capacity_(capacity) {}
  std::shared_ptr<const std::string> render(const bus::message& m);

 private:
  std::mutex mu_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> map_;
  std::deque<std::string> order_;
};

// Reads the matching topics in order from the requested position. Not thread-safe: one owner.
class subscription {
 public:
  static result<std::unique_ptr<subscription>> open(bus::event_bus& bus, const subscription_request& req,
                                                    render_cache* cache = nullptr);

  // Up to `max` events, waiting up to `timeout`. Picks up topics created after subscribing.
  result<std::vector<delivered>> next(std::chrono::milliseconds timeout, std::size_t max);
  void wakeup();
  const positions& position() const { return pos_; }

 private:
  subscription(bus::event_bus& bus, subscription_request req, render_cache* cache)
      : bus_(bus), req_(std::move(req)), cache_(cache) {}
  result<void> refresh_topics(bool initial);

  bus::event_bus& bus_;
  subscription_request req_;
  render_cache* cache_;
  std::unique_ptr<bus::consumer> consumer_;
  positions pos_;
  std::optional<positions> from_token_;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace nf::streams
