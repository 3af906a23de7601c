#include "actors/tenancy/reservation_owner.h"

#include "actors/tenancy/route_helpers.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "tenancy.pb.h"

namespace nf::tenancy {

namespace {

// The changes of a tenant that routes make (what the tenants read model folds).
bool change_type(const std::string& t) {
  return t == "tenancy.tenant_created" || t == "tenancy.tenant_updated" || t == "tenancy.key_created" || t == "tenancy.key_revoked" ||
         t == "tenancy.role_defined" || t == "tenancy.reservation_released";
}

}  // namespace

result<bool> reservation_owner::decided_before(const bus::message& m) {
  NF_TRY_ASSIGN(auto through, view_.decided_through(m.partition));
  if (!through || m.off.get() > *through) return false;
  nf::log::get("tenancy")->info("reservation_owner: {}@{} was decided before (its outcome is applied); nothing is appended again",
                                to_string(topic_partition{m.topic, m.partition}), m.off.get());
  return true;
}

result<void> reservation_owner::change(const events::Envelope& cmd, const bus::message& m, ::nf::actor::context& ctx) {
  const auto where = to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  events::TenantChangeRequested req;
  if (!cmd.payload().UnpackTo(&req) || req.tenant_id().empty() || !change_type(req.type()))
    return error{errc::invalid_argument, "tenancy.change_requested at " + where + " does not carry a TenantChangeRequested with a tenant and a change"};
  if (req.change().type_url() != "type.googleapis.com/" + event::payload_type_of(req.type()))
    return error{errc::invalid_argument, "tenancy.change_requested at " + where + ": a " + req.type() + " does not carry " + req.change().type_url()};
  if (req.conditional() && req.expected_version() < 0)
    return error{errc::invalid_argument, "tenancy.change_requested at " + where + " expects version " + std::to_string(req.expected_version())};

  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{tenants::kTenantsTopic});
  if (!epoch && epoch.error().code == errc::conflict) {
    nf::log::get("tenancy")->info("reservation_owner: {}; leaving {} to it", epoch.error().message, where);
    return ok();
  }
  NF_TRY(epoch);
  // The read model has applied every record of the partition: whether this command has an
  // outcome already, and the tenant's version (the count of its records).
  NF_TRY_ASSIGN(const bool again, decided_before(m));
  if (again) return ok();
  NF_TRY_ASSIGN(const auto actual, view_.version(req.tenant_id()));
  event::new_event ev;
  ev.tenant = req.tenant_id();
  ev.headers[tenants::kDecidesHeader] = std::to_string(m.off.get());
  events::TenantChangeRefused refused;
  const bool applies = !req.conditional() || req.expected_version() == actual;
  if (applies) {
    ev.type = req.type();
    ev.key = req.tenant_id();
    ev.payload_json = "{}";  // the requested payload replaces it below
    ev.headers[kVersionHeader] = std::to_string(actual + 1);
  } else {
    refused.set_tenant_id(req.tenant_id());
    refused.set_type(req.type());
    refused.set_expected_version(req.expected_version());
    refused.set_actual_version(actual);
    ev.type = kChangeRefused;
    ev.key = req.tenant_id() + "/refused";
    ev.message = &refused;
  }
  NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
  if (applies) *env.mutable_payload() = req.change();
  NF_TRY(writer_.append({topic_name{tenants::kTenantsTopic}, m.partition}, *epoch, env));
  return ok();
}

result<void> reservation_owner::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto cmd, event::from_message(m));
  if (cmd.type() == kChangeRequested) return change(cmd, m, ctx);
  if (cmd.type() != kReservationRequested) return ok();
  const auto where = to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  events::ReservationMade req;
  if (!cmd.payload().UnpackTo(&req) || req.tenant_id().empty() || req.reservation_id().empty())
    return error{errc::invalid_argument, "tenancy.reservation_requested at " + where + " does not carry a ReservationMade with a tenant and an id"};
  const auto kind = parse_quota(req.kind());
  if (!kind || (*kind != quota::concurrent_runs && *kind != quota::cpu_millicores && *kind != quota::memory_mib) || req.amount() < 1)
    return error{errc::invalid_argument, "tenancy.reservation_requested at " + where + " asks for " + std::to_string(req.amount()) + " of '" +
                                             req.kind() + "'"};

  auto epoch = writer_.prepare(ctx, {m.topic, m.partition}, topic_name{tenants::kTenantsTopic});
  if (!epoch && epoch.error().code == errc::conflict) {
    nf::log::get("tenancy")->info("reservation_owner: {}; leaving {} to it", epoch.error().message, where);
    return ok();
  }
  NF_TRY(epoch);
  NF_TRY_ASSIGN(const bool again, decided_before(m));
  if (again) return ok();

  NF_TRY_ASSIGN(auto doc, view_.get(req.tenant_id()));
  event::new_event ev;
  ev.key = req.tenant_id();
  ev.headers[tenants::kDecidesHeader] = std::to_string(m.off.get());
  events::ReservationRefused refused;
  refused.set_tenant_id(req.tenant_id());
  refused.set_reservation_id(req.reservation_id());
  refused.set_kind(req.kind());
  refused.set_amount(req.amount());
  bool made = false;
  if (!doc) {
    refused.set_reason("unknown_tenant");
  } else if (doc->contains("reservations") && (*doc)["reservations"].contains(req.reservation_id())) {
    made = true;  // decided before (the command is handled again): the same answer
  } else {
    NF_TRY_ASSIGN(auto lim, limits_of_doc(*doc));
    const auto limit = lim[*kind];
    const auto used = reserved_of(*doc)[req.kind()].get<std::int64_t>();
    made = admit(limit, used, req.amount()).allowed;
    refused.set_reason("quota");
    refused.set_limit(limit);
    refused.set_used(used);
  }
  if (made) {
    ev.type = "tenancy.reservation_made";
    ev.message = &req;
  } else {
    ev.type = kReservationRefused;
    ev.message = &refused;
  }
  NF_TRY_ASSIGN(auto env, ctx.caused(std::move(ev)));
  NF_TRY(writer_.append({topic_name{tenants::kTenantsTopic}, m.partition}, *epoch, env));
  return ok();
}

}  // namespace nf::tenancy
