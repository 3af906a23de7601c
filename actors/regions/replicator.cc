#include "actors/regions/replicator.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

#include "core/bus/fence.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "envelope.pb.h"
#include "projections/regions/regions.h"
#include "regions.pb.h"

namespace nf::regions {

namespace {

constexpr std::int64_t kScanWindow = 1000;

}  // namespace

result<void> read_partition(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to,
                            const std::function<bool(const bus::message&)>& fn) {
  if (from >= to) return ok();
  NF_TRY_ASSIGN(auto c, b.make_consumer(bus::consumer_options{}));
  NF_TRY(c->assign({{tp, offset{from}}}));
  int idle = 0;
  while (idle < 2) {
    NF_TRY_ASSIGN(auto batch, c->poll(std::chrono::milliseconds(200), 1000));
    if (batch.empty()) {
      ++idle;
      continue;
    }
    idle = 0;
    for (const auto& m : batch) {
      if (m.off.get() >= to) return ok();
      if (!fn(m)) return ok();
    }
    if (batch.back().off.get() >= to - 1) return ok();
  }
  return ok();
}

namespace {

// Scans a partition back from its end to `floor`, a window at a time, for the last record `pick`
// accepts.
result<std::optional<bus::message>> last_where(bus::event_bus& b, const topic_partition& tp, const std::function<bool(const bus::message&)>& pick,
                                               std::int64_t floor = 0) {
  NF_TRY_ASSIGN(auto begin0, b.begin_offset(tp));
  NF_TRY_ASSIGN(auto end, b.end_offset(tp));
  const std::int64_t begin = std::max(begin0.get(), floor);
  std::int64_t hi = end.get();
  while (hi > begin) {
    const std::int64_t lo = std::max(begin, hi - kScanWindow);
    std::optional<bus::message> found;
    NF_TRY(read_partition(b, tp, lo, hi, [&](const bus::message& m) {
      if (pick(m)) found = m;
      return true;
    }));
    if (found) return found;
    hi = lo;
  }
  return std::optional<bus::message>{};
}

// The envelope's origin_region (field 9) read straight from the wire, without parsing the rest
// (the payload is the bulk of a record): nullopt for bytes that are not an envelope.
std::optional<std::string> origin_region_of(const std::string& value) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(value.data()), static_cast<int>(value.size()));
  std::optional<std::string> found;
  for (;;) {
    const std::uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() != static_cast<int>(value.size())) return std::nullopt;  // not a whole message
      return found.value_or("");
    }
    if (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag) == events::Envelope::kOriginRegionFieldNumber &&
        google::protobuf::internal::WireFormatLite::GetTagWireType(tag) == google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string s;
      if (!google::protobuf::internal::WireFormatLite::ReadString(&in, &s)) return std::nullopt;
      found = std::move(s);
    } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
}

std::optional<region_position> header_position(const bus::message& m, const char* name) {
  const auto* h = m.find_header(name);
  if (!h) return std::nullopt;
  return parse_position(*h);
}

}  // namespace

std::string to_header(const region_position& p) { return p.region + " " + std::to_string(p.offset); }

std::optional<region_position> parse_position(std::string_view h) {
  const auto sp = h.rfind(' ');
  if (sp == std::string_view::npos || sp == 0 || sp + 1 >= h.size()) return std::nullopt;
  region_position p;
  p.region = std::string(h.substr(0, sp));
  const auto digits = h.substr(sp + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.offset);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || p.offset < 0) return std::nullopt;
  return p;
}

result<std::optional<std::int64_t>> last_mirrored(bus::event_bus& target, const topic_partition& tp, const std::string& source_region,
                                                  std::int64_t floor) {
  NF_TRY_ASSIGN(auto m, last_where(
                            target, tp,
                            [&](const bus::message& msg) {
                              auto p = header_position(msg, kMirrorHeader);
                              return p && p->region == source_region;
                            },
                            floor));
  if (!m) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{header_position(*m, kMirrorHeader)->offset};
}

region_position origin_of(const bus::message& m, const std::string& source, const recovery_info* recovered) {
  if (auto h = header_position(m, kOriginHeader)) return *h;
  region_position origin;
  auto region = origin_region_of(m.value);
  origin.region = region && !region->empty() ? std::move(*region) : source;  // not an envelope of ours, or no region named: it began in the source
  origin.offset = m.off.get();
  if (recovered && origin.region == source) {
    auto it = recovered->parts.find(topic_partition{m.topic, m.partition});
    std::int64_t shifted = 0;
    if (it != recovered->parts.end() && m.off.get() >= it->second.end && !__builtin_add_overflow(origin.offset, it->second.shift, &shifted))
      origin.offset = shifted;
  }
  return origin;
}

