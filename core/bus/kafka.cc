// Kafka bus on librdkafka. Every RdKafka::ErrorCode becomes an nf::error here.
#include "core/bus/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::bus {
namespace {

error kafka_error(RdKafka::ErrorCode code, const std::string& context) {
  errc c = errc::unavailable;
  switch (code) {
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION: c = errc::not_found; break;
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__MSG_TIMED_OUT: c = code == RdKafka::ERR__MSG_TIMED_OUT ? errc::timeout : errc::too_large; break;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT: c = errc::timeout; break;
    case RdKafka::ERR_TOPIC_ALREADY_EXISTS: c = errc::already_exists; break;
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_TOPIC_EXCEPTION: c = errc::invalid_argument; break;
    default: break;
  }
  return error{c, context + ": " + RdKafka::err2str(code)};
}

struct conf_deleter {
  void operator()(RdKafka::Conf* c) const { delete c; }
};
using conf_ptr = std::unique_ptr<RdKafka::Conf, conf_deleter>;

result<void> set(RdKafka::Conf& c, const std::string& k, const std::string& v) {
  std::string err;
  if (c.set(k, v, err) != RdKafka::Conf::CONF_OK)
    return error{errc::invalid_argument, "kafka property '" + k + "'='" + v + "': " + err};
  return ok();
}

class log_cb final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    static auto log = nf::log::get("kafka");
    if (e.type() == RdKafka::Event::EVENT_LOG) {
      if (e.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR) log->error("{}: {}", e.fac(), e.str());
      else if (e.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) log->warn("{}: {}", e.fac(), e.str());
      else log->debug("{}: {}", e.fac(), e.str());
    } else if (e.type() == RdKafka::Event::EVENT_ERROR) {
      log->warn("{}", e.str());
    }
  }
};
log_cb g_log_cb;

result<conf_ptr> base_conf(const kafka_options& o) {
  conf_ptr c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  NF_TRY(set(*c, "bootstrap.servers", o.bootstrap_servers));
  NF_TRY(set(*c, "client.id", "nexus-forge"));
  NF_TRY(set(*c, "topic.metadata.refresh.interval.ms", std::to_string(o.metadata_refresh_ms)));
  std::string err;
  c->set("event_cb", static_cast<RdKafka::EventCb*>(&g_log_cb), err);
  for (const auto& [k, v] : o.properties) NF_TRY(set(*c, k, v));
  return c;
}

struct delivery {
  std::atomic<bool> done{false};
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  std::int32_t partition = -1;
  std::int64_t off = -1;
  std::int64_t ts = 0;
};

class delivery_cb final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    auto* d = static_cast<delivery*>(m.msg_opaque());
    if (!d) return;
    d->err = m.err();
    d->partition = m.partition();
    d->off = m.offset();
    d->ts = m.timestamp().timestamp;
    d->done.store(true, std::memory_order_release);
  }
};

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> d;
  return std::to_string(d(rd));
}

class kafka_bus;

class tp_list {
 public:
  ~tp_list() { RdKafka::TopicPartition::destroy(v); }
  std::vector<RdKafka::TopicPartition*> v;
};

// ---- consumer ---------------------------------------------------------------------------------

class kafka_consumer final : public consumer {
 public:
  kafka_consumer(std::unique_ptr<RdKafka::KafkaConsumer> c, consumer_options o) : c_(std::move(c)), opts_(std::move(o)) {}
  ~kafka_consumer() override {
    if (c_) (void)c_->close();
  }

