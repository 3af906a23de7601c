// `nexus-forge region recover` and `region failback`: a region's log rebuilt from a peer.
//
// recover: the local (embedded) region's log and read models are moved aside into
// <data_dir>/aside-<time>/ (never deleted), every topic of the peer is copied in, the region's
// own events included (the peer holds them as copies), a region.recovered event records where
// the rebuilt log ends, and every read model is rebuilt from it with progress. Each read model's
// digest is then compared with the peer's (through --peer-server, or the peer's stopped data
// directory). The new log and read models are built in <data_dir>/recovering/ and moved into
// place once complete, so nothing reads them half-made. An interrupted recovery resumes where it
// stopped when run again (<data_dir>/recovering.json names the peer).
//
// failback: the same, for a region that was the primary and comes back after another was
// promoted. Before its log is set aside, its own events that the peer never got are found (per
// partition, those above the peer's origin watermark for this region); they are reported and
// written, unchanged, to this region's region.diverged topic, which no read model folds: kept,
// never applied and never silently dropped.
//
// The keys and vault of the data directory stay where they are.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/config/config.h"
#include "core/projection/projection.h"

namespace nf::regions {

struct recover_options {
  std::string region;       // the region to rebuild (default: the config's own)
  std::string from;         // the peer
  std::string peer_server;  // the peer's server, for its digests (http://HOST:PORT)
  std::string key;          // API key for peer_server
  std::size_t batch = 1000;
  bool failback = false;
  bool quiet = false;       // no progress
};

// The report: {region, from, mode, keptAside, resumed, copied, ownEventsRecovered, partitions,
// diverged: {count, events: [{topic, partition, offset, id, type}]}, projections: [{name, events,
// digest, peerDigest, equal}], digestsCompared, allEqual, peerDigestsFrom}.
result<nlohmann::json> recover_region(const config::config& cfg, const recover_options& o, const std::vector<projection::projection*>& read_models,
                                      std::ostream& progress);

}  // namespace nf::regions
