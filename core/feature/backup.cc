// Backup and restore of a data directory (see backup.h).
#include "core/feature/backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <openssl/evp.h>

#include "core/base/hex.h"
#include "core/bus/embedded.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/store/backup.h"

namespace nf::feature {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kFormat = "nexus-forge-backup/1";
constexpr std::size_t kChunk = 1 << 20;

std::string errno_text() { return std::strerror(errno); }

// A file's SHA-256 (hex) and size, read in chunks; `each` sees every chunk.
result<std::pair<std::string, std::uint64_t>> hash_file(const fs::path& p, const std::function<void(const char*, std::size_t)>& each = {}) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  if (!f) return error{errc::io_error, "cannot read '" + p.string() + "': " + errno_text()};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(kChunk);
  std::uint64_t total = 0;
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    EVP_DigestUpdate(ctx, buf.data(), n);
    if (each) each(buf.data(), n);
    total += n;
  }
  const bool failed = std::ferror(f.get()) != 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (failed) return error{errc::io_error, "reading '" + p.string() + "' failed"};
  return std::make_pair(to_hex(std::string_view(reinterpret_cast<const char*>(md), len)), total);
}

// Writes `text` to `path` through a temporary file, fsynced, then renamed over it.
result<void> write_atomically(const fs::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error{errc::io_error, "cannot write '" + tmp + "': " + errno_text()};
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return error{errc::io_error, "cannot write '" + tmp + "': " + errno_text()};
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return error{errc::io_error, "cannot rename '" + tmp + "': " + ec.message()};
  return ok();
}

// Copies `from` into `to` (through a temporary file, fsynced) while hashing it; returns the hash
// and size of what was copied.
result<std::pair<std::string, std::uint64_t>> copy_hashed(const fs::path& from, const fs::path& to, int mode) {
  const auto tmp = to.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return error{errc::io_error, "cannot write '" + tmp + "': " + errno_text()};
  bool ok_write = true;
  auto hashed = hash_file(from, [&](const char* p, std::size_t n) {
    if (ok_write && ::write(fd, p, n) != static_cast<ssize_t>(n)) ok_write = false;
  });
  ok_write = ok_write && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (!hashed || !ok_write) {
    fs::remove(tmp, ec);
    if (!hashed) return std::move(hashed).error();
    return error{errc::io_error, "cannot write '" + tmp + "': " + errno_text()};
  }
  fs::rename(tmp, to, ec);
  if (ec) return error{errc::io_error, "cannot rename '" + tmp + "': " + ec.message()};
  return hashed;
}

// Holds DIR/LOCK so that two backups (or a backup and a restore) do not interleave.
class dir_lock {
 public:
  static result<dir_lock> take(const fs::path& dir) {
    const auto path = dir / "LOCK";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error{errc::io_error, "cannot open '" + path.string() + "': " + errno_text()};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return error{errc::locked, "another backup or restore is using '" + dir.string() + "'"};
    }
    return dir_lock(fd);
  }
  dir_lock(dir_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~dir_lock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_;
};

result<void> check_backup_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return error{errc::not_found, "'" + dir.string() + "' does not exist or is not a directory"};
  std::ifstream in(dir / "FORMAT");
  std::string format;
  std::getline(in, format);
  if (format != kFormat)
    return error{errc::invalid_argument, "'" + dir.string() + "' is not a nexus-forge backup directory (no FORMAT file saying " + kFormat + ")"};
  return ok();
}

result<json> read_manifest(const fs::path& dir, std::uint32_t id) {
  const auto path = dir / "manifests" / (std::to_string(id) + ".json");
  std::ifstream in(path);
  if (!in) return error{errc::not_found, "'" + dir.string() + "' has no backup " + std::to_string(id)};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = parse_manifest(text);
  if (!j) return error{errc::corruption, "the manifest '" + path.string() + "' is damaged: " + j.error().message};
  if ((*j)["id"].get<std::uint64_t>() != id) return error{errc::corruption, "the manifest '" + path.string() + "' names backup " + (*j)["id"].dump()};
  return j;
}

