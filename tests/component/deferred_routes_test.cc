// Deferred routes on the real HTTP server (loopback, a Beast client): a handler that answers
// later, from another thread, as the produce route does after a group commit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "core/http/server.h"
#include "core/metrics/metrics.h"
#include "tests/support/http_client.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;

// A gate a test opens once.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, d, [&] { return open; });
  }
};

class DeferredRoutes : public ::testing::Test {
 protected:
  void start() {
    http::server_options o;
    o.listen = "127.0.0.1:0";
    o.io_threads = 1;  // every connection shares one I/O thread: a blocked one would stall all
    o.workers = 2;
    srv_ = std::make_unique<http::server>(table_, adm_, o);
    auto port = srv_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    for (auto& t : threads_) t.join();
    if (srv_) srv_->stop();
  }
  void add(const std::string& path, http::deferred_fn fn) {
    table_.add({.method = http::verb::post, .path = path, .perm = http::permission{"events:write"}, .summary = "test", .tag = "test",
                .deferred = std::move(fn)});
  }
  static http::response text(const http::route_context& c, const std::string& body) {
    return http::json_text_response(http::status::created, body, c.req);
  }

  http::route_table table_;
  http::open_admission adm_;
  std::unique_ptr<http::server> srv_;
  int port_ = 0;
  std::vector<std::thread> threads_;
};

TEST_F(DeferredRoutes, AnAnswerGivenOnAnotherThreadReachesTheClientAndTheConnectionGoesOn) {
  add("/later", [&](const http::route_context& c, http::answer_fn answer) {
    threads_.emplace_back([&c, answer] {
      std::this_thread::sleep_for(20ms);
      answer(text(c, "{\"body\":\"" + c.req.body() + "\"}"));
    });
  });
  start();
  test::http_client client("127.0.0.1", port_);
  for (int i = 0; i < 3; ++i) {  // one kept-alive connection: each answer lets the next request in
    const auto r = client.post("/later", "n" + std::to_string(i));
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.body, "{\"body\":\"n" + std::to_string(i) + "\"}");
    EXPECT_FALSE(r.headers.at("X-Request-Id").empty());
  }
  const auto seen = metrics::registry::global()
                        .get_counter("nf_http_requests_total", "", {{"route", "/later"}, {"method", "POST"}, {"status", "201"}})
                        .value();
  EXPECT_EQ(seen, 3u);
}

TEST_F(DeferredRoutes, OffloadedWorkMayBlockWithoutHoldingUpOtherConnections) {
  gate g;
  std::promise<std::thread::id> handler_on, offloaded_on;
  auto handler_future = handler_on.get_future();
  auto offloaded_future = offloaded_on.get_future();
  add("/slow", [&](const http::route_context& c, http::answer_fn answer) {
    handler_on.set_value(std::this_thread::get_id());
    c.offload([&, answer] {
      offloaded_on.set_value(std::this_thread::get_id());
      const bool opened = g.wait(10s);  // blocks a worker, not the I/O thread
      answer(text(c, opened ? "{\"gate\":\"open\"}" : "{\"gate\":\"timeout\"}"));
    });
  });
  add("/fast", [](const http::route_context& c, http::answer_fn answer) { answer(text(c, "{}")); });
  start();
  auto slow = std::async(std::launch::async, [&] {
    test::http_client client("127.0.0.1", port_);
    return client.post("/slow", "");
  });
  ASSERT_EQ(offloaded_future.wait_for(10s), std::future_status::ready);
  EXPECT_NE(handler_future.get(), offloaded_future.get()) << "offload ran the work on the I/O thread";
  test::http_client other("127.0.0.1", port_);
  const auto started = std::chrono::steady_clock::now();
  const auto fast = other.post("/fast", "");
  EXPECT_EQ(fast.status, 201);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "a blocked offload held up another connection";
  g.release();
  const auto r = slow.get();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "{\"gate\":\"open\"}");
}

TEST_F(DeferredRoutes, AHandlerThatThrowsIsAnswered500AndASecondAnswerIsDropped) {
  add("/throws", [](const http::route_context&, http::answer_fn) { throw std::runtime_error("boom"); });
  add("/offload-throws", [](const http::route_context& c, http::answer_fn) { c.offload([] { throw std::runtime_error("boom"); }); });
  add("/twice", [](const http::route_context& c, http::answer_fn answer) {
    answer(text(c, "{\"n\":1}"));
    answer(text(c, "{\"n\":2}"));
  });
  start();
  test::http_client client("127.0.0.1", port_);
  auto r = client.post("/throws", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("internal error; quote request id"), std::string::npos) << r.body;
  r = client.post("/offload-throws", "");
  EXPECT_EQ(r.status, 500);
  r = client.post("/twice", "");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "{\"n\":1}");
  // The connection carries on with one answer per request.
  r = client.post("/twice", "");
  EXPECT_EQ(r.body, "{\"n\":1}");
}

TEST_F(DeferredRoutes, UnknownPathsAreAnsweredWhileEveryWorkerIsBusy) {
  gate g;
  std::atomic<int> inside{0};
  table_.add({.method = http::verb::post, .path = "/stuck", .perm = http::permission{"events:write"}, .summary = "test", .tag = "test",
              .handler = [&](const http::route_context& c) {
                ++inside;
                g.wait(10s);
                return text(c, "{}");
              },
              .blocking = true});
  start();
  std::vector<std::future<test::http_reply>> stuck;
  for (int i = 0; i < 2; ++i)  // the fixture's two workers
    stuck.push_back(std::async(std::launch::async, [&] {
      test::http_client client("127.0.0.1", port_);
      return client.post("/stuck", "");
    }));
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (inside < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(inside.load(), 2) << "the workers never got busy";
  test::http_client probe("127.0.0.1", port_);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(probe.get("/no/such/path").status, 404);
  EXPECT_EQ(probe.request("DELETE", "/stuck").status, 405);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "404 and 405 waited for a worker";
  g.release();
  for (auto& f : stuck) EXPECT_EQ(f.get().status, 201);
}

TEST_F(DeferredRoutes, TheRawRequestPathWaitsForADeferredAnswer) {
  add("/later", [&](const http::route_context& c, http::answer_fn answer) {
    threads_.emplace_back([&c, answer] {
      std::this_thread::sleep_for(20ms);
      answer(text(c, "{\"late\":true}"));
    });
  });
  http::server_options o;
  http::server srv(table_, adm_, o);
  const auto out = srv.respond("POST /later HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 201");
  EXPECT_NE(out.find("{\"late\":true}"), std::string::npos) << out;
}

}  // namespace