std::optional<recovery_info> recovery_of_record(const bus::message& m, const std::string& region) {
  auto env = event::from_message(m);
  events::RegionRecovered rec;
  if (!env || env->type() != kRecovered || !env->payload().UnpackTo(&rec) || rec.region() != region) return std::nullopt;
  constexpr std::int64_t kPlausible = std::int64_t{1} << 62;
  auto ok_value = [&](std::int64_t v) { return v >= 0 && v <= kPlausible; };
  recovery_info out;
  out.from = rec.from();
  for (const auto& p : rec.partitions())
    if (ok_value(p.end()) && ok_value(p.peer_end()) && ok_value(p.origin_shift()) && p.partition() >= 0)
      out.parts[topic_partition{topic_name{p.topic()}, partition_id{p.partition()}}] = {p.end(), p.peer_end(), p.origin_shift()};
  return out;
}

result<std::optional<recovery_info>> last_recovery(bus::event_bus& b, const std::string& region) {
  const topic_partition tp{topic_name{kControlTopic}, partition_id{0}};
  if (auto t = b.describe_topic(tp.topic); !t) {
    if (t.error().code == errc::not_found) return std::optional<recovery_info>{};
    return std::move(t).error();
  }
  std::optional<recovery_info> latest;
  NF_TRY(last_where(b, tp, [&](const bus::message& msg) {
    auto r = recovery_of_record(msg, region);
    if (r) latest = std::move(r);  // the window is read oldest first: the last one stands
    return r.has_value();
  }));
  return latest;
}

// ---------------- target_guard ----------------

std::mutex& target_guard::lock_of(const topic_partition& tp) {
  std::lock_guard lk(mu_);
  auto& l = locks_[{tp.topic.get(), tp.partition.get()}];
  if (!l) l = std::make_unique<std::mutex>();
  return *l;
}

result<std::int64_t> target_guard::watermark(const topic_partition& tp, const std::string& origin) {
  const auto key = std::make_tuple(tp.topic.get(), tp.partition.get(), origin);
  {
    std::lock_guard lk(mu_);
    if (auto it = marks_.find(key); it != marks_.end()) return it->second;
  }
  NF_TRY_ASSIGN(auto m, last_where(target_, tp, [&](const bus::message& msg) {
    auto p = header_position(msg, kOriginHeader);
    return p && p->region == origin;
  }));
  const std::int64_t mark = m ? header_position(*m, kOriginHeader)->offset : -1;
  std::lock_guard lk(mu_);
  auto [it, fresh] = marks_.emplace(key, mark);
  if (!fresh) it->second = std::max(it->second, mark);
  return it->second;
}

void target_guard::advance(const topic_partition& tp, const std::string& origin, std::int64_t off) {
  std::lock_guard lk(mu_);
  auto& m = marks_[std::make_tuple(tp.topic.get(), tp.partition.get(), origin)];
  m = std::max(m, off);
}

// ---------------- replicator ----------------

replicator::replicator(bus::event_bus& source, target_guard& target, link_options opts)
    : source_(source), target_(target), opts_(std::move(opts)) {}

replicator::~replicator() = default;

