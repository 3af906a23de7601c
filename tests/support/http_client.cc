// Beast-based test clients. Every socket read has a deadline so a test cannot hang.
#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace nf::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
// Runs the io_context until `done` or the deadline; cancels the stream on timeout.
template <class Stream>
bool run_until(net::io_context& ioc, Stream& s, bool& done, std::chrono::milliseconds timeout) {
  ioc.restart();
  ioc.run_for(timeout);
  if (!done) {
    beast::get_lowest_layer(s).cancel();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(1));
  }
  return done;
}
}  // namespace

struct http_client::impl {
  std::string host;
  int port;
  header_map defaults;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buf;

  void connect() {
    stream.emplace(ioc);
    tcp::resolver r(ioc);
    stream->connect(r.resolve(host, std::to_string(port)));
  }
};

http_client::http_client(std::string host, int port, header_map defaults) : impl_(std::make_unique<impl>()) {
  impl_->defaults = std::move(defaults);
  impl_->host = std::move(host);
  impl_->port = port;
}
http_client::~http_client() = default;

http_reply http_client::request(const std::string& method, const std::string& target, const std::string& body,
                                const std::string& content_type, bool keep_alive, const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream) impl_->connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, impl_->host);
    for (const auto& [name, value] : impl_->defaults) req.set(name, value);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.keep_alive(keep_alive);
    if (!body.empty() || method == "POST") {
      if (!content_type.empty()) req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    beast::error_code ec;
    impl_->stream->expires_after(std::chrono::seconds(30));
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec) http::read(*impl_->stream, impl_->buf, parser, ec);
    if (ec) {
      impl_->stream.reset();
      impl_->buf.clear();
      if (attempt == 0) continue;
      return http_reply{-1, ec.message(), {}};
    }
    auto res = parser.release();
    http_reply out;
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    if (!res.keep_alive()) impl_->stream.reset();
    return out;
  }
  return http_reply{-1, "unreachable", {}};
}

struct sse_stream::impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buf;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::string pending;
  int status = 0;
  bool eof = false;
};

sse_stream::sse_stream(const std::string& host, int port, const std::string& target, const std::string& last_event_id,
                       const header_map& extra)
    : impl_(std::make_unique<impl>()) {
  tcp::resolver r(impl_->ioc);
  impl_->stream.connect(r.resolve(host, std::to_string(port)));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::accept, "text/event-stream");
  if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
  for (const auto& [name, value] : extra) req.set(name, value);
  http::write(impl_->stream, req);
  // The server answers with a raw stream (no length, no chunking): read the header, then bytes.
  impl_->parser.emplace();
  impl_->parser->eager(false);
  beast::error_code ec;
  http::read_header(impl_->stream, impl_->buf, *impl_->parser, ec);
  impl_->status = ec ? -1 : impl_->parser->get().result_int();
  if (!ec && impl_->status != 200) {
    impl_->eof = true;
    return;
  }
  // Whatever followed the header in the buffer is the start of the event stream.
  impl_->pending = beast::buffers_to_string(impl_->buf.data());
  impl_->buf.consume(impl_->buf.size());
}

sse_stream::~sse_stream() { close(); }

int sse_stream::status() const { return impl_->status; }

std::optional<sse_event> sse_stream::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto end = impl_->pending.find("\n\n");
    while (end != std::string::npos) {
      const std::string block = impl_->pending.substr(0, end);
      impl_->pending.erase(0, end + 2);
      sse_event ev;
      bool any = false;
      std::size_t pos = 0;
      while (pos <= block.size()) {
        auto nl = block.find('\n', pos);
        const std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("id: ", 0) == 0) ev.id = line.substr(4), any = true;
        else if (line.rfind("event: ", 0) == 0) ev.event = line.substr(7), any = true;
        else if (line.rfind("data: ", 0) == 0) ev.data += line.substr(6), any = true;
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      if (any) return ev;
      end = impl_->pending.find("\n\n");
    }
    if (impl_->eof) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    char tmp[8192];
    bool done = false;
    std::size_t got = 0;
    impl_->stream.socket().async_read_some(net::buffer(tmp), [&](beast::error_code ec, std::size_t n) {
      done = true;
      got = n;
      if (ec) impl_->eof = true;
    });
    if (!run_until(impl_->ioc, impl_->stream, done, left)) return std::nullopt;
    impl_->pending.append(tmp, got);
  }
}

void sse_stream::close() {
  beast::error_code ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.socket().close(ec);
}

struct ws_client::impl {
  net::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buf;
  std::string reason;
};

ws_client::ws_client(const std::string& host, int port, const std::string& target, const header_map& extra)
    : impl_(std::make_unique<impl>()) {
  tcp::resolver r(impl_->ioc);
  beast::get_lowest_layer(impl_->ws).connect(r.resolve(host, std::to_string(port)));
  impl_->ws.set_option(beast::websocket::stream_base::decorator([extra](beast::websocket::request_type& req) {
    for (const auto& [name, value] : extra) req.set(name, value);
  }));
  impl_->ws.handshake(host + ":" + std::to_string(port), target);
}

ws_client::~ws_client() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

void ws_client::send(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text));
}

std::optional<std::string> ws_client::next(std::chrono::milliseconds timeout) {
  bool done = false;
  beast::error_code result;
  impl_->ws.async_read(impl_->buf, [&](beast::error_code ec, std::size_t) {
    done = true;
    result = ec;
  });
  if (!run_until(impl_->ioc, impl_->ws, done, timeout)) return std::nullopt;
  if (result) {
    impl_->reason = std::string(impl_->ws.reason().reason.c_str()) + " (" + result.message() + ")";
    return std::nullopt;
  }
  std::string out = beast::buffers_to_string(impl_->buf.data());
  impl_->buf.consume(impl_->buf.size());
  return out;
}

std::string ws_client::close_reason() const { return impl_->reason; }

}  // namespace nf::test
