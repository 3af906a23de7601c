// UUIDv7 generation and derived ids.
#include "core/event/ids.h"

#include "core/base/sha256.h"
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace nf::event {
namespace {
constexpr char kHex[] = "0123456789abcdef";

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string event_id::to_string() const {
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0xf]);
  }
  return s;
}

std::string event_id::raw() const { return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()); }

bool event_id::is_nil() const {
  for (auto b : bytes)
    if (b) return false;
  return true;
}

result<event_id> event_id::parse(std::string_view t) {
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-')
    return error{errc::invalid_argument, "'" + std::string(t.substr(0, 64)) + "' is not a UUID (expected 8-4-4-4-12 hex digits)"};
  event_id id;
  std::size_t j = 0;
  for (std::size_t i = 0; i < t.size();) {
    if (t[i] == '-') {
      ++i;
      continue;
    }
    const int hi = hexval(t[i]), lo = hexval(t[i + 1]);
    if (hi < 0 || lo < 0) return error{errc::invalid_argument, "'" + std::string(t) + "' is not a UUID (non-hex digit)"};
    id.bytes[j++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return id;
}

result<event_id> event_id::from_raw(std::string_view b) {
  if (b.size() != 16) return error{errc::invalid_argument, "event id must be 16 bytes, got " + std::to_string(b.size())};
  event_id id;
  for (std::size_t i = 0; i < 16; ++i) id.bytes[i] = static_cast<std::uint8_t>(b[i]);
  return id;
}

namespace {
// Random bytes for ids, drawn from OpenSSL's CSPRNG a page at a time per thread: one RAND_bytes
// call per 409 ids instead of one per id (it was a sixth of the cost of building an event).
void random_bytes(std::uint8_t* out, std::size_t n) {
  struct pool {
    std::array<std::uint8_t, 4096> bytes{};
    std::size_t used = 4096;  // empty: the first call fills it
  };
  thread_local pool p;
  if (p.used + n > p.bytes.size()) {
    if (RAND_bytes(p.bytes.data(), static_cast<int>(p.bytes.size())) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    p.used = 0;
  }
  std::memcpy(out, p.bytes.data() + p.used, n);
  // Bytes handed out are not kept.
  std::memset(p.bytes.data() + p.used, 0, n);
  p.used += n;
}
}  // namespace

event_id new_uuidv7(std::int64_t unix_ms) {
  event_id id;
  random_bytes(id.bytes.data() + 6, 10);
  const auto ms = static_cast<std::uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) id.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x70);
  id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);
  return id;
}

event_id derive_id(const event_id& cause, std::string_view actor, std::uint64_t n) {
  std::string input = cause.raw();
  input.append(actor);
  input.push_back('\0');
  for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  const auto digest = sha256(input);
  event_id id;
  for (std::size_t i = 0; i < 16; ++i) id.bytes[i] = digest[i];
  id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x80);
  id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);
  return id;
}

}  // namespace nf::event
