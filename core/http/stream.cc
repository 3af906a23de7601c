// Server-Sent Events and WebSocket streams: a reader thread per stream pulls events from the
// route's stream_source into a bounded queue; the session writes them on its connection's I/O thread.
#include <deque>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>

#include "core/http/server_state.h"
#include "core/log/guard.h"

namespace nf::http {
namespace {

namespace websocket = beast::websocket;

// Streams events of one source to a client, with a bounded queue: the reader pauses while the
// queue is full, and gives up on a client whose queue stays full too long. Every half second at
// most, it checks that the caller's credential still holds (revocation, suspension, expiry).
// The reader thread owns the source and closes it before it ends, so once
// server::state::subs_running is 0 no stream holds anything of the bus.
class pump : public std::enable_shared_from_this<pump> {
 public:
  using frame_fn = std::function<std::string(const stream_frame&)>;
  pump(server::state& st, std::unique_ptr<stream_source> src, admission::recheck_fn recheck)
      : st_(st), src_(std::move(src)), recheck_(std::move(recheck)) {}

  // `deliver(frames, events)` queues frames on the session; it runs on the reader thread.
  void start(std::function<void(std::string, std::size_t)> deliver, std::function<void(std::string reason)> close, frame_fn frame) {
    st_.sub_started();
    std::thread([self = shared_from_this(), deliver = std::move(deliver), close = std::move(close), frame = std::move(frame)] {
      if (!nf::log::guarded("subscription-pump", [&] { self->run(deliver, close, frame); }))
        nf::log::guarded("subscription-pump", [&] { close("the subscription failed on the server; reconnect with the last id"); });
      {
        std::lock_guard lk(self->mu_);
        self->src_.reset();
      }
      self->st_.sub_ended();
    }).detach();
  }

  void stop() {
    std::lock_guard lk(mu_);
    stopped_ = true;
    if (src_) src_->wakeup();
    cv_.notify_all();
  }
  void sent(std::size_t n) {
    {
      std::lock_guard lk(mu_);
      queued_ -= std::min(queued_, n);
    }
    cv_.notify_all();
  }

 private:
  bool done() const { return stopped_ || st_.stopping; }

  // False (and the stream closed with the reason) when the caller may no longer read.
  bool still_allowed(const std::function<void(std::string)>& close) {
    const auto now = std::chrono::steady_clock::now();
    if (!recheck_ || now - checked_ < std::chrono::milliseconds(500)) return true;
    checked_ = now;
    if (auto why = recheck_()) {
      metrics::registry::global()
          .get_counter("nf_gateway_revoked_stream_closes_total", "Subscriptions closed because their credential no longer holds")
          .inc();
      close("credential no longer valid: " + *why);
      return false;
    }
    return true;
  }

  void run(const std::function<void(std::string, std::size_t)>& deliver, const std::function<void(std::string)>& close,
           const frame_fn& frame) {
    const auto buffer = st_.opts.subscriber_buffer;
    checked_ = std::chrono::steady_clock::now();
    while (!done()) {
      if (!still_allowed(close)) return;
      {
        std::unique_lock lk(mu_);
        if (queued_ >= buffer) {
          if (!full_since_) full_since_ = std::chrono::steady_clock::now();
          // Short waits, so stop and the credential check are never late.
          cv_.wait_for(lk, std::chrono::milliseconds(250), [&] { return queued_ < buffer / 2 || done(); });
          if (queued_ < buffer / 2) full_since_.reset();
          if (full_since_ && std::chrono::steady_clock::now() - *full_since_ >= st_.opts.slow_subscriber_timeout) {
            const auto waiting = queued_;
            lk.unlock();
            metrics::registry::global()
                .get_counter("nf_gateway_slow_subscriber_closes_total", "Subscriptions closed because the client fell behind")
                .inc();
            close("slow subscriber: " + std::to_string(waiting) + " events waited more than " +
                  std::to_string(st_.opts.slow_subscriber_timeout.count()) + " ms; reconnect with the last id to resume");
            return;
          }
          continue;
        }
      }
      const std::size_t room = buffer - queued_;
      auto batch = src_->next(std::chrono::milliseconds(500), std::min<std::size_t>(room, 512));
      if (!batch) {
        close("subscription failed: " + batch.error().message);
        return;
      }
      if (batch->empty()) continue;
      {
        std::lock_guard lk(mu_);
        queued_ += batch->size();
      }
      // One write per batch, not per event: the frames of a poll travel together.
      std::string frames;
      std::size_t n = 0;
      for (std::size_t i = 0; i < batch->size(); ++i) {
        frames += frame((*batch)[i]);
        ++n;
        if (i + 1 == batch->size() || frames.size() > 256 * 1024) {
          deliver(std::move(frames), n);
          frames.clear();
          n = 0;
        }
      }
    }
  }

