// reservation_owner: the tenant's owner. It decides reservations against a tenant's quota and,
// where the bus cannot check an expected version (Kafka), appends every change of a tenant. Each
// decision must see every earlier one for the tenant, so one instance decides for it: the owner of
// the tenant's partition of commands.tenancy in the group "actor.reservation_owner", from the
// tenants read model caught up on that partition of tenancy.tenants (core/command/owner.h fences
// deposed owners).
//
// In:  commands.tenancy  tenancy.reservation_requested (ReservationMade: the reservation asked for)
//                        tenancy.change_requested (TenantChangeRequested: a change, maybe with an
//                        expected version)
// Out: tenancy.tenants   tenancy.reservation_made (the same payload) when the quota holds it, else
//                        tenancy.reservation_refused (ReservationRefused: limit, used, requested);
//                        the change itself (its type and payload, the tenant's new version in the
//                        nf-version header) when the version is as expected, else
//                        tenancy.change_refused (TenantChangeRefused: expected, actual)
// Ids are derived from the command, and each outcome names its command's offset (the nf-decides
// header): a command handled again (a commit lost to a crash or a rebalance) whose outcome the
// read model has applied is not decided twice, so a duplicate never moves a tenant's version. One
// a deposed owner decided (refused by fencing) is decided again by the current owner. A retried
// reservation (a new command) finds its reservation already made and answers with it.
#pragma once

#include "core/actor/actor.h"
#include "core/command/owner.h"
#include "projections/tenants/tenants.h"

namespace nf::tenancy {

inline constexpr const char* kCommandsTopic = "commands.tenancy";
inline constexpr const char* kReservationRequested = "tenancy.reservation_requested";
inline constexpr const char* kReservationRefused = "tenancy.reservation_refused";
inline constexpr const char* kChangeRequested = "tenancy.change_requested";
inline constexpr const char* kChangeRefused = "tenancy.change_refused";
// On a change the owner appended: the tenant's version after it.
inline constexpr const char* kVersionHeader = "nf-version";

class reservation_owner final : public ::nf::actor::actor {
 public:
  reservation_owner(command::single_writer& writer, tenants::tenants_view view) : writer_(writer), view_(view) {}
  std::string name() const override { return "reservation_owner"; }
  std::vector<std::string> subscriptions() const override { return {kCommandsTopic}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;

 private:
  result<void> change(const events::Envelope& cmd, const bus::message& m, ::nf::actor::context& ctx);
  // Whether an applied outcome already decides the command at `m` (kDecidesHeader); the state
  // must be caught up (prepare()).
  result<bool> decided_before(const bus::message& m);

  command::single_writer& writer_;
  tenants::tenants_view view_;
};

}  // namespace nf::tenancy
