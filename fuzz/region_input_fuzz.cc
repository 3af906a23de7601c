// libFuzzer: what regions read from outside. The headers another region's records carry
// (nf-mirror, nf-origin), records of region.heartbeats and region.control (promotions,
// recoveries), and a routing client. Nothing may crash;
// a position that parses prints back to itself; the offset map folds any header without error;
// a client that parses routes to a region that is up, or to none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "actors/regions/replicator.h"
#include "actors/regions/routing.h"
#include "projections/regions/regions.h"

namespace {

class map_writer final : public nf::projection::state_writer {
 public:
  nf::result<std::optional<std::string>> get(std::string_view key) override {
    auto it = m_.find(std::string(key));
    if (it == m_.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  nf::result<void> put(std::string_view key, std::string_view value) override {
    m_[std::string(key)] = std::string(value);
    return nf::ok();
  }
  nf::result<void> del(std::string_view key) override {
    m_.erase(std::string(key));
    return nf::ok();
  }

 private:
  std::map<std::string, std::string> m_;
};

// `value` as the first record of `topic`, folded by a fresh regions read model (kept as rejected,
// or folded: never a crash); the record, for further checks.
nf::bus::message fold_one(const char* topic, const std::string& value) {
  nf::regions::regions_projection proj({"mission.*"});
  map_writer w;
  nf::bus::message m;
  m.topic = nf::topic_name{topic};
  m.partition = nf::partition_id{0};
  m.off = nf::offset{0};
  m.value = value;
  (void)proj.apply(m, w);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto p = nf::regions::parse_position(text);
      if (p) {
        auto again = nf::regions::parse_position(nf::regions::to_header(*p));
        if (!again || again->region != p->region || again->offset != p->offset) std::abort();
      }
      // The same text as a copied record's nf-mirror header, twice (a run, then a repeat).
      nf::regions::regions_projection proj({"mission.*"});
      map_writer w;
      for (std::int64_t off = 0; off < 2; ++off) {
        nf::bus::message m;
        m.topic = nf::topic_name{"mission.lifecycle"};
        m.partition = nf::partition_id{0};
        m.off = nf::offset{off};
        m.headers.push_back({"nf-mirror", text});
        if (!proj.apply(m, w)) std::abort();  // a header it cannot read is passed over, never an error
      }
      break;
    }
    case 1: {
      (void)fold_one(nf::regions::kHeartbeatsTopic, text);  // kept as rejected, or folded
      break;
    }
    case 3: {
      // A record of region.control: folded or kept as rejected; read as a recovery, its shift
      // applies to an offset without overflow.
      const auto m = fold_one(nf::regions::kControlTopic, text);
      auto rec = nf::regions::recovery_of_record(m, "a");
      if (rec) {
        for (const auto& [tp, part] : rec->parts) {
          nf::bus::message own;
          own.topic = tp.topic;
          own.partition = tp.partition;
          own.off = nf::offset{INT64_MAX - 1};
          const auto o = nf::regions::origin_of(own, "a", &*rec);
          if (o.region != "a" || o.offset < own.off.get()) std::abort();
        }
      }
      break;
    }
    default: {
      auto c = nf::regions::parse_client(text);
      if (!c) break;
      std::vector<nf::regions::region_state> regions{{"us-east", nf::regions::location{39.0, -77.5}, true, 0.2, 10},
                                                     {"eu-west", nf::regions::location{53.3, -6.3}, false, 0.1, 0},
                                                     {"ap-south", std::nullopt, true, 0.95, 0}};
      auto d = nf::regions::route(*c, regions, {});
      if (d && !d->region.empty() && d->region == "eu-west") std::abort();  // down: never chosen
      break;
    }
  }
  return 0;
}
