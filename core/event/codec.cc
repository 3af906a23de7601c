// Envelope <-> JSON and envelope <-> bus record.
#include "core/event/codec.h"

#include "core/base/text.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "core/event/types.h"

namespace nf::event {
namespace {

namespace pb = google::protobuf;

result<void> validate_type(std::string_view t) {
  if (t.empty() || t.size() > 128) return error{errc::invalid_argument, "event type must be 1..128 characters"};
  for (char c : t) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return error{errc::invalid_argument, "event type '" + std::string(t) + "' may only contain a-z 0-9 . _ -"};
  }
  return ok();
}

std::unique_ptr<pb::Message> new_message(const std::string& full_name) {
  const auto* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(full_name);
  if (!d) return nullptr;
  const auto* proto = pb::MessageFactory::generated_factory()->GetPrototype(d);
  return std::unique_ptr<pb::Message>(proto->New());
}

// The envelope around a payload message.
events::Envelope envelope_of(const new_event& e, const pb::Message& msg) {
  events::Envelope env;
  const event_id id = e.id ? *e.id : new_uuidv7(e.occurred_at);
  env.set_id(id.raw());
  env.set_type(e.type);
  const auto* known = type_registry::global().find(e.type);
  env.set_schema_version(known ? known->schema_version : e.schema_version);
  env.set_tenant_id(e.tenant);
  env.set_key(e.key);
  if (e.causation) env.set_causation_id(e.causation->raw());
  if (e.correlation) env.set_correlation_id(e.correlation->raw());
  env.set_origin_region(e.region);
  env.set_occurred_at(e.occurred_at);
  env.mutable_payload()->PackFrom(msg);
  for (const auto& [k, v] : e.headers) (*env.mutable_headers())[k] = v;
  return env;
}


// JSON -> google.protobuf.Struct, as protobuf's JSON parser maps it (numbers are doubles), from
// a tree nlohmann already checked (valid UTF-8, no duplicate-key ambiguity: the last one wins in
// both). Depth is bounded by the caller.
void to_value(const nlohmann::json& j, pb::Value& v);

void to_struct(const nlohmann::json& j, pb::Struct& s) {
  auto& fields = *s.mutable_fields();
  for (const auto& item : j.items()) to_value(item.value(), fields[item.key()]);
}

void to_value(const nlohmann::json& j, pb::Value& v) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: v.set_null_value(pb::NULL_VALUE); break;
    case nlohmann::json::value_t::boolean: v.set_bool_value(j.get<bool>()); break;
    case nlohmann::json::value_t::number_integer: v.set_number_value(static_cast<double>(j.get<std::int64_t>())); break;
    case nlohmann::json::value_t::number_unsigned: v.set_number_value(static_cast<double>(j.get<std::uint64_t>())); break;
    case nlohmann::json::value_t::number_float: v.set_number_value(j.get<double>()); break;
    case nlohmann::json::value_t::string: v.set_string_value(j.get_ref<const std::string&>()); break;
    case nlohmann::json::value_t::array: {
      auto* list = v.mutable_list_value();
      list->mutable_values()->Reserve(static_cast<int>(j.size()));
      for (const auto& x : j) to_value(x, *list->add_values());
      break;
    }
    case nlohmann::json::value_t::object: to_struct(j, *v.mutable_struct_value()); break;
    default: v.set_null_value(pb::NULL_VALUE); break;  // binary and discarded never come from text
  }
}

// Levels of arrays and objects, as json_depth counts them in text ({"a":[1]} is 2).
std::size_t tree_depth(const nlohmann::json& j, std::size_t limit, std::size_t at = 1) {
  if (!j.is_structured()) return at - 1;
  if (at > limit) return at;
  std::size_t deepest = at;
  for (const auto& x : j) {
    deepest = std::max(deepest, tree_depth(x, limit, at + 1));
    if (deepest > limit) break;
  }
  return deepest;
}

result<events::Envelope> build_parsed(const new_event& e, const nlohmann::json& payload, const std::string* text) {
  if (!payload.is_object()) return error{errc::invalid_argument, "payload must be a JSON object"};
  const std::string full = payload_type_of(e.type);
  if (full.empty()) {
    pb::Struct s;
    to_struct(payload, s);
    return envelope_of(e, s);
  }
  std::unique_ptr<pb::Message> msg = new_message(full);
  pb::util::JsonParseOptions po;
  po.ignore_unknown_fields = false;
  const auto st = text ? pb::util::JsonStringToMessage(*text, msg.get(), po) : pb::util::JsonStringToMessage(payload.dump(), msg.get(), po);
  if (!st.ok()) return error{errc::invalid_argument, "payload does not match " + full + ": " + std::string(st.message())};
  return envelope_of(e, *msg);
}

}  // namespace

std::string payload_type_of(std::string_view event_type) {
  const auto* t = type_registry::global().find(event_type);
  return t && t->payload ? t->payload->full_name() : std::string();
}