result<json> pick(const fs::path& dir, std::optional<std::uint32_t> id) {
  if (id) return read_manifest(dir, *id);
  NF_TRY_ASSIGN(auto all, list_backups(dir.string()));
  if (all.empty()) return error{errc::not_found, "'" + dir.string() + "' holds no finished backup"};
  return all.back();
}

// Paths of the data dir that are files of the instance: everything but the two RocksDB stores
// (their own backups) and, should it sit inside, the backup directory.
result<std::vector<fs::path>> instance_files(const fs::path& data_dir, const fs::path& backup_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  const auto skip_backup = fs::weakly_canonical(backup_dir, ec);
  fs::recursive_directory_iterator it(data_dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return error{errc::io_error, "cannot list '" + data_dir.string() + "': " + ec.message()};
  for (; it != end; it.increment(ec)) {
    if (ec) return error{errc::io_error, "cannot list '" + data_dir.string() + "': " + ec.message()};
    const auto rel = fs::relative(it->path(), data_dir, ec);
    const auto top = rel.begin()->string();
    if (it.depth() == 0 && (top == "bus" || top == "projections")) {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::weakly_canonical(it->path(), ec) == skip_backup) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
    if (it->path().extension() == ".tmp") continue;  // a file being written (vault blobs are renamed into place)
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// With the directory's lock held: store backups no manifest names are what a killed backup left
// (it wrote the read models' backup, say, and died in the bus's); they are deleted.
result<void> drop_unfinished(const fs::path& dir) {
  std::set<std::pair<std::string, std::uint64_t>> named;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "manifests", ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    auto m = parse_manifest(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    if (!m) return error{errc::corruption, "the manifest '" + e.path().string() + "' is damaged: " + m.error().message};
    for (const char* part : {"projections", "bus"})
      if (!(*m)[part].is_null()) named.emplace(part, (*m)[part]["backupId"].get<std::uint64_t>());
  }
  for (const char* part : {"projections", "bus"}) {
    const auto engine = (dir / part).string();
    if (!fs::is_directory(dir / part / "meta", ec)) continue;
    NF_TRY_ASSIGN(auto all, store::list_db_backups(engine));
    for (const auto& b : all)
      if (!named.count({part, b.id})) {
        nf::log::get("backup")->info("dropping {} backup {} in {}: no manifest names it (a backup that did not finish)", part, b.id, dir.string());
        NF_TRY(store::delete_db_backup(engine, b.id));
      }
  }
  return ok();
}

std::uint32_t next_id(const fs::path& dir) {
  std::uint32_t next = 1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "manifests", ec)) {
    if (e.path().extension() != ".json") continue;
    try {
      next = std::max<std::uint32_t>(next, static_cast<std::uint32_t>(std::stoul(e.path().stem().string())) + 1);
    } catch (...) {
    }
  }
  return next;
}

bool is_empty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::directory_iterator(p, ec) == fs::directory_iterator();
}

// Empty, or holding only what a first backup killed before it wrote FORMAT leaves.
bool is_unused_dir(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return false;
  for (const auto& e : fs::directory_iterator(p, ec))
    if (e.path().filename() != "FORMAT.tmp") return false;
  return !ec;
}

// errc::locked when a process holds the bus's OWNER lock under `data_dir`.
result<void> not_owned(const fs::path& data_dir) {
  const auto owner = data_dir / "bus" / "OWNER";
  std::error_code ec;
  if (!fs::exists(owner, ec)) return ok();
  int fd = ::open(owner.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ok();
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  if (held)
    return error{errc::locked, "'" + data_dir.string() + "' belongs to a running server; stop it before restoring over its data"};
  return ok();
}

bool is_hex64(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_count(const json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0); }

}  // namespace

