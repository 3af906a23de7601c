// The child process of the benchmark gate. Everything the child needs (argv, envp, paths) is
// built before fork(); between fork() and exec the child calls only async-signal-safe functions.
#include "actors/marketplace/selftest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace nf::marketplace {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kTail = 4096;

result<void> materialize(const std::string& dir, const std::vector<selftest_file>& files) {
  for (const auto& f : files) {
    const fs::path p = fs::path(dir) / f.path;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return error{errc::io_error, "cannot create '" + p.parent_path().string() + "': " + ec.message()};
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    if (!out) return error{errc::io_error, "cannot write '" + p.string() + "'"};
    out.close();
    fs::permissions(p, f.executable ? fs::perms(0755) : fs::perms(0644), ec);
  }
  return ok();
}

}  // namespace

result<selftest_result> run_selftest(const std::string& command, const std::vector<selftest_file>& files, const selftest_limits& limits,
                                     const std::string& tmp_root) {
  std::error_code ec;
  fs::create_directories(tmp_root, ec);
  std::string templ = (fs::path(tmp_root) / "selftest-XXXXXX").string();
  if (!::mkdtemp(templ.data())) return error{errc::io_error, "cannot create a directory under '" + tmp_root + "': " + std::strerror(errno)};
  const std::string dir = templ;
  struct cleanup {
    std::string d;
    ~cleanup() {
      std::error_code e;
      fs::remove_all(d, e);
    }
  } rm{dir};
  NF_TRY(materialize(dir, files));

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return error{errc::io_error, std::string("pipe: ") + std::strerror(errno)};
  const std::string env_path = "PATH=/usr/local/bin:/usr/bin:/bin", env_home = "HOME=" + dir, env_tmp = "TMPDIR=" + dir;
  const char* envp[] = {env_path.c_str(), env_home.c_str(), env_tmp.c_str(), nullptr};
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  const rlimit cpu{static_cast<rlim_t>(limits.cpu.count()), static_cast<rlim_t>(limits.cpu.count()) + 1};
  const rlimit mem{static_cast<rlim_t>(limits.memory_bytes), static_cast<rlim_t>(limits.memory_bytes)};
  const rlimit fsize{static_cast<rlim_t>(limits.file_bytes), static_cast<rlim_t>(limits.file_bytes)};
  const rlimit core{0, 0};
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const int max_fd = nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur > 65536 ? 65536 : static_cast<int>(nofile.rlim_cur);

  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return error{errc::io_error, std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    // The child: its own process group (so the gate can kill everything it starts), its limits,
    // the package directory, output into the pipe, no inherited descriptors, then the command.
    ::setpgid(0, 0);
    ::setrlimit(RLIMIT_CPU, &cpu);
    ::setrlimit(RLIMIT_AS, &mem);
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    ::setrlimit(RLIMIT_CORE, &core);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    for (int fd = 3; fd < max_fd; ++fd) ::close(fd);
    ::execve("/bin/sh", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so a kill before the child ran setpgid still works
  ::close(pipe_fds[1]);

  selftest_result out;
  std::string tail;
  bool killed_for_time = false;
  char buf[4096];
  const auto deadline = started + limits.wall;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      killed_for_time = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const auto got = ::read(pipe_fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // every writer closed it: the command and what it started are done
    tail.append(buf, static_cast<std::size_t>(got));
    if (tail.size() > 2 * kTail) tail.erase(0, tail.size() - kTail);
  }
  ::close(pipe_fds[0]);
  // Whatever is left of its process group goes now (a command that exited but left children, or
  // one over its wall time).
  ::kill(-pid, SIGKILL);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  out.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  out.cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  out.peak_rss_kb = ru.ru_maxrss;
  if (tail.size() > kTail) tail.erase(0, tail.size() - kTail);
  out.output_tail = std::move(tail);
  if (WIFEXITED(status)) {
    out.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
    out.exit_status = -1;
  }
  // A command the shell ran and a signal killed shows as the shell's exit status 128 + signal.
  const int sig = out.signal ? out.signal : (out.exit_status > 128 && out.exit_status < 128 + 65 ? out.exit_status - 128 : 0);
  if (killed_for_time) out.limit_hit = "wall_time";
  else if (sig == SIGXCPU || (sig == SIGKILL && out.cpu_ms >= static_cast<std::int64_t>(limits.cpu.count()) * 1000)) out.limit_hit = "cpu_time";
  else if (sig == SIGXFSZ) out.limit_hit = "file_size";
  else if (static_cast<std::uint64_t>(out.peak_rss_kb) * 1024 >= limits.memory_bytes) out.limit_hit = "memory";
  return out;
}

}  // namespace nf::marketplace