  server::state& st_;
  std::unique_ptr<stream_source> src_;
  admission::recheck_fn recheck_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t queued_ = 0;
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  std::chrono::steady_clock::time_point checked_;
};

// ---- SSE ----

class sse_session : public stream_session, public std::enable_shared_from_this<sse_session> {
 public:
  sse_session(tcp::socket socket, server::state& st, const route& r, caller who, admission::recheck_fn recheck)
      : stream_(std::move(socket)), st_(st), route_(r), who_(std::move(who)), recheck_(std::move(recheck)) {}
  ~sse_session() override {
    if (pump_) pump_->stop();
  }

  void end_stream(const std::string& reason) override {
    net::post(stream_.get_executor(), [self = shared_from_this(), reason] { self->close_with(reason); });
  }
  void stop_reader() override {
    if (auto p = pump_) p->stop();
  }

  void start(const request& req, const target& t) {
    const auto last = req["Last-Event-ID"];
    stream_request sr{who_, t.query, std::string(last.data(), last.size()), nullptr};
    auto opened = route_.open(sr);
    if (!opened) {
      const bool denied = opened.error().code == errc::permission_denied;
      auto res = std::make_shared<response>(error_response(denied ? status::forbidden : status::bad_request,
                                                           denied ? "forbidden" : "invalid_subscription", opened.error().message, req,
                                                           "topics"));
      res->keep_alive(false);
      bh::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      });
      st_.observe(route_.path, "GET", res->result_int(), 0);
      st_.adm.record(who_, req, route_.path, t.path, res->result_int());
      return;
    }
    st_.observe(route_.path, "GET", 200, 0);
    st_.adm.record(who_, req, route_.path, t.path, 200);
    st_.stream_opened(weak_from_this());
    stream_.expires_never();
    out_.push_back("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n"
                   "Server: nexus-forge\r\n\r\n: subscribed\n\n");
    counts_.push_back(0);
    write_next();
    watch_close();
    pump_ = std::make_shared<pump>(st_, std::move(opened->source), recheck_);
    std::weak_ptr<sse_session> weak = shared_from_this();
    pump_->start(
        [weak](std::string frames, std::size_t n) {
          if (auto self = weak.lock())
            net::post(self->stream_.get_executor(), [self, f = std::move(frames), n]() mutable { self->enqueue(std::move(f), n); });
        },
        [weak](std::string reason) {
          if (auto self = weak.lock()) net::post(self->stream_.get_executor(), [self, reason] { self->close_with(reason); });
        },
        [](const stream_frame& f) { return "id: " + f.id + "\ndata: " + *f.data + "\n\n"; });
  }

 private:
  // A last `event: error` frame with the reason, then the connection is closed.
  void close_with(const std::string& reason) {
    if (closing_ || closed_) return;
    enqueue("event: error\ndata: " + json{{"reason", reason}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n", 0);
    closing_ = true;
    // What is queued gets this long to reach the client; then the connection is dropped.
    stream_.expires_after(st_.stopping ? std::chrono::milliseconds(1000)
                                       : std::max<std::chrono::milliseconds>(std::chrono::seconds(30), st_.opts.slow_subscriber_timeout));
    if (!writing_) write_next();
  }

  void enqueue(std::string frame, std::size_t events) {
    if (closed_) return;
    out_.push_back(std::move(frame));
    counts_.push_back(events);
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty()) {
      if (closing_) shutdown();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      const auto n = self->counts_.front();
      self->out_.pop_front();
      self->counts_.pop_front();
      if (self->pump_) self->pump_->sent(n);
      if (ec) return self->shutdown();
      self->write_next();
    });
  }

  // A read that only completes when the client goes away.
  void watch_close() {
    stream_.socket().async_read_some(net::buffer(sink_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->shutdown();
      self->watch_close();
    });
  }

