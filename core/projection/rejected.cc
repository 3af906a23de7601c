#include "core/projection/rejected.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::projection {

result<void> keep_rejected(state_writer& w, std::string_view projection, std::string_view prefix, const bus::message& m,
                           const std::string& type, const std::string& event_id, const std::string& reason) {
  nf::log::get(std::string(projection))
      ->warn("{} {} at {}@{}: {}; kept as rejected", type, event_id, to_string(topic_partition{m.topic, m.partition}), m.off.get(), reason);
  metrics::registry::global()
      .get_counter("nf_projection_rejected_events_total", "Events a read model could not fold (kept with the reason)",
                   {{"projection", std::string(projection)}})
      .inc();
  char off[24];
  std::snprintf(off, sizeof off, "%020lld", static_cast<long long>(m.off.get()));
  return w.put(std::string(prefix) + m.topic.get() + "/" + std::to_string(m.partition.get()) + "/" + off,
               nlohmann::json{{"type", type}, {"eventId", event_id}, {"topic", m.topic.get()}, {"partition", m.partition.get()},
                              {"offset", m.off.get()}, {"reason", reason}}
                   .dump());
}

result<std::vector<nlohmann::json>> read_rejected(store& s, const projection& p, std::string_view prefix, std::size_t limit) {
  NF_TRY_ASSIGN(auto r, s.reader(p));
  std::vector<nlohmann::json> out;
  NF_TRY(r->scan(prefix, [&](std::string_view, std::string_view v) {
    auto j = nlohmann::json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return out.size() < limit;
  }));
  return out;
}

}  // namespace nf::projection
