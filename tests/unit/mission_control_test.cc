// mission_control decision logic, without threads or I/O.
#include <gtest/gtest.h>

#include "actors/missions/mission_control.h"

namespace {

using namespace nf::mission_control;

std::vector<std::string> types(const std::vector<transition>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.type);
  return out;
}

struct machine {
  state s;
  std::vector<std::string> emitted;
  void feed(const input& in) {
    for (const auto& t : decide(s, in)) emitted.push_back(t.type + ":" + t.mission_id);
    s = evolve(s, in);
  }
};

TEST(MissionControl, WalksPromptedAcceptedInProgressValidated) {
  machine m;
  m.feed(prompted{"m1", "P1"});
  m.feed(artifact_recorded{"m1", "a1"});
  m.feed(artifact_recorded{"m1", "a2"});
  m.feed(validation_reported{"m1", "a1", "pass"});
  EXPECT_EQ(m.s.missions["m1"].status, "in_progress");
  m.feed(validation_reported{"m1", "a2", "pass"});
  EXPECT_EQ(m.emitted, (std::vector<std::string>{"mission.accepted:m1", "mission.started:m1", "mission.validated:m1"}));
  EXPECT_EQ(m.s.missions["m1"].status, "validated");
}

TEST(MissionControl, AnyFailingLatestReportFailsAndALaterPassRecovers) {
  machine m;
  m.feed(prompted{"m1", "P0"});
  m.feed(artifact_recorded{"m1", "a1"});
  m.feed(artifact_recorded{"m1", "a2"});
  m.feed(validation_reported{"m1", "a1", "fail"});
  EXPECT_EQ(m.s.missions["m1"].status, "failed");
  m.feed(validation_reported{"m1", "a2", "pass"});
  EXPECT_EQ(m.s.missions["m1"].status, "failed");
  m.feed(validation_reported{"m1", "a1", "pass"});
  EXPECT_EQ(m.s.missions["m1"].status, "validated");
  EXPECT_EQ(m.emitted, (std::vector<std::string>{"mission.accepted:m1", "mission.started:m1", "mission.failed:m1",
                                                 "mission.validated:m1"}));
}

TEST(MissionControl, ReplayedInputsDecideNothingNew) {
  machine m;
  m.feed(prompted{"m1", "P2"});
  m.feed(prompted{"m1", "P2"});
  m.feed(artifact_recorded{"m1", "a1"});
  m.feed(artifact_recorded{"m1", "a1"});
  m.feed(validation_reported{"m1", "a1", "pass"});
  m.feed(validation_reported{"m1", "a1", "pass"});
  EXPECT_EQ(m.emitted.size(), 3u);
}

TEST(MissionControl, UnknownMissionsAndArtifactsAreIgnored) {
  state s;
  EXPECT_TRUE(decide(s, artifact_recorded{"nope", "a"}).empty());
  s = evolve(s, prompted{"m1", "P1"});
  EXPECT_TRUE(decide(s, validation_reported{"m1", "unknown-artifact", "pass"}).empty());
  EXPECT_EQ(types(decide(s, artifact_recorded{"m1", "a"})), std::vector<std::string>{"mission.started"});
}

TEST(MissionControl, AnArtifactReadBeforeItsPromptStillStartsTheMission) {
  machine m;
  m.feed(artifact_recorded{"m1", "a1"});
  EXPECT_TRUE(m.emitted.empty());
  m.feed(prompted{"m1", "P1"});
  EXPECT_EQ(m.emitted, (std::vector<std::string>{"mission.accepted:m1", "mission.started:m1"}));
  m.feed(validation_reported{"m1", "a1", "pass"});
  EXPECT_EQ(m.s.missions["m1"].status, "validated");
}

}  // namespace