result<void> replicator::add_topic(const bus::topic_info& t) {
  auto& target = target_.bus();
  auto existing = target.describe_topic(t.name);
  if (existing) {
    if (existing->config.partitions < t.config.partitions)
      return error{errc::invalid_argument, "topic '" + t.name.get() + "' has " + std::to_string(existing->config.partitions) + " partitions in region " +
                                               opts_.to + " and " + std::to_string(t.config.partitions) + " in " + opts_.from +
                                               ": a partition is copied to the same partition number, so the target needs at least as many"};
  } else if (existing.error().code == errc::not_found) {
    bus::topic_config cfg = t.config;
    if (target.kind() == "kafka") cfg.key_versions = false;  // a Kafka broker does not count them
    auto made = target.create_topic(t.name, cfg);
    if (!made && made.error().code != errc::already_exists) return made;
  } else {
    return std::move(existing).error();
  }
  for (std::int32_t p = 0; p < t.config.partitions; ++p) {
    const topic_partition tp{t.name, partition_id{p}};
    partition_state s;
    s.tp = tp;
    NF_TRY_ASSIGN(auto begin, source_.begin_offset(tp));
    NF_TRY_ASSIGN(auto end, source_.end_offset(tp));
    // A source rebuilt from this very target holds, up to where its rebuilt log ended, only what
    // the target had: the link resumes there, or after what it copied since (the target records
    // from before the rebuild name offsets of the log that was replaced).
    const recovery_info::part* rebuilt = nullptr;
    if (recovered_ && recovered_->from == opts_.to)
      if (auto it = recovered_->parts.find(tp); it != recovered_->parts.end()) rebuilt = &it->second;
    NF_TRY_ASSIGN(auto last, last_mirrored(target, tp, opts_.from, rebuilt ? rebuilt->peer_end : 0));
    if (rebuilt && !last && rebuilt->end > 0) last = rebuilt->end - 1;
    // The target's records say where the link stopped. A position past the source's end means
    // the source is not the log they came from (reset, restored from an older backup, or another
    // region under the same name): copying on would skip whatever it writes up to that offset.
    if (last && *last >= end.get())
      return error{errc::corruption, "region " + opts_.to + " holds " + to_string(tp) + " records copied from offset " + std::to_string(*last) +
                                         " of region " + opts_.from + ", which ends at " + std::to_string(end.get()) +
                                         ": the source is not the log they came from (reset or restored?); nothing was copied"};
    s.next = last ? *last + 1 : begin.get();
    if (s.next < begin.get()) {
      nf::log::get("regions")->warn("{} {} -> {}: the source no longer holds offsets {} to {} (retention); resuming at {}", to_string(tp), opts_.from,
                                    opts_.to, s.next, begin.get() - 1, begin.get());
      s.next = begin.get();
    }
    parts_[tp] = s;
  }
  topics_.push_back(t.name.get());
  return ok();
}

result<void> replicator::prepare() {
  if (opts_.from == opts_.to) return error{errc::invalid_argument, "a link from region " + opts_.from + " to itself copies nothing"};
  if (opts_.topics.empty()) return error{errc::invalid_argument, "a link needs at least one topic or pattern"};
  NF_TRY_ASSIGN(auto all, source_.list_topics());
  for (const auto& pattern : opts_.topics) {
    if (!pattern.empty() && pattern[0] == '!') continue;  // leaves topics out
    bool any = false;
    for (const auto& t : all) any = any || bus::topic_matches(pattern, t.name.get());
    if (!any) return error{errc::invalid_argument, "'" + pattern + "' matches no topic of region " + opts_.from};
  }
  NF_TRY_ASSIGN(recovered_, last_recovery(source_, opts_.from));
  NF_TRY_ASSIGN(reader_, source_.make_consumer(bus::consumer_options{}));
  for (const auto& t : all)
    if (bus::subscribed_by(opts_.topics, t.name.get())) NF_TRY(add_topic(t));
  std::vector<std::pair<topic_partition, offset>> at;
  for (const auto& [tp, s] : parts_) at.emplace_back(tp, offset{s.next});
  return reader_->assign(at);
}

result<void> replicator::refresh_topics() {
  NF_TRY_ASSIGN(auto all, source_.list_topics());
  bool added = false;
  for (const auto& t : all)
    if (bus::subscribed_by(opts_.topics, t.name.get()) && std::find(topics_.begin(), topics_.end(), t.name.get()) == topics_.end()) {
      NF_TRY(add_topic(t));
      added = true;
    }
  if (!added) return ok();
  std::vector<std::pair<topic_partition, offset>> at;
  for (const auto& [tp, s] : parts_) at.emplace_back(tp, offset{s.next});
  return reader_->assign(at);
}

result<std::size_t> replicator::step(std::chrono::milliseconds wait) {
  if (!reader_) return error{errc::internal, "replicator::step before prepare"};
  NF_TRY_ASSIGN(auto batch, reader_->poll(wait, opts_.batch));
  if (batch.empty()) return std::size_t{0};
  const auto n = batch.size();
  NF_TRY(copy(batch));
  return n;
}