  void shutdown() {
    if (pump_) pump_->stop();
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  server::state& st_;
  const route& route_;
  caller who_;
  admission::recheck_fn recheck_;
  std::shared_ptr<pump> pump_;
  std::deque<std::string> out_;
  std::deque<std::size_t> counts_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::array<char, 256> sink_{};
};

// ---- WebSocket ----

class ws_session : public stream_session, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(tcp::socket socket, server::state& st, const route& r, caller who, admission::recheck_fn recheck)
      : ws_(std::move(socket)), st_(st), route_(r), who_(std::move(who)), recheck_(std::move(recheck)) {}
  ~ws_session() override {
    if (pump_) pump_->stop();
  }

  void end_stream(const std::string& reason) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), reason] { self->close_with(websocket::close_code::going_away, reason); });
  }
  void stop_reader() override {
    if (auto p = pump_) p->stop();
  }

  void start(request req, const target& t) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    st_.adm.record(who_, req, route_.path, t.path, 101);
    st_.stream_opened(weak_from_this());
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->st_.observe(self->route_.path, "GET", 101, 0);
      self->read_subscribe();
    });
  }

 private:
  void read_subscribe() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      const std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->pump_) return self->read_subscribe();  // later messages are ignored
      auto parsed = parse_json(text, "the subscribe message");
      const json message = parsed ? std::move(*parsed) : json();
      const std::map<std::string, std::string> no_query;
      stream_request sr{self->who_, no_query, "", &message};
      auto opened = self->route_.open(sr);
      if (!opened) return self->close_with(websocket::close_code::policy_error, opened.error().message);
      if (!opened->ack.is_null()) self->enqueue(opened->ack.dump(-1, ' ', false, json::error_handler_t::replace), 0);
      self->pump_ = std::make_shared<pump>(self->st_, std::move(opened->source), self->recheck_);
      std::weak_ptr<ws_session> weak = self;
      self->pump_->start(
          [weak](std::string frames, std::size_t n) {
            // Frames arrive newline-separated; each WebSocket message carries one event.
            if (auto s = weak.lock())
              net::post(s->ws_.get_executor(), [s, f = std::move(frames), n]() mutable {
                std::size_t start = 0;
                for (std::size_t i = 0; i < n; ++i) {
                  const auto end = f.find('\n', start);
                  s->enqueue(f.substr(start, end - start), 1);
                  start = end + 1;
                }
              });
          },
          [weak](std::string reason) {
            if (auto s = weak.lock())
              net::post(s->ws_.get_executor(), [s, reason] { s->close_with(websocket::close_code::try_again_later, reason); });
          },
          [](const stream_frame& f) { return R"({"id":")" + f.id + R"(","event":)" + *f.data + "}\n"; });
      self->read_subscribe();
    });
  }

  void enqueue(std::string frame, std::size_t events) {
    out_.push_back(std::move(frame));
    counts_.push_back(events);
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      const auto n = self->counts_.front();
      self->out_.pop_front();
      self->counts_.pop_front();
      if (self->pump_) self->pump_->sent(n);
      if (ec) {
        if (self->pump_) self->pump_->stop();
        return;
      }
      self->write_next();
    });
  }

  void close_with(websocket::close_code code, const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    if (pump_) pump_->stop();
    // Close reasons are limited to 123 bytes by the protocol.
    websocket::close_reason cr(code, reason.substr(0, 123));
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  server::state& st_;
  const route& route_;
  caller who_;
  admission::recheck_fn recheck_;
  beast::flat_buffer in_;
  std::shared_ptr<pump> pump_;
  std::deque<std::string> out_;
  std::deque<std::size_t> counts_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

void start_stream(server::state& st, tcp::socket socket, request req, const target& t, const route& r, caller who) {
  // The credential is checked again while the stream is open, as the request presented it.
  request creds = req;
  if (auto tok = t.query.find("access_token"); tok != t.query.end() && req[field::authorization].empty())
    creds.set(field::authorization, "Bearer " + tok->second);
  auto recheck = st.adm.recheck(who, creds);
  if (r.stream == stream_kind::websocket)
    std::make_shared<ws_session>(std::move(socket), st, r, std::move(who), std::move(recheck))->start(std::move(req), t);
  else
    std::make_shared<sse_session>(std::move(socket), st, r, std::move(who), std::move(recheck))->start(req, t);
}

}  // namespace nf::http
