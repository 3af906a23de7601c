#include "projections/producing/producing.h"

#include <charconv>

#include "core/base/rfc3339.h"
#include "core/event/codec.h"
#include "producing.pb.h"

namespace nf::producing {

namespace {

using json = nlohmann::json;

std::string index_value(const bus::message& m, const std::string& digest) {
  std::string v = m.topic.get();
  v.push_back('\0');
  v += std::to_string(m.partition.get());
  v.push_back('\0');
  v += std::to_string(m.off.get());
  v.push_back('\0');
  v += digest;
  return v;
}

std::optional<indexed> parse_index(std::string_view v) {
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const auto z = v.find('\0');
    if (z == std::string_view::npos) return std::nullopt;
    parts[i] = v.substr(0, z);
    v.remove_prefix(z + 1);
  }
  parts[3] = v;
  std::int32_t p = 0;
  std::int64_t o = 0;
  if (std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), p).ec != std::errc{}) return std::nullopt;
  if (std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), o).ec != std::errc{}) return std::nullopt;
  return indexed{topic_name{std::string(parts[0])}, partition_id{p}, offset{o}, std::string(parts[3])};
}

}  // namespace

result<void> producing_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  if (const auto* digest = m.find_header(kDigestHeader)) {
    const auto* id_text = m.find_header(event::kIdHeader);
    auto id = id_text ? event::event_id::parse(*id_text) : result<event::event_id>(error{errc::invalid_argument, "no id"});
    if (id) {
      const std::string key = "i/" + id->raw();
      NF_TRY_ASSIGN(auto known, w.get(key));
      if (!known) NF_TRY(w.put(key, index_value(m, *digest)));
    }
  }
  if (m.topic.get() != kTopicsTopic) return ok();
  const auto* type = m.find_header(event::kTypeHeader);
  if (!type || *type != kTopicCreated) return ok();
  auto env = event::from_message(m);
  if (!env) return env.error();
  events::TopicCreated e;
  if (!env->payload().UnpackTo(&e))
    return error{errc::corruption, to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get()) + ": not a TopicCreated"};
  // The first creation stands; a later one for the same name (a race of two creators) is ignored.
  NF_TRY_ASSIGN(auto known, w.get("s/" + e.name()));
  if (known) return ok();
  json s{{"name", e.name()},
         {"partitions", e.partitions()},
         {"retentionMs", e.retention_ms()},
         {"acceptUnknownTypes", e.accept_unknown_types()},
         {"tenant", e.tenant_id()},
         {"createdBy", e.created_by()},
         {"createdAt", format_rfc3339(env->occurred_at())}};
  return w.put("s/" + e.name(), s.dump());
}

result<std::optional<nlohmann::json>> producing_view::settings(const std::string& topic) const {
  const std::string key = "s/" + topic;
  NF_TRY_ASSIGN(auto v, store_.get_many(proj_, std::span<const std::string>(&key, 1)));
  if (!v[0]) return std::optional<json>();
  auto j = json::parse(*v[0], nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "the settings of topic '" + topic + "' are damaged"};
  return std::optional<json>(std::move(j));
}

result<std::vector<nlohmann::json>> producing_view::all_settings() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("s/", [&](std::string_view, std::string_view v) {
    auto j = json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return true;
  }));
  return out;
}

result<std::vector<std::optional<indexed>>> producing_view::find(const std::vector<event::event_id>& ids) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back("i/" + id.raw());
  NF_TRY_ASSIGN(auto vals, store_.get_many(proj_, keys));
  std::vector<std::optional<indexed>> out;
  out.reserve(vals.size());
  for (std::size_t i = 0; i < vals.size(); ++i) {
    if (!vals[i]) {
      out.emplace_back();
      continue;
    }
    auto x = parse_index(*vals[i]);
    if (!x) return error{errc::corruption, "the index entry of event " + ids[i].to_string() + " is damaged"};
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace nf::producing