result<void> replicator::copy(std::vector<bus::message>& batch) {
  // Records of one partition are in order in a poll; group them, keeping that order.
  std::map<topic_partition, std::vector<bus::message*>> by_part;
  for (auto& m : batch) by_part[topic_partition{m.topic, m.partition}].push_back(&m);
  auto& copied_total = metrics::registry::global().get_counter("nf_region_events_copied_total", "Events a link copied to its target region");
  auto& skipped_total = metrics::registry::global().get_counter("nf_region_events_skipped_total", "Events a link did not copy (their origin is the target, or the target had them)");
  for (auto& [tp, msgs] : by_part) {
    auto it = parts_.find(tp);
    if (it == parts_.end()) continue;  // a partition not assigned any more
    auto& st = it->second;
    std::lock_guard lk(target_.lock_of(tp));
    std::vector<bus::record> out;
    std::map<std::string, std::int64_t> marks;  // this batch's watermarks by origin
    out.reserve(msgs.size());
    std::int64_t last_off = st.next - 1;
    std::int64_t last_ts = st.last_copied_ts;
    for (auto* m : msgs) {
      if (m->off.get() < st.next) continue;  // read again after a re-assign
      last_off = m->off.get();
      // Single-writer fencing (core/bus/fence.h) is by the source partition's own offsets, which
      // mean nothing in the target: the link judges it here, copies neither claims nor what a
      // deposed owner wrote, and strips the marks from what it copies. A recovery copies the
      // peer's partitions whole, marks included: the rebuilt log is the peer's, offset for offset.
      if (!opts_.recover && (m->find_header(bus::kClaimHeader) || m->find_header(bus::kEpochHeader))) {
        if (st.fence.judge(*m) != bus::fence_verdict::current) {
          ++st.skipped_fence;
          continue;
        }
      }
      const region_position origin = origin_of(*m, opts_.from, recovered_ ? &*recovered_ : nullptr);
      if (origin.region == opts_.to && !opts_.recover) {
        ++st.skipped_loop;
        skipped_total.inc();
        continue;
      }
      auto cached = marks.find(origin.region);
      if (cached == marks.end()) {
        NF_TRY_ASSIGN(auto mark0, target_.watermark(tp, origin.region));
        cached = marks.emplace(origin.region, mark0).first;
      }
      const std::int64_t mark = cached->second;
      if (origin.offset <= mark) {
        ++st.skipped_seen;
        skipped_total.inc();
        continue;
      }
      bus::record r;
      r.key = m->key;
      r.value = m->value;
      r.timestamp_ms = m->timestamp_ms;
      r.partition = m->partition;
      for (const auto& h : m->headers)
        if (h.name != kMirrorHeader && h.name != kOriginHeader && (opts_.recover || h.name != bus::kEpochHeader)) r.headers.push_back(h);
      r.headers.push_back({kMirrorHeader, to_header({opts_.from, m->off.get()})});
      r.headers.push_back({kOriginHeader, to_header(origin)});
      out.push_back(std::move(r));
      cached->second = origin.offset;  // the batch's own records count for the ones after them
      last_ts = m->timestamp_ms;
    }
    if (!out.empty()) {
      NF_TRY(target_.bus().append(tp.topic, std::span<const bus::record>(out.data(), out.size())));
      for (const auto& [region, off] : marks) target_.advance(tp, region, off);
      st.copied += static_cast<std::int64_t>(out.size());
      copied_total.inc(static_cast<std::int64_t>(out.size()));
    }
    st.next = last_off + 1;
    st.last_copied_ts = last_ts;
  }
  return ok();
}

result<std::vector<partition_state>> replicator::lag(bool timestamps) {
  std::vector<partition_state> out;
  for (auto& entry : parts_) {
    const auto& tp = entry.first;
    auto& s = entry.second;  // not a structured binding: the lambda below captures it
    NF_TRY_ASSIGN(auto end, source_.end_offset(tp));
    s.source_end = end.get();
    s.pending_since = 0;
    if (timestamps && s.lag_events() > 0)
      NF_TRY(read_partition(source_, tp, s.next, s.source_end, [&](const bus::message& m) {
        s.pending_since = m.timestamp_ms;
        return false;
      }));
    out.push_back(s);
  }
  return out;
}

result<std::vector<translated>> translate(bus::event_bus& source, bus::event_bus& target, const std::string& group,
                                         const std::string& source_region, const std::vector<std::string>& topics) {
  if (group.empty()) return error{errc::invalid_argument, "a group to translate is required"};
  NF_TRY_ASSIGN(auto all, source.list_topics());
  std::vector<translated> out;
  for (const auto& t : all) {
    if (!bus::subscribed_by(topics, t.name.get())) continue;
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      const topic_partition tp{t.name, partition_id{p}};
      NF_TRY_ASSIGN(auto committed, source.committed(group, tp));
      if (!committed) continue;
      translated x{tp, committed->get(), 0};
      // The last record copied from before the committed position: the group had read it.
      std::optional<bus::message> m;
      if (x.source > 0) {
        auto found = last_where(target, tp, [&](const bus::message& msg) {
          auto h = header_position(msg, kMirrorHeader);
          return h && h->region == source_region && h->offset < x.source;
        });
        if (!found) return std::move(found).error();
        m = std::move(*found);
      }
      if (m) {
        x.target = m->off.get() + 1;
      } else {
        NF_TRY_ASSIGN(auto begin, target.begin_offset(tp));
        x.target = begin.get();
      }
      out.push_back(x);
    }
  }
  return out;
}

}  // namespace nf::regions
