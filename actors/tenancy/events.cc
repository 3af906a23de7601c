// The tenancy feature's event types.
#include "actors/tenancy/events.h"

#include "tenancy.pb.h"

namespace nf::tenancy {

void register_events(event::type_registry& reg) {
  reg.add("tenancy.tenant_created", events::TenantCreated::descriptor(), "tenancy");
  reg.add("tenancy.tenant_updated", events::TenantUpdated::descriptor(), "tenancy");
  reg.add("tenancy.key_created", events::ApiKeyCreated::descriptor(), "tenancy");
  reg.add("tenancy.key_revoked", events::ApiKeyRevoked::descriptor(), "tenancy");
  reg.add("tenancy.role_defined", events::RoleDefined::descriptor(), "tenancy");
  reg.add("tenancy.request_audited", events::AuditRecord::descriptor(), "tenancy");
  reg.add("tenancy.requests_audited", events::AuditBatch::descriptor(), "tenancy");
  reg.add("tenancy.reservation_made", events::ReservationMade::descriptor(), "tenancy");
  reg.add("tenancy.reservation_requested", events::ReservationMade::descriptor(), "tenancy");
  reg.add("tenancy.reservation_refused", events::ReservationRefused::descriptor(), "tenancy");
  reg.add("tenancy.reservation_released", events::ReservationReleased::descriptor(), "tenancy");
  reg.add("tenancy.requests_metered", events::RequestsMetered::descriptor(), "tenancy");
  reg.add("tenancy.usage_alert", events::UsageAlert::descriptor(), "tenancy");
  reg.add("tenancy.quota_exceeded", events::QuotaExceeded::descriptor(), "tenancy");
  reg.add("tenancy.change_requested", events::TenantChangeRequested::descriptor(), "tenancy");
  reg.add("tenancy.change_refused", events::TenantChangeRefused::descriptor(), "tenancy");
}

}  // namespace nf::tenancy