result<json> parse_manifest(std::string_view text) {
  if (text.size() > (64u << 20)) return error{errc::corruption, "larger than 64 MiB"};
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{errc::corruption, "not a JSON object"};
  auto bad = [](const std::string& field, const std::string& why) { return error{errc::corruption, "'" + field + "' " + why}; };
  if (!j.contains("id") || !j["id"].is_number_unsigned() || j["id"].get<std::uint64_t>() < 1 || j["id"].get<std::uint64_t>() > UINT32_MAX)
    return bad("id", "must be a backup number");
  if (!j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != kFormat)
    return bad("format", std::string("must be ") + kFormat);
  for (const char* n : {"busKind", "dataDir"})
    if (j.contains(n) && !j[n].is_string()) return bad(n, "must be a string");
  for (const char* n : {"createdAt", "finishedAt", "filesCopiedBytes"})
    if (j.contains(n) && !is_count(j[n])) return bad(n, "must be a count");
  for (const char* part : {"projections", "bus"}) {
    if (!j.contains(part)) return bad(part, "is missing");
    const auto& p = j[part];
    if (std::string(part) == "bus" && p.is_null()) continue;
    if (!p.is_object() || !p.contains("backupId") || !p["backupId"].is_number_unsigned() || p["backupId"].get<std::uint64_t>() > UINT32_MAX ||
        !p.contains("bytes") || !is_count(p["bytes"]) || (p.contains("files") && !is_count(p["files"])))
      return bad(part, "must name a backup of the store ({backupId, bytes, files})");
  }
  if (!j.contains("files") || !j["files"].is_array()) return bad("files", "must be an array");
  std::size_t i = 0;
  for (const auto& f : j["files"]) {
    const auto at = "files[" + std::to_string(i++) + "]";
    if (!f.is_object()) return bad(at, "must be an object");
    if (!f.contains("path") || !f["path"].is_string()) return bad(at + ".path", "must be a string");
    const fs::path rel(f["path"].get<std::string>());
    if (rel.empty() || rel.is_absolute() || std::any_of(rel.begin(), rel.end(), [](const fs::path& c) { return c == ".." || c == "."; }))
      return bad(at + ".path", "must be a relative path inside the data dir");
    if (!f.contains("sha256") || !is_hex64(f["sha256"])) return bad(at + ".sha256", "must be 64 lowercase hex digits");
    if (!f.contains("bytes") || !is_count(f["bytes"])) return bad(at + ".bytes", "must be a size");
    if (f.contains("mode") && (!f["mode"].is_number_integer() || f["mode"].get<std::int64_t>() < 0 || f["mode"].get<std::int64_t>() > 0777))
      return bad(at + ".mode", "must be a permission mode from 0 to 0777");
  }
  for (const char* n : {"fileCount", "bytes"})
    if (j.contains(n) && !is_count(j[n])) return bad(n, "must be a count");
  return j;
}

result<void> check_backup_target(const std::string& dir_text, const std::string& data_dir) {
  const fs::path dir(dir_text);
  std::error_code ec;
  const auto target = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  const auto data = fs::weakly_canonical(fs::absolute(data_dir, ec), ec);
  const auto [d, t] = std::mismatch(data.begin(), data.end(), target.begin(), target.end());
  if (d == data.end())
    return error{errc::invalid_argument, "'" + dir.string() + "' is inside the data directory '" + data_dir +
                                             "': a backup there is lost with what it backs up; choose a directory elsewhere"};
  if (fs::exists(dir, ec) && !is_unused_dir(dir)) NF_TRY(check_backup_dir(dir));
  return ok();
}