result<events::Envelope> build(const new_event& e) {
  if (e.message) return build(e, *e.message);
  NF_TRY(validate_type(e.type));
  if (json_depth(e.payload_json, kMaxJsonDepth) > kMaxJsonDepth)
    return error{errc::invalid_argument, "payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  auto parsed = nlohmann::json::parse(e.payload_json, nullptr, false);
  if (parsed.is_discarded()) return error{errc::invalid_argument, "payload is not valid JSON"};
  return build_parsed(e, parsed, &e.payload_json);
}

result<events::Envelope> build(const new_event& e, const nlohmann::json& payload) {
  NF_TRY(validate_type(e.type));
  if (tree_depth(payload, kMaxJsonDepth) > kMaxJsonDepth)
    return error{errc::invalid_argument, "payload nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  return build_parsed(e, payload, nullptr);
}

result<events::Envelope> build(const new_event& e, const pb::Message& payload) {
  NF_TRY(validate_type(e.type));
  if (const auto* known = type_registry::global().find(e.type); known && known->payload != payload.GetDescriptor())
    return error{errc::invalid_argument, "event type '" + e.type + "' carries " + known->payload->full_name() + ", not " +
                                             payload.GetDescriptor()->full_name()};
  return envelope_of(e, payload);
}

bus::record to_record(const events::Envelope& env) {
  bus::record r;
  r.key = env.key();
  r.value = env.SerializeAsString();
  r.timestamp_ms = env.occurred_at();
  auto id = event_id::from_raw(env.id());
  r.headers.push_back({kTypeHeader, env.type()});
  r.headers.push_back({kIdHeader, id ? id->to_string() : std::string()});
  r.headers.push_back({kTenantHeader, env.tenant_id()});
  return r;
}

std::string canonical_bytes(const events::Envelope& env) {
  std::string out;
  {
    pb::io::StringOutputStream sos(&out);
    pb::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    env.SerializeToCodedStream(&cos);
  }
  return out;
}

namespace {

error not_an_envelope(const bus::message& m) {
  return error{errc::corruption, "record " + to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get()) +
                                     " is not a valid event envelope"};
}

}  // namespace

result<events::Envelope> from_message_as_stored(const bus::message& m) {
  events::Envelope env;
  if (!env.ParseFromString(m.value)) return not_an_envelope(m);
  return env;
}

// Parsed in place and returned once: this runs for every event every consumer reads.
result<events::Envelope> from_message(const bus::message& m) {
  events::Envelope env;
  if (!env.ParseFromString(m.value)) return not_an_envelope(m);
  if (auto r = type_registry::global().upcast(env); !r)
    return error{r.error().code, "record " + to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get()) + ": " +
                                     r.error().message};
  return env;
}

result<nlohmann::json> payload_json(const events::Envelope& env) {
  if (!env.has_payload()) return nlohmann::json::object();
  const std::string url = env.payload().type_url();
  const auto slash = url.rfind('/');
  const std::string full = slash == std::string::npos ? url : url.substr(slash + 1);
  auto msg = new_message(full);
  if (!msg) return error{errc::unsupported, "unknown payload type '" + full + "'"};
  if (!env.payload().UnpackTo(msg.get())) return error{errc::corruption, "payload does not decode as " + full};
  std::string out;
  pb::util::JsonPrintOptions jo;
  jo.always_print_primitive_fields = true;
  auto st = pb::util::MessageToJsonString(*msg, &out, jo);
  if (!st.ok()) return error{errc::internal, "cannot render payload: " + std::string(st.message())};
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "payload of type " + full + " does not render as JSON"};
  return j;
}

result<nlohmann::json> to_json(const bus::message& m) {
  NF_TRY_ASSIGN(auto env, from_message(m));
  nlohmann::json j;
  j["topic"] = m.topic.get();
  j["partition"] = m.partition.get();
  j["offset"] = m.off.get();
  j["timestamp"] = m.timestamp_ms;
  auto id = event_id::from_raw(env.id());
  j["id"] = id ? id->to_string() : std::string();
  j["type"] = env.type();
  j["schemaVersion"] = env.schema_version();
  j["tenantId"] = env.tenant_id();
  j["key"] = env.key();
  j["aggregateVersion"] = env.aggregate_version();
  auto cause = event_id::from_raw(env.causation_id());
  j["causationId"] = cause ? cause->to_string() : std::string();
  auto corr = event_id::from_raw(env.correlation_id());
  j["correlationId"] = corr ? corr->to_string() : std::string();
  j["originRegion"] = env.origin_region();
  j["occurredAt"] = env.occurred_at();
  j["headers"] = nlohmann::json::object();
  for (const auto& [k, v] : env.headers()) j["headers"][k] = v;
  NF_TRY_ASSIGN(j["payload"], payload_json(env));
  return j;
}

}  // namespace nf::event
