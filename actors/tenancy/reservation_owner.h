// reservation_owner: decides reservations against a tenant's quota. Each decision must see every
// earlier one for the tenant, so one instance decides for it: the owner of the tenant's
// partition of commands.tenancy in the group "actor.reservation_owner", from the tenants read
// model caught up on that partition of tenancy.tenants (core/command/owner.h fences deposed
// owners).
//
// In:  commands.tenancy  tenancy.reservation_requested (ReservationMade: the reservation asked for)
// Out: tenancy.tenants   tenancy.reservation_made (the same payload) when the quota holds it, else
//                        tenancy.reservation_refused (ReservationRefused: limit, used, requested)
// Ids are derived from the command: a command handled again after a crash finds its reservation
// already made and answers with it, never reserving twice.
#pragma once

#include "core/actor/actor.h"
#include "core/command/owner.h"
#include "projections/tenants/tenants.h"

namespace nf::tenancy {

inline constexpr const char* kCommandsTopic = "commands.tenancy";
inline constexpr const char* kReservationRequested = "tenancy.reservation_requested";
inline constexpr const char* kReservationRefused = "tenancy.reservation_refused";

class reservation_owner final : public ::nf::actor::actor {
 public:
  reservation_owner(command::single_writer& writer, tenants::tenants_view view) : writer_(writer), view_(view) {}
  std::string name() const override { return "reservation_owner"; }
  std::vector<std::string> subscriptions() const override { return {kCommandsTopic}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;

 private:
  command::single_writer& writer_;
  tenants::tenants_view view_;
};

}  // namespace nf::tenancy