result<json> create_backup(const backup_sources& src, const std::string& dir_text, const nf::clock& clk, const backup_progress_fn& progress) {
  const fs::path dir(dir_text);
  std::error_code ec;
  NF_TRY(check_backup_target(dir_text, src.data_dir));
  // FORMAT first: a directory holding anything else of ours is a backup directory.
  fs::create_directories(dir, ec);
  if (ec) return error{errc::io_error, "cannot create '" + dir.string() + "': " + ec.message()};
  if (!fs::exists(dir / "FORMAT", ec)) NF_TRY(write_atomically(dir / "FORMAT", std::string(kFormat) + "\n"));
  fs::create_directories(dir / "manifests", ec);
  if (!ec) fs::create_directories(dir / "files", ec);
  if (ec) return error{errc::io_error, "cannot create '" + dir.string() + "': " + ec.message()};
  NF_TRY_ASSIGN(auto lock, dir_lock::take(dir));
  NF_TRY(drop_unfinished(dir));
  const auto id = next_id(dir);
  const auto started = clk.now_ms();
  auto report = [&](const std::string& step, std::uint64_t bytes, std::uint64_t files = 0, std::uint64_t total = 0) {
    if (progress) progress({step, bytes, files, total});
  };
  const std::string meta = json{{"backup", id}, {"createdAt", started}}.dump();

  // 1. The read models, so none is ahead of the bus copied next.
  report("projections", 0);
  NF_TRY_ASSIGN(auto proj, src.store.backup((dir / "projections").string(), meta, [&](std::uint64_t b) { report("projections", b); }));
  // 2. The bus.
  json bus_part = nullptr;
  if (auto* embedded = dynamic_cast<bus::embedded_bus*>(&src.bus)) {
    report("bus", 0);
    NF_TRY_ASSIGN(auto b, embedded->backup((dir / "bus").string(), meta, [&](std::uint64_t n) { report("bus", n); }));
    bus_part = json{{"backupId", b.id}, {"bytes", b.size}, {"files", b.files}};
  }
  // 3. Every other file of the data dir, stored once by content.
  NF_TRY_ASSIGN(auto files, instance_files(src.data_dir, dir));
  json listed = json::array();
  std::uint64_t file_bytes = 0, copied = 0, done = 0;
  for (const auto& rel : files) {
    const auto from = fs::path(src.data_dir) / rel;
    auto status = fs::status(from, ec);
    if (ec) continue;  // removed since it was listed
    const int mode = static_cast<int>(status.permissions() & fs::perms::all);  // never setuid, setgid or sticky
    auto hashed = hash_file(from);
    if (!hashed && !fs::exists(from, ec)) continue;
    if (!hashed) return std::move(hashed).error();
    auto [sha, size] = *hashed;
    const auto stored = dir / "files" / sha;
    if (!fs::exists(stored, ec)) {
      NF_TRY_ASSIGN(auto again, copy_hashed(from, stored, 0600));
      if (again.first != sha) {
        // Changed between the two reads: keep what was copied, under its own name.
        fs::rename(stored, dir / "files" / again.first, ec);
        sha = again.first;
        size = again.second;
      }
      copied += size;
    }
    file_bytes += size;
    listed.push_back({{"path", rel.generic_string()}, {"sha256", sha}, {"bytes", size}, {"mode", mode}});
    report("files", file_bytes, ++done, files.size());
  }
  // The engines' shared files are counted once, however many backups use them.
  json manifest{{"id", id},
                {"format", kFormat},
                {"createdAt", started},
                {"finishedAt", clk.now_ms()},
                {"dataDir", fs::absolute(src.data_dir, ec).string()},
                {"busKind", std::string(src.bus.kind())},
                {"bus", bus_part},
                {"projections", {{"backupId", proj.id}, {"bytes", proj.size}, {"files", proj.files}}},
                {"files", listed},
                {"fileCount", listed.size() + proj.files + (bus_part.is_null() ? 0u : bus_part["files"].get<std::uint32_t>())},
                {"bytes", proj.size + (bus_part.is_null() ? 0 : bus_part["bytes"].get<std::uint64_t>()) + file_bytes},
                {"filesCopiedBytes", copied}};
  NF_TRY(write_atomically(dir / "manifests" / (std::to_string(id) + ".json"), manifest.dump(2) + "\n"));
  nf::log::get("backup")->info("backup {} in {}: {} bytes in {} files", id, dir.string(), manifest["bytes"].get<std::uint64_t>(),
                               manifest["fileCount"].get<std::uint64_t>());
  return manifest;
}

result<std::vector<json>> list_backups(const std::string& dir_text) {
  const fs::path dir(dir_text);
  NF_TRY(check_backup_dir(dir));
  std::vector<std::uint32_t> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "manifests", ec)) {
    if (e.path().extension() != ".json") continue;
    try {
      ids.push_back(static_cast<std::uint32_t>(std::stoul(e.path().stem().string())));
    } catch (...) {
    }
  }
  std::sort(ids.begin(), ids.end());
  std::vector<json> out;
  for (auto id : ids) {
    NF_TRY_ASSIGN(auto m, read_manifest(dir, id));
    out.push_back(std::move(m));
  }
  return out;
}

