// Read-your-writes through the real node (embedded bus, RocksDB in a temp dir, the HTTP
// pipeline): a write answers NF-Position, a read with NF-Wait-For answers once this instance's
// read models applied it; bad, foreign and unreachable tokens get 400 and 503 by name.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "core/bus/position_token.h"
#include "tests/support/node.h"
#include "tests/support/http_client.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

struct answer {
  int status = 0;
  std::string head;
  json body;
  std::string header(const std::string& name) const {
    const auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    const auto from = at + name.size() + 4;
    return head.substr(from, head.find("\r\n", from) - from);
  }
};

answer exchange(test::in_process_node& n, const std::string& method, const std::string& target, const std::string& body = "",
           const std::string& extra = "") {
  const std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(test::kAdminKey) +
                          "\r\nContent-Type: application/json\r\n" + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                          body;
  const auto out = n.respond(raw);
  answer a;
  a.status = std::stoi(out.substr(9, 3));
  const auto end = out.find("\r\n\r\n");
  a.head = out.substr(0, end + 2);
  a.body = json::parse(out.substr(end + 4), nullptr, false);
  return a;
}

std::string prompt(int i) {
  return json{{"id", "01900000-0000-7000-8000-" + std::string(12 - std::to_string(i).size(), '0') + std::to_string(i)},
              {"objective", "read your writes"},
              {"priority", "P1"},
              {"originatingSpec", "https://spec/ryw"}}
      .dump();
}

TEST(ReadYourWrites, AWriteNamesItsPositionAndAReadWithItSeesTheWrite) {
  test::in_process_node n("ryw");
  for (int i = 1; i <= 20; ++i) {
    auto w = exchange(n, "POST", "/missions", prompt(i));
    ASSERT_EQ(w.status, 202) << w.body.dump();
    const auto token = w.header("NF-Position");
    ASSERT_FALSE(token.empty()) << w.head;
    auto positions = bus::decode_position_token(token, *n.bus().cluster_id());
    ASSERT_TRUE(positions) << positions.error().message;
    ASSERT_EQ(positions->size(), 1u);
    EXPECT_EQ((*positions)[0].tp.topic.get(), "mission.prompts");
    EXPECT_EQ((*positions)[0].off.get(), w.body["offset"].get<std::int64_t>());
    auto r = exchange(n, "GET", "/missions/" + w.body["id"].get<std::string>(), "", "NF-Wait-For: " + token + "\r\n");
    EXPECT_EQ(r.status, 200) << r.body.dump();
    // An idempotent repeat names the original position.
    auto again = exchange(n, "POST", "/missions", prompt(i));
    EXPECT_EQ(again.status, 202);
    EXPECT_EQ(*bus::decode_position_token(again.header("NF-Position"), *n.bus().cluster_id()), *positions);
  }
}

TEST(ReadYourWrites, BadAndForeignTokensAre400NamingTheHeader) {
  test::in_process_node n("ryw-bad");
  const auto foreign = bus::encode_position_token("some-other-cluster", {{{topic_name{"mission.prompts"}, partition_id{0}}, offset{0}}});
  for (const std::string& token : {std::string("garbage!"), std::string("AAAAAAAAAAAAAAAAAAAA"), foreign}) {
    auto r = exchange(n, "GET", "/missions", "", "NF-Wait-For: " + token + "\r\n");
    EXPECT_EQ(r.status, 400) << token;
    EXPECT_EQ(r.body["error"]["code"], "invalid_header") << r.body.dump();
    EXPECT_EQ(r.body["error"]["field"], "NF-Wait-For") << r.body.dump();
  }
  auto r = exchange(n, "GET", "/missions", "", "NF-Wait-For: " + foreign + "\r\n");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("another cluster"), std::string::npos) << r.body.dump();
}

TEST(ReadYourWrites, APositionNotReachedInTimeIs503NotCaughtUpWithRetryAfter) {
  test::node_setup s;
  s.wait_for_timeout = std::chrono::milliseconds(300);
  test::in_process_node n("ryw-late", s);
  const auto ahead = bus::encode_position_token(*n.bus().cluster_id(), {{{topic_name{"mission.prompts"}, partition_id{0}}, offset{1'000'000}}});
  const auto started = std::chrono::steady_clock::now();
  auto r = exchange(n, "GET", "/missions", "", "NF-Wait-For: " + ahead + "\r\n");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.status, 503) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "not_caught_up");
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("mission.prompts/0@1000000"), std::string::npos) << r.body.dump();
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
}

}  // namespace
