// Key versions kept by the projection framework (projection::counts_key_versions): equal to the
// versions the bus counted, claims and records refused by fencing included, committed with the
// state, and the same after a rebuild.
#include <map>

#include <gtest/gtest.h>

#include "core/bus/embedded.h"
#include "core/bus/fence.h"
#include "core/projection/projection.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/support.h"

namespace {

using namespace nf;

class docs_projection final : public ::nf::projection::projection {
 public:
  std::string name() const override { return "docs"; }
  std::vector<std::string> topics() const override { return {"docs"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override { return w.put("d/" + m.key, m.value); }
  bool counts_key_versions() const override { return counting; }
  bool counting = true;
};

std::map<std::string, std::int64_t> versions_in(::nf::projection::store& s, ::nf::projection::projection& p, const std::vector<std::string>& keys) {
  std::vector<std::string> ks;
  for (const auto& k : keys) ks.push_back(projection::key_version_key("docs", k));
  auto got = s.get_many(p, ks);
  EXPECT_TRUE(got) << got.error().message;
  std::map<std::string, std::int64_t> out;
  for (std::size_t i = 0; i < keys.size(); ++i) out[keys[i]] = *projection::parse_key_version((*got)[i]);
  return out;
}

TEST(ProjectionKeyVersions, EqualTheBusVersionsIncludingClaimsAndRefusedRecordsAndSurviveARebuild) {
  test::temp_dir dir;
  auto b = test::open_test_bus(dir.path() / "bus");
  ASSERT_TRUE(b->create_topic(topic_name{"docs"}, {.partitions = 2, .key_versions = true}));
  std::map<std::string, std::int64_t> bus_versions;
  auto append = [&](bus::record r) -> std::int64_t {
    auto a = b->append(topic_name{"docs"}, std::vector<bus::record>{r});
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return -1;
    bus_versions[r.key] = (*a)[0].version;
    return (*a)[0].off.get();
  };
  const std::vector<std::string> keys{"a", "b", "c", "owner", "never"};
  for (int i = 0; i < 30; ++i) append({.key = keys[static_cast<std::size_t>(i % 3)], .value = std::to_string(i), .partition = partition_id{0}});
  // Two claims on partition 0 by "owner", then a record written under the first: refused by the
  // projection (never applied), but the bus counted it, and so must the projection.
  bus::record claim{.key = "owner", .value = "claim", .headers = {{bus::kClaimHeader, "owner"}}, .partition = partition_id{0}};
  const std::int64_t first_claim = append(claim);
  append(claim);
  bus::record stale{.key = "a", .value = "stale", .partition = partition_id{0}};
  bus::stamp_epoch(stale, first_claim);
  append(stale);
  append({.key = "b", .value = "other partition", .partition = partition_id{1}});

  auto s = std::move(projection::store::open({(dir.path() / "store").string()}).value());
  docs_projection p;
  ASSERT_TRUE(s->attach(p));
  projection::runner run(*s, p, *b, {.batch_size = 7});  // many batches: counts carry across them
  ASSERT_TRUE(run.catch_up());
  bus_versions["never"] = 0;
  EXPECT_EQ(versions_in(*s, p, keys), bus_versions);
  auto r = s->reader(p);
  ASSERT_TRUE(r);
  EXPECT_NE(*(*r)->get("d/a"), std::optional<std::string>("stale"));  // refused, yet counted
  const auto digest = s->digest(p);
  ASSERT_TRUE(digest);
  ASSERT_TRUE(s->rebuild(p, *b));
  EXPECT_EQ(versions_in(*s, p, keys), bus_versions);
  EXPECT_EQ(*s->digest(p), *digest);  // versions sit with the offsets, outside the state digest
}

// A read model folded by code that did not count key versions (a data dir from before they
// existed) is rebuilt once when it starts counting, so its counts cover every event.
TEST(ProjectionKeyVersions, AReadModelFoldedWithoutCountsIsRebuiltOnceWhenItStartsCounting) {
  test::temp_dir dir;
  auto b = test::open_test_bus(dir.path() / "bus");
  ASSERT_TRUE(b->create_topic(topic_name{"docs"}, {.partitions = 1, .key_versions = true}));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b->append(topic_name{"docs"}, std::vector<bus::record>{{.key = "a", .value = std::to_string(i)}}));
  docs_projection p;
  const auto store_dir = (dir.path() / "store").string();
  {
    auto s = std::move(projection::store::open({store_dir}).value());
    p.counting = false;
    ASSERT_TRUE(s->attach(p));
    projection::runner run(*s, p, *b);
    ASSERT_TRUE(run.catch_up());
    EXPECT_EQ(versions_in(*s, p, {"a"})["a"], 0);  // not counted
  }
  p.counting = true;
  auto s = std::move(projection::store::open({store_dir}).value());
  {
    projection::feed f(*s, p, *b);
    ASSERT_TRUE(f.start());
    f.stop();
  }
  EXPECT_EQ(*s->generation(p), 1u);  // rebuilt once
  EXPECT_EQ(versions_in(*s, p, {"a"})["a"], 10);
  ASSERT_TRUE(b->append(topic_name{"docs"}, std::vector<bus::record>{{.key = "a", .value = "10"}}));
  {
    projection::feed f(*s, p, *b);
    ASSERT_TRUE(f.start());
    ASSERT_TRUE(f.wait_applied({topic_name{"docs"}, partition_id{0}}, offset{10}, std::chrono::seconds(10)));
    f.stop();
  }
  EXPECT_EQ(*s->generation(p), 1u);  // not again
  EXPECT_EQ(versions_in(*s, p, {"a"})["a"], 11);
}

}  // namespace