result<json> verify_backup(const std::string& dir_text, std::optional<std::uint32_t> id, const backup_progress_fn& progress) {
  const fs::path dir(dir_text);
  NF_TRY(check_backup_dir(dir));
  NF_TRY_ASSIGN(auto m, pick(dir, id));
  json problems = json::array();
  auto engine = [&](const char* name, const json& part) {
    if (part.is_null()) return;
    if (progress) progress({std::string("verify ") + name, 0, 0, 0});
    if (auto v = store::verify_db_backup((dir / name).string(), part["backupId"].get<std::uint32_t>()); !v)
      problems.push_back(std::string(name) + ": " + v.error().message);
  };
  engine("projections", m["projections"]);
  engine("bus", m["bus"]);
  std::uint64_t bytes = 0, done = 0;
  const auto total = m["files"].size();
  for (const auto& f : m["files"]) {
    const auto stored = dir / "files" / f["sha256"].get<std::string>();
    auto hashed = hash_file(stored);
    if (!hashed) problems.push_back(f["path"].get<std::string>() + ": " + hashed.error().message);
    else if (hashed->first != f["sha256"] || hashed->second != f["bytes"].get<std::uint64_t>())
      problems.push_back(f["path"].get<std::string>() + ": '" + stored.string() + "' fails its checksum (sha256 " + hashed->first + ", " +
                         std::to_string(hashed->second) + " bytes; the manifest says " + f["sha256"].get<std::string>() + ", " +
                         std::to_string(f["bytes"].get<std::uint64_t>()) + " bytes)");
    if (hashed) bytes += hashed->second;
    if (progress) progress({"verify files", bytes, ++done, total});
  }
  return json{{"id", m["id"]}, {"ok", problems.empty()}, {"problems", problems}, {"filesChecked", total}, {"bytesChecked", bytes}};
}

result<json> restore_backup(const std::string& dir_text, std::optional<std::uint32_t> id, const std::string& data_dir_text, bool force,
                            const backup_progress_fn& progress) {
  const fs::path dir(dir_text), data_dir(data_dir_text);
  NF_TRY(check_backup_dir(dir));
  NF_TRY_ASSIGN(auto m, pick(dir, id));
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !is_empty_dir(data_dir)) {
    if (!fs::is_directory(data_dir, ec)) return error{errc::invalid_argument, "'" + data_dir.string() + "' is not a directory"};
    NF_TRY(not_owned(data_dir));
    if (!force)
      return error{errc::already_exists, "'" + data_dir.string() + "' is not empty; restore into an empty directory, or pass --force to "
                                         "replace what it holds"};
  }
  NF_TRY_ASSIGN(auto lock, dir_lock::take(dir));
  // Every file is checked before anything of the target changes.
  for (const auto& f : m["files"]) {
    auto hashed = hash_file(dir / "files" / f["sha256"].get<std::string>());
    if (!hashed) return error{errc::corruption, "backup " + m["id"].dump() + ": " + f["path"].get<std::string>() + ": " + hashed.error().message};
    if (hashed->first != f["sha256"])
      return error{errc::corruption, "backup " + m["id"].dump() + ": " + f["path"].get<std::string>() + " fails its checksum; nothing was restored"};
  }
  if (fs::exists(data_dir, ec))
    for (const auto& e : fs::directory_iterator(data_dir, ec)) fs::remove_all(e.path(), ec);
  fs::create_directories(data_dir, ec);
  if (ec) return error{errc::io_error, "cannot create '" + data_dir.string() + "': " + ec.message()};
  std::uint64_t bytes = 0;
  auto engine = [&](const char* name) -> result<void> {
    const auto& part = m[name];
    if (part.is_null()) return ok();
    if (progress) progress({name, bytes, 0, 0});
    NF_TRY(store::restore_db((dir / name).string(), part["backupId"].get<std::uint32_t>(), (data_dir / name).string()));
    bytes += part["bytes"].get<std::uint64_t>();
    if (progress) progress({name, bytes, 0, 0});
    return ok();
  };
  NF_TRY(engine("projections"));
  NF_TRY(engine("bus"));
  std::uint64_t done = 0;
  const auto total = m["files"].size();
  for (const auto& f : m["files"]) {
    const auto rel = fs::path(f["path"].get<std::string>());
    const auto to = data_dir / rel;  // parse_manifest: relative, without '..'
    fs::create_directories(to.parent_path(), ec);
    NF_TRY_ASSIGN(auto copied, copy_hashed(dir / "files" / f["sha256"].get<std::string>(), to, f.value("mode", 0600)));
    if (copied.first != f["sha256"]) return error{errc::corruption, "'" + to.string() + "' changed while it was restored"};
    bytes += copied.second;
    if (progress) progress({"files", bytes, ++done, total});
  }
  return json{{"id", m["id"]}, {"dataDir", data_dir.string()}, {"bytes", bytes}, {"fileCount", m["fileCount"]}};
}

