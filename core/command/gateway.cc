#include "core/command/gateway.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/bus/fence.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::command {

namespace {
struct slot {
  std::condition_variable cv;
  std::optional<bus::message> outcome;
  events::Envelope env;
};
}  // namespace

struct gateway::impl {
  bus::event_bus& bus;
  std::unique_ptr<bus::consumer> reader;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<slot>> waiting;  // command id (raw) -> its slot
  std::map<topic_partition, bus::fence_tracker> fences;  // of the outcome partitions (reader thread only)
  std::shared_ptr<spdlog::logger> log = nf::log::get("command");
  metrics::counter& fenced = metrics::registry::global().get_counter(
      "nf_command_fenced_outcomes_total", "Outcomes a deposed owner wrote, which the gateway passed over for the current owner's");
  metrics::counter& timeouts = metrics::registry::global().get_counter(
      "nf_command_timeouts_total", "Commands whose outcome did not arrive in time (the handler answered 503)");
  metrics::histogram& latency = metrics::registry::global().get_histogram(
      "nf_command_decision_seconds", "From appending a command to reading its outcome", {});

  explicit impl(bus::event_bus& b) : bus(b) {}

  void run() {
    while (!stopping) {
      auto polled = reader->poll(std::chrono::milliseconds(200), 512);
      if (!polled) {
        log->error("command gateway: reading outcomes failed: {}", describe(polled.error()));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      for (auto& m : *polled) {
        // What a deposed owner appended after the new owner's claim is no decision: every read
        // model refuses it, and the new owner decides the command again. Wait for that one.
        const auto verdict = fences[topic_partition{m.topic, m.partition}].judge(m);
        if (verdict == bus::fence_verdict::claim) continue;
        if (verdict == bus::fence_verdict::stale) {
          fenced.inc();
          log->info("command gateway: {}@{} was written by a deposed owner; waiting for the current owner's decision",
                    to_string(topic_partition{m.topic, m.partition}), m.off.get());
          continue;
        }
        auto env = event::from_message(m);
        if (!env || env->causation_id().empty()) continue;  // not an outcome of a command
        std::lock_guard lk(mu);
        auto it = waiting.find(env->causation_id());
        if (it == waiting.end() || it->second->outcome) continue;
        it->second->env = std::move(*env);
        it->second->outcome = std::move(m);
        it->second->cv.notify_all();
      }
    }
  }
};

gateway::gateway(bus::event_bus& bus) : impl_(std::make_unique<impl>(bus)) {}
gateway::~gateway() { stop(); }

result<void> gateway::start(std::vector<topic_name> outcome_topics) {
  std::vector<std::pair<topic_partition, offset>> from;
  for (const auto& t : outcome_topics) {
    NF_TRY_ASSIGN(auto info, impl_->bus.describe_topic(t));
    for (std::int32_t p = 0; p < info.config.partitions; ++p) {
      const topic_partition tp{t, partition_id{p}};
      NF_TRY_ASSIGN(auto end, impl_->bus.end_offset(tp));
      from.emplace_back(tp, end);
    }
  }
  NF_TRY_ASSIGN(impl_->reader, impl_->bus.make_consumer(bus::consumer_options{}));
  NF_TRY(impl_->reader->assign(from));
  impl_->thread = std::thread([this] { nf::log::guarded("command gateway", [this] { impl_->run(); }); });
  return ok();
}

void gateway::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  impl_->reader->wakeup();
  impl_->thread.join();
  std::lock_guard lk(impl_->mu);
  for (auto& [id, s] : impl_->waiting) s->cv.notify_all();
}

result<decided> gateway::submit(const topic_name& command_topic, const event::new_event& command, std::chrono::milliseconds timeout) {
  if (!impl_->thread.joinable() || impl_->stopping) return error{errc::unavailable, "the command gateway is not running"};
  NF_TRY_ASSIGN(auto env, event::build(command));
  const std::string id = env.id();
  auto s = std::make_shared<slot>();
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->waiting.emplace(id, s).second) return error{errc::already_exists, "a command with this id is already waiting"};
  }
  struct unregister {
    impl* i;
    const std::string& id;
    ~unregister() {
      std::lock_guard lk(i->mu);
      i->waiting.erase(id);
    }
  } guard{impl_.get(), id};
  const auto started = std::chrono::steady_clock::now();
  const auto rec = event::to_record(env);
  NF_TRY_ASSIGN(auto appended, impl_->bus.append(command_topic, std::span<const bus::record>(&rec, 1)));
  std::unique_lock lk(impl_->mu);
  if (!s->cv.wait_for(lk, timeout, [&] { return s->outcome.has_value() || impl_->stopping.load(); }) || !s->outcome) {
    impl_->timeouts.inc();
    return error{errc::timeout, "no decision on the command at " + to_string(topic_partition{command_topic, appended[0].partition}) + "@" +
                                        std::to_string(appended[0].off.get()) + " within " + std::to_string(timeout.count()) + " ms"};
  }
  impl_->latency.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return decided{appended[0], std::move(*s->outcome), std::move(s->env)};
}

}  // namespace nf::command