  result<std::vector<message>> poll(std::chrono::milliseconds timeout, std::size_t max_messages) override {
    std::vector<message> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (paused_) {
      tp_list a;
      c_->assignment(a.v);
      if (!a.v.empty()) (void)c_->pause(a.v);
    }
    int wait_ms = static_cast<int>(timeout.count());
    while (out.size() < max_messages) {
      std::unique_ptr<RdKafka::Message> m(c_->consume(out.empty() ? wait_ms : 0));
      const auto err = m->err();
      if (err == RdKafka::ERR_NO_ERROR) {
        message msg;
        msg.topic = topic_name{m->topic_name()};
        msg.partition = partition_id{m->partition()};
        msg.off = offset{m->offset()};
        msg.timestamp_ms = m->timestamp().timestamp;
        if (m->key()) msg.key = *m->key();
        msg.value.assign(static_cast<const char*>(m->payload()), m->len());
        if (auto* hs = m->headers()) {
          for (const auto& h : hs->get_all())
            msg.headers.push_back({h.key(), std::string(static_cast<const char*>(h.value()), h.value_size())});
        }
        consumed_[{msg.topic, msg.partition}] = msg.off.get() + 1;
        out.push_back(std::move(msg));
        continue;
      }
      if (err == RdKafka::ERR__TIMED_OUT || err == RdKafka::ERR__PARTITION_EOF) {
        if (!out.empty() || std::chrono::steady_clock::now() >= deadline || wakeup_.exchange(false)) break;
        wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
        if (wait_ms <= 0) break;
        continue;
      }
      if (err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || err == RdKafka::ERR__UNKNOWN_TOPIC ||
          err == RdKafka::ERR__TRANSPORT || err == RdKafka::ERR__ALL_BROKERS_DOWN) {
        // Transient, or a pattern that matches nothing yet: the client retries by itself.
        if (!out.empty() || std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      if (!out.empty()) break;  // return what we have; the error comes back on the next poll
      return kafka_error(err, "kafka consume: " + m->errstr());
    }
    return out;
  }

  result<void> commit() override {
    std::vector<std::pair<topic_partition, offset>> pos;
    for (const auto& [tp, off] : consumed_) pos.emplace_back(tp, offset{off});
    if (pos.empty()) return ok();
    return commit(pos);
  }

  result<void> commit(const std::vector<std::pair<topic_partition, offset>>& positions) override {
    if (opts_.group.empty()) return error{errc::invalid_argument, "a consumer without a group cannot commit"};
    tp_list l;
    for (const auto& [tp, off] : positions)
      l.v.push_back(RdKafka::TopicPartition::create(tp.topic.get(), tp.partition.get(), off.get()));
    auto err = c_->commitSync(l.v);
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka commit of group '" + opts_.group + "'");
    return ok();
  }

  result<void> assign(const std::vector<std::pair<topic_partition, offset>>& positions) override {
    if (!opts_.group.empty()) return error{errc::invalid_argument, "group consumers get partitions from their group; use a consumer without a group to assign"};
    tp_list l;
    for (const auto& [tp, off] : positions)
      l.v.push_back(RdKafka::TopicPartition::create(tp.topic.get(), tp.partition.get(), off.get()));
    auto err = c_->assign(l.v);
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka assign");
    return ok();
  }

  result<void> seek(const topic_partition& tp, offset off) override {
    if (opts_.group.empty()) {
      // Re-assigning is the reliable way to move a standalone consumer.
      tp_list cur;
      c_->assignment(cur.v);
      std::vector<std::pair<topic_partition, offset>> pos;
      bool found = false;
      for (auto* p : cur.v) {
        topic_partition x{topic_name{p->topic()}, partition_id{p->partition()}};
        if (x == tp) {
          pos.emplace_back(x, off);
          found = true;
        } else {
          auto it = consumed_.find(x);
          pos.emplace_back(x, offset{it != consumed_.end() ? it->second : p->offset()});
        }
      }
      if (!found) return error{errc::invalid_argument, to_string(tp) + " is not assigned to this consumer"};
      return assign(pos);
    }
    std::unique_ptr<RdKafka::TopicPartition> p(RdKafka::TopicPartition::create(tp.topic.get(), tp.partition.get(), off.get()));
    auto err = c_->seek(*p, 5000);
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka seek " + to_string(tp));
    return ok();
  }

  std::vector<topic_partition> assignment() override {
    tp_list l;
    c_->assignment(l.v);
    std::vector<topic_partition> out;
    for (auto* p : l.v) out.push_back({topic_name{p->topic()}, partition_id{p->partition()}});
    std::sort(out.begin(), out.end());
    return out;
  }

  void pause() override {
    paused_ = true;
    tp_list l;
    c_->assignment(l.v);
    if (!l.v.empty()) (void)c_->pause(l.v);
  }
  void resume() override {
    paused_ = false;
    tp_list l;
    c_->assignment(l.v);
    if (!l.v.empty()) (void)c_->resume(l.v);
  }
  void wakeup() override {
    wakeup_ = true;
    c_->yield();
  }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> c_;
  consumer_options opts_;
  std::map<topic_partition, std::int64_t> consumed_;
  std::atomic<bool> paused_{false};
  std::atomic<bool> wakeup_{false};
};

// ---- bus --------------------------------------------------------------------------------------

class kafka_bus final : public event_bus {
 public:
  explicit kafka_bus(kafka_options o) : opts_(std::move(o)), log_(nf::log::get("kafka")) {}

  result<void> open() {
    NF_TRY_ASSIGN(auto conf, base_conf(opts_));
    NF_TRY(set(*conf, "enable.idempotence", "true"));
    NF_TRY(set(*conf, "acks", "all"));
    NF_TRY(set(*conf, "linger.ms", "2"));
    NF_TRY(set(*conf, "message.max.bytes", std::to_string(opts_.max_event_bytes + 64 * 1024)));
    NF_TRY(set(*conf, "message.timeout.ms", std::to_string(opts_.request_timeout.count() * 3)));
    std::string err;
    if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&dr_), err) != RdKafka::Conf::CONF_OK)
      return error{errc::internal, "kafka dr_cb: " + err};
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) return error{errc::invalid_argument, "cannot create kafka producer: " + err};
    // Fail fast when the cluster cannot be reached.
    RdKafka::Metadata* md = nullptr;
    auto e = producer_->metadata(true, nullptr, &md, static_cast<int>(opts_.request_timeout.count()));
    std::unique_ptr<RdKafka::Metadata> guard(md);
    if (e != RdKafka::ERR_NO_ERROR)
      return kafka_error(e, "cannot reach kafka at '" + opts_.bootstrap_servers + "'");
    log_->info("connected to kafka at {}", opts_.bootstrap_servers);
    return ok();
  }

  ~kafka_bus() override {
    if (producer_) (void)producer_->flush(static_cast<int>(opts_.request_timeout.count()));
  }

  std::string_view kind() const override { return "kafka"; }

  result<std::string> cluster_id() override {
    std::lock_guard lk(mu_);
    if (cluster_id_.empty()) {
      cluster_id_ = producer_->clusterid(static_cast<int>(opts_.request_timeout.count()));
      if (cluster_id_.empty()) return error{errc::unavailable, "the Kafka cluster did not name its cluster id in time"};
    }
    return cluster_id_;
  }

  result<void> create_topic(const topic_name& name, const topic_config& cfg) override {
    NF_TRY(validate_topic_name(name.get()));
    if (cfg.partitions < 1 || cfg.partitions > 10'000)
      return error{errc::invalid_argument, "partitions must be between 1 and 10000, got " + std::to_string(cfg.partitions)};
    if (cfg.key_versions)
      return error{errc::unsupported, "a Kafka broker cannot count key versions of topic '" + name.get() +
                                          "' or check an expected one; decisions that need them go through the partition's owner"};
    NF_TRY(check_cleanup(name, cfg));
    NF_TRY_ASSIGN(auto existing, partitions_of(name.get(), true));
    if (existing > 0) return error{errc::already_exists, "topic '" + name.get() + "' already exists"};
    if (opts_.mock) {
      NF_TRY(opts_.mock->create_topic(name.get(), cfg.partitions));
    } else {
      NF_TRY(admin_create(name.get(), cfg));
    }
    {
      std::lock_guard lk(mu_);
      configs_[name.get()] = cfg;
      partitions_[name.get()] = cfg.partitions;
    }
    log_->info("created topic {} with {} partitions", name.get(), cfg.partitions);
    return ok();
  }

  result<std::vector<topic_info>> list_topics() override {
    NF_TRY_ASSIGN(auto all, fetch_metadata());
    std::vector<topic_info> out;
    std::lock_guard lk(mu_);
    for (const auto& [n, parts] : all) {
      if (n.starts_with("__")) continue;  // broker-internal topics
      topic_config cfg;
      if (auto it = configs_.find(n); it != configs_.end()) cfg = it->second;
      cfg.partitions = parts;
      out.push_back({topic_name{n}, cfg});
    }
    return out;
  }

  result<topic_info> describe_topic(const topic_name& name) override {
    NF_TRY_ASSIGN(auto parts, partitions_of(name.get(), true));
    if (parts == 0) return error{errc::not_found, "unknown topic '" + name.get() + "'"};
    std::lock_guard lk(mu_);
    topic_config cfg;
    if (auto it = configs_.find(name.get()); it != configs_.end()) cfg = it->second;
    cfg.partitions = parts;
    return topic_info{name, cfg};
  }

  result<std::vector<append_result>> append(const topic_name& topic, std::span<const record> records) override {
    if (records.empty()) return std::vector<append_result>{};
    NF_TRY(check_record_sizes(records, opts_.max_event_bytes));
    for (const auto& r : records)
      if (r.expected_version)
        return error{errc::unsupported, "a Kafka broker cannot check the expected version of key '" + r.key + "' on topic '" + topic.get() +
                                            "'; decisions that need one go through the partition's owner"};
    NF_TRY_ASSIGN(auto parts, partitions_of(topic.get(), false));
    if (parts == 0) return error{errc::not_found, "unknown topic '" + topic.get() + "'"};
    if (compacted(topic))  // a broker refuses these too (a compacted topic cannot accept a message without a key)
      for (const auto& r : records)
        if (r.key.empty()) return error{errc::invalid_argument, "topic '" + topic.get() + "' is compacted: every record needs a key"};
    std::vector<delivery> slots(records.size());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      std::int32_t p;
      if (r.partition) {
        p = r.partition->get();
        if (p < 0 || p >= parts)
          return error{errc::invalid_argument, "partition " + std::to_string(p) + " out of range for topic '" + topic.get() + "'"};
      } else if (!r.key.empty()) {
        p = partition_for_key(r.key, parts).get();
      } else {
        p = static_cast<std::int32_t>(round_robin_++ % static_cast<std::uint64_t>(parts));
      }
      auto* hs = RdKafka::Headers::create();
      for (const auto& h : r.headers) hs->add(h.name, h.value.data(), h.value.size());
      for (;;) {
        auto err = producer_->produce(topic.get(), p, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(r.value.data()),
                                      r.value.size(), r.key.empty() ? nullptr : r.key.data(), r.key.size(),
                                      r.timestamp_ms > 0 ? r.timestamp_ms : now, hs, &slots[i]);
        if (err == RdKafka::ERR_NO_ERROR) break;
        if (err == RdKafka::ERR__QUEUE_FULL) {
          producer_->poll(10);
          continue;
        }
        delete hs;
        // Earlier records of this batch may be in flight: wait for them so no callback outlives slots.
        wait_all(slots, i);
        return kafka_error(err, "kafka produce to " + topic.get());
      }
    }
    wait_all(slots, records.size());
    std::vector<append_result> out;
    out.reserve(records.size());
    for (auto& d : slots) {
      if (d.err != RdKafka::ERR_NO_ERROR) return kafka_error(d.err, "kafka delivery to " + topic.get());
      out.push_back({partition_id{d.partition}, offset{d.off}, d.ts});
    }
    metrics::registry::global()
        .get_counter("nf_bus_appended_events_total", "Events appended to the bus, per topic", {{"topic", topic.get()}})
        .inc(records.size());
    return out;
  }

  result<offset> begin_offset(const topic_partition& tp) override {
    NF_TRY_ASSIGN(auto wm, watermarks(tp));
    return offset{wm.first};
  }
  result<offset> end_offset(const topic_partition& tp) override {
    NF_TRY_ASSIGN(auto wm, watermarks(tp));
    return offset{wm.second};
  }

  result<offset> offset_for_time(const topic_partition& tp, std::int64_t ts_ms) override {
    NF_TRY_ASSIGN(auto wm, watermarks(tp));
    if (wm.first >= wm.second) return offset{wm.second};
    tp_list l;
    l.v.push_back(RdKafka::TopicPartition::create(tp.topic.get(), tp.partition.get(), ts_ms));
    auto err = producer_->offsetsForTimes(l.v, static_cast<int>(opts_.request_timeout.count()));
    if (err == RdKafka::ERR_NO_ERROR && l.v[0]->err() == RdKafka::ERR_NO_ERROR && l.v[0]->offset() >= 0)
      return offset{l.v[0]->offset()};
    // The broker says no record reaches ts_ms. Brokers without timestamp lookups (librdkafka's mock
    // cluster) say the same, so check the last record, and search by reading if the answer is wrong.
    NF_TRY_ASSIGN(auto last, timestamp_at(tp, wm.second - 1));
    if (last < ts_ms) return offset{wm.second};
    std::int64_t lo = wm.first, hi = wm.second - 1;
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      NF_TRY_ASSIGN(auto ts, timestamp_at(tp, mid));
      if (ts >= ts_ms) hi = mid;
      else lo = mid + 1;
    }
    return offset{lo};
  }

  result<std::unique_ptr<consumer>> make_consumer(const consumer_options& opts) override {
    if (opts.group.empty() && !opts.subscriptions.empty())
      return error{errc::invalid_argument, "subscriptions need a consumer group; a consumer without a group uses assign()"};
    NF_TRY_ASSIGN(auto c, make_raw_consumer(opts.group.empty() ? "nf-standalone-" + random_suffix() : opts.group,
                                            opts.reset));
    if (!opts.subscriptions.empty()) {
      std::vector<std::string> subs;
      for (const auto& s : opts.subscriptions) {
        if (is_pattern(s)) subs.push_back(pattern_to_regex(s));
        else {
          NF_TRY(validate_topic_name(s));
          subs.push_back(s);
        }
      }
      auto err = c->subscribe(subs);
      if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka subscribe");
    }
    return std::unique_ptr<consumer>(std::make_unique<kafka_consumer>(std::move(c), opts));
  }

  result<std::optional<offset>> committed(const std::string& group, const topic_partition& tp) override {
    NF_TRY_ASSIGN(auto c, make_raw_consumer(group, reset_policy::earliest));
    tp_list l;
    l.v.push_back(RdKafka::TopicPartition::create(tp.topic.get(), tp.partition.get()));
    auto err = c->committed(l.v, static_cast<int>(opts_.request_timeout.count()));
    (void)c->close();
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka committed offsets of group '" + group + "'");
    if (l.v[0]->offset() < 0) return std::optional<offset>{};
    return std::optional<offset>{offset{l.v[0]->offset()}};
  }

 private:
  result<std::unique_ptr<RdKafka::KafkaConsumer>> make_raw_consumer(const std::string& group, reset_policy reset) {
    NF_TRY_ASSIGN(auto conf, base_conf(opts_));
    NF_TRY(set(*conf, "group.id", group));
    NF_TRY(set(*conf, "enable.auto.commit", "false"));
    NF_TRY(set(*conf, "enable.auto.offset.store", "false"));
    NF_TRY(set(*conf, "enable.partition.eof", "false"));
    NF_TRY(set(*conf, "auto.offset.reset", reset == reset_policy::earliest ? "earliest" : "latest"));
    // Not cooperative-sticky: librdkafka 2.0 aborts when such a consumer that never got an
    // assignment is closed (librdkafka #4312, fixed in 2.3), which is every group member beyond the
    // partition count (the ledger writer's group on a cluster).
    NF_TRY(set(*conf, "partition.assignment.strategy", "roundrobin"));
    NF_TRY(set(*conf, "session.timeout.ms", std::to_string(opts_.session_timeout_ms)));
    NF_TRY(set(*conf, "heartbeat.interval.ms", std::to_string(std::max(100, opts_.session_timeout_ms / 3))));
    NF_TRY(set(*conf, "fetch.max.bytes", std::to_string(std::max<std::size_t>(52428800, opts_.max_event_bytes * 2))));
    if (!opts_.properties.count("fetch.wait.max.ms")) NF_TRY(set(*conf, "fetch.wait.max.ms", std::to_string(opts_.fetch_wait_ms)));
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!c) return error{errc::invalid_argument, "cannot create kafka consumer: " + err};
    return c;
  }

  void wait_all(std::vector<delivery>& slots, std::size_t n) {
    for (;;) {
      bool all = true;
      for (std::size_t i = 0; i < n; ++i)
        if (!slots[i].done.load(std::memory_order_acquire)) {
          all = false;
          break;
        }
      if (all) return;
      producer_->poll(5);
    }
  }

  result<std::pair<std::int64_t, std::int64_t>> watermarks(const topic_partition& tp) {
    NF_TRY_ASSIGN(auto parts, partitions_of(tp.topic.get(), false));
    if (parts == 0) return error{errc::not_found, "unknown topic '" + tp.topic.get() + "'"};
    if (tp.partition.get() < 0 || tp.partition.get() >= parts)
      return error{errc::not_found, "topic '" + tp.topic.get() + "' has no partition " + std::to_string(tp.partition.get())};
    std::int64_t lo = 0, hi = 0;
    auto err = producer_->query_watermark_offsets(tp.topic.get(), tp.partition.get(), &lo, &hi,
                                                  static_cast<int>(opts_.request_timeout.count()));
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka watermarks of " + to_string(tp));
    return std::make_pair(lo, hi);
  }

  // Reads the record at `off` with a standalone consumer and returns its timestamp.
  result<std::int64_t> timestamp_at(const topic_partition& tp, std::int64_t off) {
    std::lock_guard lk(probe_mu_);
    if (!probe_) {
      consumer_options o;
      NF_TRY_ASSIGN(probe_, make_consumer(o));
    }
    NF_TRY(probe_->assign({{tp, offset{off}}}));
    const auto deadline = std::chrono::steady_clock::now() + opts_.request_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      NF_TRY_ASSIGN(auto msgs, probe_->poll(std::chrono::milliseconds(500), 1));
      for (const auto& m : msgs)
        if (m.off.get() == off && m.topic == tp.topic && m.partition == tp.partition) return m.timestamp_ms;
    }
    return error{errc::timeout, "timed out reading " + to_string(tp) + "@" + std::to_string(off)};
  }

  // Partition count of a topic, 0 if it does not exist. Uses a cache unless `fresh`.
  result<std::int32_t> partitions_of(const std::string& topic, bool fresh) {
    if (!fresh) {
      std::lock_guard lk(mu_);
      if (auto it = partitions_.find(topic); it != partitions_.end()) return it->second;
    }
    NF_TRY_ASSIGN(auto all, fetch_metadata());
    std::lock_guard lk(mu_);
    for (const auto& [n, p] : all) partitions_[n] = p;
    auto it = all.find(topic);
    return it == all.end() ? 0 : it->second;
  }

  // All topics and their partition counts. Asking for all topics never auto-creates one.
  result<std::map<std::string, std::int32_t>> fetch_metadata() {
    RdKafka::Metadata* md = nullptr;
    auto err = producer_->metadata(true, nullptr, &md, static_cast<int>(opts_.request_timeout.count()));
    std::unique_ptr<RdKafka::Metadata> guard(md);
    if (err != RdKafka::ERR_NO_ERROR) return kafka_error(err, "kafka metadata");
    std::map<std::string, std::int32_t> out;
    for (const auto* t : *md->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR) continue;
      out[t->topic()] = static_cast<std::int32_t>(t->partitions()->size());
    }
    return out;
  }

  // Whether this instance knows the topic as compacted (it created it; for other topics the broker checks).
  bool compacted(const topic_name& topic) {
    std::lock_guard lk(mu_);
    auto it = configs_.find(topic.get());
    return it != configs_.end() && it->second.compact;
  }

  result<void> admin_create(const std::string& name, const topic_config& cfg) {
    char errstr[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(name.c_str(), cfg.partitions, -1, errstr, sizeof errstr);
    if (!nt) return error{errc::invalid_argument, std::string("create topic '") + name + "': " + errstr};
    if (cfg.retention_ms >= 0) rd_kafka_NewTopic_set_config(nt, "retention.ms", std::to_string(cfg.retention_ms).c_str());
    if (cfg.retention_bytes >= 0) rd_kafka_NewTopic_set_config(nt, "retention.bytes", std::to_string(cfg.retention_bytes).c_str());
    if (cfg.compact) {
      rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
      rd_kafka_NewTopic_set_config(nt, "delete.retention.ms", std::to_string(cfg.delete_retention_ms).c_str());
    }
    rd_kafka_t* rk = producer_->c_ptr();
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, static_cast<int>(opts_.request_timeout.count()), errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(opts_.request_timeout.count()) + 2000);
    result<void> res = ok();
    if (!ev) {
      res = error{errc::timeout, "kafka CreateTopics for '" + name + "' got no answer; does the cluster support the admin API?"};
    } else if (rd_kafka_event_error(ev)) {
      res = error{errc::unavailable, "kafka CreateTopics for '" + name + "': " + rd_kafka_event_error_string(ev)};
    } else {
      const auto* r = rd_kafka_event_CreateTopics_result(ev);
      size_t n = 0;
      const auto** tr = rd_kafka_CreateTopics_result_topics(r, &n);
      for (size_t i = 0; i < n; ++i) {
        if (rd_kafka_topic_result_error(tr[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          const auto code = static_cast<RdKafka::ErrorCode>(rd_kafka_topic_result_error(tr[i]));
          const char* msg = rd_kafka_topic_result_error_string(tr[i]);
          res = kafka_error(code, "kafka create topic '" + name + "'" + (msg ? std::string(": ") + msg : std::string()));
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return res;
  }

  kafka_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  delivery_cb dr_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::mutex mu_;
  std::map<std::string, std::int32_t> partitions_;
  std::map<std::string, topic_config> configs_;
  std::string cluster_id_;  // fetched once (under mu_)
  std::atomic<std::uint64_t> round_robin_{0};
  std::mutex probe_mu_;
  std::unique_ptr<consumer> probe_;
};

}  // namespace

result<std::unique_ptr<event_bus>> open_kafka(const kafka_options& opts) {
  if (opts.bootstrap_servers.empty()) return error{errc::invalid_argument, "kafka bus needs bootstrap servers"};
  auto bus = std::make_unique<kafka_bus>(opts);
  NF_TRY(bus->open());
  return std::unique_ptr<event_bus>(std::move(bus));
}

// ---- mock cluster -------------------------------------------------------------------------------

struct kafka_mock_cluster::handles {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  ~handles() {
    if (mc) rd_kafka_mock_cluster_destroy(mc);
    if (rk) rd_kafka_destroy(rk);
  }
};

result<std::unique_ptr<kafka_mock_cluster>> kafka_mock_cluster::start(int brokers) {
  if (brokers < 1) return error{errc::invalid_argument, "a mock cluster needs at least one broker"};
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // This handle only hosts the cluster; it connects nowhere, so quiet its "no bootstrap" notice.
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  auto h = std::make_unique<handles>();
  h->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!h->rk) {
    rd_kafka_conf_destroy(conf);
    return error{errc::internal, std::string("cannot create mock cluster handle: ") + errstr};
  }
  h->mc = rd_kafka_mock_cluster_new(h->rk, brokers);
  if (!h->mc) return error{errc::internal, "cannot start librdkafka mock cluster"};
  std::unique_ptr<kafka_mock_cluster> c(new kafka_mock_cluster());
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(h->mc);
  c->h_ = std::move(h);
  return c;
}

kafka_mock_cluster::~kafka_mock_cluster() = default;

result<void> kafka_mock_cluster::create_topic(const std::string& name, std::int32_t partitions) {
  auto err = rd_kafka_mock_topic_create(h_->mc, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{errc::unavailable, "mock cluster: cannot create topic '" + name + "': " + rd_kafka_err2str(err)};
  return ok();
}

}  // namespace nf::bus