backup_ops::backup_ops(backup_sources src, const nf::clock& clk) : src_(std::move(src)), clk_(clk) {}

backup_ops::~backup_ops() {
  if (thread_.joinable()) thread_.join();
}

result<json> backup_ops::start(const std::string& dir) {
  if (dir.empty() || !fs::path(dir).is_absolute())
    return error{errc::invalid_argument, "'dir' must be an absolute path on the server's machine"};
  NF_TRY(check_backup_target(dir, src_.data_dir));  // what can be refused at once is, with a 400
  std::lock_guard lk(mu_);
  if (state_["state"] == "running") return error{errc::conflict, "a backup is running (into " + state_.value("dir", std::string()) + ")"};
  if (thread_.joinable()) thread_.join();
  state_ = json{{"state", "running"}, {"dir", dir}, {"step", "starting"}, {"bytes", 0}, {"files", 0}, {"filesTotal", 0},
                {"startedAt", clk_.now_ms()}};
  thread_ = std::thread([this, dir] {
    result<json> done = error{errc::internal, "the backup stopped unexpectedly"};
    nf::log::guarded("backup", [&] {
      done = create_backup(src_, dir, clk_, [&](const backup_progress& p) {
        std::lock_guard progress_lock(mu_);
        state_["step"] = p.step;
        state_["bytes"] = p.bytes;
        state_["files"] = p.files;
        state_["filesTotal"] = p.files_total;
      });
    });
    std::lock_guard finished_lock(mu_);
    state_["finishedAt"] = clk_.now_ms();
    if (done) {
      state_["state"] = "done";
      state_["manifest"] = *done;
    } else {
      state_["state"] = "failed";
      state_["error"] = describe(done.error());
    }
  });
  return state_;
}

json backup_ops::current() {
  std::lock_guard lk(mu_);
  return state_;
}

void backup_ops::add_routes(http::route_table& t) {
  const http::response_doc err{"the error", http::schema::ref("Error")};
  t.add({.method = http::verb::post, .path = "/backups", .perm = http::permission{"cluster:write"},
         .summary = "Back up this instance (bus, read models, vault, keys) into a directory on its machine, while it serves",
         .tag = "operations",
         .body = http::schema::object({{"dir", http::schema::string("absolute path; a backup directory or a new one")}}, {"dir"}),
         .responses = {{202, {"started; GET /backups/current shows progress and, at the end, the manifest", json{{"type", "object"}}}},
                       {400, err},
                       {409, {"a backup is running", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) {
           auto body = http::parse_body(c.req);
           if (!body) return http::bad_body(body.error(), c.req);
           auto dir = http::string_field(*body, "dir");
           if (!dir || !*dir) return http::invalid_field("dir", "'dir' is required: an absolute path on the server's machine", c.req);
           auto r = start(**dir);
           if (!r) {
             if (r.error().code == errc::conflict) return http::error_response(http::status::conflict, "backup_running", r.error().message, c.req);
             return http::error_response(http::status_for(r.error().code), "invalid_field", r.error().message, c.req, "dir");
           }
           return http::json_response(http::status::accepted, *r, c.req);
         },
         .blocking = true});
  t.add({.method = http::verb::get, .path = "/backups/current", .perm = http::permission{"cluster:read"},
         .summary = "The latest backup of this server: progress, then its manifest or its error", .tag = "operations",
         .responses = {{200, {"state, step, bytes, files, manifest or error", json{{"type", "object"}}}}},
         .handler = [this](const http::route_context& c) { return http::json_response(http::status::ok, current(), c.req); }});
}

}  // namespace nf::feature
