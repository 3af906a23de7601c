// Schema upcasting: a chain of upcasters (1 -> 2 -> 3) brings an old event to the current
// version; a newer version, a gap in the chain and a failing step are refused naming type and
// versions, leaving the event as read; the missions feature's MissionPrompt v1 -> v2 step.
#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include "actors/missions/events.h"
#include "core/event/codec.h"
#include "core/event/types.h"
#include "envelope.pb.h"
#include "missions.pb.h"

namespace {

using namespace nf;
namespace pbu = google::protobuf::util;

events::Envelope prompt(std::uint32_t version, const std::string& objective, bool with_created_at) {
  events::MissionPrompt p;
  p.set_id("01900000-0000-7000-8000-000000000001");
  p.set_objective(objective);
  if (with_created_at) *p.mutable_created_at() = pbu::TimeUtil::MillisecondsToTimestamp(1'000);
  events::Envelope env;
  env.set_type("test.prompted");
  env.set_schema_version(version);
  env.set_occurred_at(1'700'000'000'000);
  env.mutable_payload()->PackFrom(p);
  return env;
}

events::MissionPrompt payload(const events::Envelope& env) {
  events::MissionPrompt p;
  EXPECT_TRUE(env.payload().UnpackTo(&p));
  return p;
}

class Upcast : public ::testing::Test {
 protected:
  void SetUp() override {
    reg_.add("test.prompted", events::MissionPrompt::descriptor(), "tests", 3);
    reg_.add_upcaster("test.prompted", 1, missions::prompt_v1_to_v2);
    reg_.add_upcaster("test.prompted", 2, [](events::Envelope& env) -> result<void> {
      auto p = payload(env);
      if (p.objective() == "refuse") return error{errc::invalid_argument, "objective 'refuse' has no v3 form"};
      p.set_objective("v3: " + p.objective());
      env.mutable_payload()->PackFrom(p);
      return ok();
    });
  }
  event::type_registry reg_;
};

TEST_F(Upcast, AChainBringsAnOldEventToTheCurrentVersion) {
  auto env = prompt(1, "ship it", false);
  ASSERT_TRUE(reg_.upcast(env));
  EXPECT_EQ(env.schema_version(), 3u);
  const auto p = payload(env);
  EXPECT_EQ(p.objective(), "v3: ship it");
  EXPECT_EQ(pbu::TimeUtil::TimestampToMilliseconds(p.created_at()), 1'700'000'000'000);  // v1 -> v2 filled it
  auto v2 = prompt(2, "two", true);
  ASSERT_TRUE(reg_.upcast(v2));
  EXPECT_EQ(payload(v2).objective(), "v3: two");
  EXPECT_EQ(pbu::TimeUtil::TimestampToMilliseconds(payload(v2).created_at()), 1'000);  // kept
  auto current = prompt(3, "three", true);
  ASSERT_TRUE(reg_.upcast(current));
  EXPECT_EQ(payload(current).objective(), "three");
  auto unstamped = prompt(0, "zero", false);  // written before versions were stamped: version 1
  ASSERT_TRUE(reg_.upcast(unstamped));
  EXPECT_EQ(unstamped.schema_version(), 3u);
}

TEST_F(Upcast, ANewerVersionAGapOrAFailingStepIsRefusedAndTheEventStaysAsRead) {
  auto newer = prompt(4, "from the future", true);
  auto r = reg_.upcast(newer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unsupported);
  EXPECT_NE(r.error().message.find("'test.prompted' version 4 is newer than this code reads (up to 3)"), std::string::npos) << r.error().message;
  EXPECT_EQ(newer.schema_version(), 4u);

  auto failing = prompt(1, "refuse", false);
  r = reg_.upcast(failing);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("from version 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(failing.schema_version(), 1u);
  EXPECT_FALSE(payload(failing).has_created_at());  // not half upcast

  event::type_registry gap;
  gap.add("test.prompted", events::MissionPrompt::descriptor(), "tests", 3);
  gap.add_upcaster("test.prompted", 2, [](events::Envelope&) { return ok(); });
  auto old = prompt(1, "x", false);
  r = gap.upcast(old);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("version 1 cannot be read: no upcaster"), std::string::npos) << r.error().message;

  EXPECT_THROW(gap.add_upcaster("test.prompted", 3, [](events::Envelope&) { return ok(); }), std::logic_error);
  EXPECT_THROW(gap.add_upcaster("nobody.declared", 1, [](events::Envelope&) { return ok(); }), std::logic_error);
}

TEST(UpcastOnRead, FromMessageUpcastsAMissionPromptAndRefusesAVersionItDoesNotKnow) {
  missions::register_events(event::type_registry::global());
  auto env = prompt(1, "old", false);
  env.set_type("mission.prompted");
  bus::message m{topic_name{"mission.prompts"}, partition_id{0}, offset{7}, 0, "k", env.SerializeAsString(), {}};
  auto read = event::from_message(m);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->schema_version(), 2u);
  EXPECT_TRUE(payload(*read).has_created_at());
  auto stored = event::from_message_as_stored(m);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->schema_version(), 1u);  // the ledger's view: the bytes as written
  EXPECT_FALSE(payload(*stored).has_created_at());

  env.set_schema_version(9);
  m.value = env.SerializeAsString();
  auto refused = event::from_message(m);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::unsupported);
  EXPECT_NE(refused.error().message.find("mission.prompts/0@7"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("'mission.prompted' version 9"), std::string::npos) << refused.error().message;
}

}  // namespace
