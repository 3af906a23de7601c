#include "actors/producing/batch.h"

#include <nlohmann/json.hpp>

#include "core/base/sha256.h"
#include "core/base/text.h"

namespace nf::producing {

namespace {

using json = nlohmann::json;

refusal bad(const std::string& where, const std::string& field, const std::string& message, std::string code = "invalid_field") {
  return refusal{400, std::move(code), where + ": " + message, field};
}

// What the client's JSON object says, or why it cannot be an event.
std::optional<refusal> read_event(json& j, const std::string& where, const std::string& prefix, incoming& out) {
  out.where = where;
  if (!j.is_object()) return bad(where, prefix.empty() ? "body" : prefix, "an event must be a JSON object");
  auto field = [&](const char* name) { return prefix.empty() ? std::string(name) : prefix + "." + name; };
  for (const auto& item : j.items()) {
    const auto& k = item.key();
    if (k != "type" && k != "key" && k != "payload" && k != "id" && k != "headers" && k != "expectedVersion")
      return bad(where, field(k.c_str()), "unknown field '" + k + "'", "unknown_field");
  }
  auto t = j.find("type");
  if (t == j.end() || !t->is_string() || t->get_ref<const std::string&>().empty())
    return bad(where, field("type"), "'type' is required: a string such as mission.prompted");
  out.type = t->get<std::string>();
  if (auto k = j.find("key"); k != j.end() && !k->is_null()) {
    if (!k->is_string()) return bad(where, field("key"), "'key' must be a string");
    out.key = k->get<std::string>();
    if (out.key.size() > 1024) return bad(where, field("key"), "'key' is longer than 1024 bytes");
  }
  if (auto v = j.find("expectedVersion"); v != j.end() && !v->is_null()) {
    const auto explain = "'expectedVersion' is the key's version before this event: a number from 0, \"no_stream\" (0) or \"any\"";
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      if (s == "no_stream") out.expected_version = 0;
      else if (s != "any") return bad(where, field("expectedVersion"), explain);
    } else if (v->is_number_unsigned() ? v->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                                       : v->is_number_integer() && v->get<std::int64_t>() >= 0) {
      out.expected_version = v->get<std::int64_t>();
    } else {
      return bad(where, field("expectedVersion"), explain);
    }
    if (out.expected_version && out.key.empty())
      return bad(where, field("expectedVersion"), "'expectedVersion' needs a 'key': versions are counted per key");
  }
  auto p = j.find("payload");
  if (p == j.end() || !p->is_object()) return bad(where, field("payload"), "'payload' is required: a JSON object");
  if (auto i = j.find("id"); i != j.end() && !i->is_null()) {
    if (!i->is_string()) return bad(where, field("id"), "'id' must be a UUID string");
    auto id = event::event_id::parse(i->get_ref<const std::string&>());
    if (!id) return bad(where, field("id"), "'id' must be a UUID (8-4-4-4-12 hex): " + id.error().message);
    out.id = *id;
  }
  if (auto h = j.find("headers"); h != j.end() && !h->is_null()) {
    if (!h->is_object()) return bad(where, field("headers"), "'headers' must be an object of strings");
    if (h->size() > 64) return bad(where, field("headers"), "at most 64 headers");
    for (const auto& item : h->items()) {
      const auto& name = item.key();
      if (!item.value().is_string()) return bad(where, field("headers") + "." + name, "header values must be strings");
      if (name.empty() || name.size() > 128) return bad(where, field("headers") + "." + name, "header names are 1..128 characters");
      if (name.size() >= 3 && (name[0] == 'n' || name[0] == 'N') && (name[1] == 'f' || name[1] == 'F') && name[2] == '-')
        return bad(where, field("headers") + "." + name, "header names starting with 'nf-' are the platform's");
      out.headers[name] = item.value().get<std::string>();
    }
  }
  out.payload = std::move(*p);
  if (out.id) {
    // What a retry must repeat: the content, not the id (the id is the lookup key). Objects dump
    // with their keys sorted, so the same content gives the same bytes.
    const std::string payload_text = out.payload.dump();
    std::string canon;
    canon.reserve(out.type.size() + out.key.size() + payload_text.size() + 16);
    canon.append(out.type).push_back('\0');
    canon.append(out.key).push_back('\0');
    canon.append(payload_text).push_back('\0');
    for (const auto& [k, v] : out.headers) canon.append(k).append(1, '=').append(v).push_back('\0');
    out.digest = sha256_hex(canon);
  }
  return std::nullopt;
}

std::optional<json> parse_text(std::string_view text, const std::string& where, std::optional<refusal>& why) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    why = bad(where, "body", "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels", "nesting_too_deep");
    return std::nullopt;
  }
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    why = bad(where, "body", "not valid JSON", "malformed_json");
    return std::nullopt;
  }
  return j;
}

refusal too_many(std::size_t limit) {
  return refusal{413, "too_many_events",
                 "a request carries at most " + std::to_string(limit) + " events (http.max_batch_events); split the batch", "events"};
}

}  // namespace

parsed parse_events(std::string_view body, body_format format, const limits& lim) {
  parsed out;
  if (format == body_format::ndjson) {
    std::size_t line_no = 0, at = 0;
    while (at < body.size()) {
      const auto nl = body.find('\n', at);
      std::string_view line = body.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
      at = nl == std::string_view::npos ? body.size() : nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines separate nothing
      if (out.events.size() == lim.max_events) {
        out.refused = too_many(lim.max_events);
        return out;
      }
      const std::string where = "line " + std::to_string(line_no);
      auto j = parse_text(line, where, out.refused);
      if (!j) return out;
      incoming e;
      if ((out.refused = read_event(*j, where, "", e))) return out;
      out.events.push_back(std::move(e));
    }
    if (out.events.empty()) out.refused = bad("body", "body", "no events: NDJSON takes one event object per line");
    return out;
  }
  auto j = parse_text(body, "body", out.refused);
  if (!j) return out;
  if (!j->is_object()) {
    out.refused = bad("body", "body", "the body must be an event object or {\"events\":[...]}");
    return out;
  }
  if (!j->contains("events")) {
    incoming e;
    if ((out.refused = read_event(*j, "event", "", e))) return out;
    out.events.push_back(std::move(e));
    return out;
  }
  if (j->size() != 1) {
    for (const auto& item : j->items())
      if (item.key() != "events") {
        out.refused = bad("body", item.key(), "a batch is {\"events\":[...]} and nothing else", "unknown_field");
        return out;
      }
  }
  auto& arr = (*j)["events"];
  if (!arr.is_array() || arr.empty()) {
    out.refused = bad("body", "events", "'events' must be a non-empty array of events");
    return out;
  }
  if (arr.size() > lim.max_events) {
    out.refused = too_many(lim.max_events);
    return out;
  }
  out.events.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string where = "events[" + std::to_string(i) + "]";
    incoming e;
    if ((out.refused = read_event(arr[i], where, where, e))) return out;
    out.events.push_back(std::move(e));
  }
  return out;
}

}  // namespace nf::producing
