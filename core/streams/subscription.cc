// Subscriptions: position tokens, topic discovery and filtered reads.
#include "core/streams/subscription.h"

#include "core/bus/fence.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/base64.h"
#include "core/event/codec.h"

namespace nf::streams {

std::string encode_token(const positions& p) {
  std::string raw;
  for (const auto& [tp, off] : p) raw += tp.topic.get() + " " + std::to_string(tp.partition.get()) + " " + std::to_string(off) + "\n";
  return to_base64url(raw);
}

result<positions> decode_token(const std::string& token) {
  auto raw = from_base64url(token);
  if (!raw) return error{errc::invalid_argument, "not a position token"};
  positions p;
  std::istringstream in(*raw);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string topic;
    long long part = -1, off = -1;
    if (!(ls >> topic >> part >> off) || part < 0 || off < 0 || !bus::validate_topic_name(topic))
      return error{errc::invalid_argument, "not a position token"};
    p[{topic_name{topic}, partition_id{static_cast<std::int32_t>(part)}}] = off;
  }
  return p;
}

result<std::vector<std::string>> parse_patterns(const std::string& csv) {
  std::vector<std::string> out;
  std::istringstream in(csv);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    std::string check = item;
    for (auto& c : check)
      if (c == '*') c = 'x';
    if (!bus::validate_topic_name(check)) return error{errc::invalid_argument, "invalid topic pattern '" + item + "'"};
    out.push_back(item);
  }
  if (out.empty()) return error{errc::invalid_argument, "at least one topic or pattern is required"};
  return out;
}

namespace {
std::shared_ptr<const std::string> render_json(const bus::message& m) {
  auto j = event::to_json(m);
  nlohmann::json body = j ? std::move(*j)
                          : nlohmann::json{{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()},
                                           {"error", j.error().message}};
  return std::make_shared<const std::string>(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}
}  // namespace

std::shared_ptr<const std::string> render_cache::render(const bus::message& m) {
  std::string key = m.topic.get() + '\0' + std::to_string(m.partition.get()) + '\0' + std::to_string(m.off.get());
  {
    std::lock_guard lk(mu_);
    if (auto it = map_.find(key); it != map_.end()) return it->second;
  }
  auto rendered = render_json(m);
  std::lock_guard lk(mu_);
  auto [it, inserted] = map_.emplace(key, rendered);
  if (inserted) {
    order_.push_back(std::move(key));
    if (order_.size() > capacity_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }
  return it->second;
}

result<std::unique_ptr<subscription>> subscription::open(bus::event_bus& bus, const subscription_request& req, render_cache* cache) {
  if (req.hide)
    for (const auto& p : req.patterns)
      if (p.find('*') == std::string::npos && req.hide->restricted(p))
        return error{errc::permission_denied, "'" + p + "' is a platform topic, readable by the platform admin only; use its feature's routes"};
  std::unique_ptr<subscription> s(new subscription(bus, req, cache));
  if (req.from != "earliest" && req.from != "latest") {
    NF_TRY_ASSIGN(auto p, decode_token(req.from));
    s->from_token_ = std::move(p);
  }
  NF_TRY_ASSIGN(s->consumer_, bus.make_consumer(bus::consumer_options{}));
  NF_TRY(s->refresh_topics(true));
  return s;
}

// Adds partitions of matching topics not read yet. At the first call they start where `from`
// says; later ones (topics created after subscribing) start at their beginning.
result<void> subscription::refresh_topics(bool initial) {
  last_refresh_ = std::chrono::steady_clock::now();
  NF_TRY_ASSIGN(auto topics, bus_.list_topics());
  bool changed = false;
  for (const auto& t : topics) {
    if (!bus::subscribed_by(req_.patterns, t.name.get())) continue;
    if (req_.hide && req_.hide->restricted(t.name.get())) continue;
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      topic_partition tp{t.name, partition_id{p}};
      if (pos_.count(tp)) continue;
      NF_TRY_ASSIGN(auto begin, bus_.begin_offset(tp));
      std::int64_t start = begin.get();
      if (from_token_) {
        auto it = from_token_->find(tp);
        if (it != from_token_->end()) start = std::max(it->second, begin.get());
      } else if (initial && req_.from == "latest") {
        NF_TRY_ASSIGN(auto end, bus_.end_offset(tp));
        start = end.get();
      }
      pos_[tp] = start;
      changed = true;
    }
  }
  if (changed) {
    std::vector<std::pair<topic_partition, offset>> assign;
    for (const auto& [tp, off] : pos_) assign.emplace_back(tp, offset{off});
    NF_TRY(consumer_->assign(assign));
  }
  return ok();
}

result<std::vector<delivered>> subscription::next(std::chrono::milliseconds timeout, std::size_t max) {
  if (std::chrono::steady_clock::now() - last_refresh_ > std::chrono::seconds(1)) NF_TRY(refresh_topics(false));
  NF_TRY_ASSIGN(auto msgs, consumer_->poll(timeout, max));
  std::vector<delivered> out;
  for (const auto& m : msgs) {
    const topic_partition tp{m.topic, m.partition};
    auto it = pos_.find(tp);
    if (it == pos_.end() || m.off.get() < it->second) continue;  // already delivered
    it->second = m.off.get() + 1;
    // Owner claims (core/bus/fence.h) are the platform's bookkeeping, not events of the topic.
    if (m.find_header(bus::kClaimHeader)) continue;
    if (req_.type) {
      const auto* t = m.find_header(event::kTypeHeader);
      if (!t || *t != *req_.type) continue;
    }
    if (req_.tenant) {
      const auto* t = m.find_header(event::kTenantHeader);
      if (!t || *t != *req_.tenant) continue;
    }
    out.push_back({encode_token(pos_), cache_ ? cache_->render(m) : render_json(m)});
  }
  return out;
}

void subscription::wakeup() { consumer_->wakeup(); }

}  // namespace nf::streams

namespace nf::streams {

bool topic_visibility::platform_written(std::string_view topic) const {
  if (topic.starts_with("commands.") || topic.starts_with("platform.")) return true;
  for (const auto& r : restricted_)
    if (bus::topic_matches(r, topic)) return true;
  return false;
}

bool topic_visibility::restricted(std::string_view topic) const {
  for (const auto& a : allowed_)
    if (a == topic) return false;
  for (const auto& r : restricted_)
    if (bus::topic_matches(r, topic)) return true;
  return false;
}

}  // namespace nf::streams
