// Test helpers: temp dirs, deadline waits, child processes.
#include "tests/support/support.h"

#include <cstdlib>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace nf::test {

temp_dir::temp_dir() {
  static std::atomic<int> n{0};
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("nf-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" + std::to_string(rd() % 100000));
  std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
  return pred();
}

namespace {
std::vector<char*> make_env(const std::vector<std::string>& extra, std::vector<std::string>& storage) {
  storage.clear();
  for (char** e = environ; *e; ++e) storage.emplace_back(*e);
  for (const auto& x : extra) storage.push_back(x);
  std::vector<char*> out;
  for (auto& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Children still running, so that a test binary that dies (a sanitizer's abort, a failed
// check's std::terminate, ctest's or a user's SIGTERM/SIGINT) takes its servers and brokers with
// it. Without this a crashed cluster test left three servers and a mock broker spinning for good.
constexpr std::size_t kMaxChildren = 512;
std::atomic<pid_t> live_children[kMaxChildren];

extern "C" void kill_children_and_die(int sig) {
  for (auto& c : live_children)
    if (const pid_t p = c.load(std::memory_order_relaxed); p > 0) ::kill(p, SIGKILL);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void track_child(pid_t pid) {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGABRT, SIGTERM, SIGINT, SIGHUP}) {
      struct sigaction sa {};
      sa.sa_handler = kill_children_and_die;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
  for (auto& c : live_children) {
    pid_t free_slot = 0;
    if (c.compare_exchange_strong(free_slot, pid)) return;
  }
}

void untrack_child(pid_t pid) {
  for (auto& c : live_children) {
    pid_t mine = pid;
    if (c.compare_exchange_strong(mine, 0)) return;
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

child::child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  static std::atomic<int> n{0};
  err_path_ = (std::filesystem::temp_directory_path() / ("nf-child-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".err")).string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::vector<std::string> storage;
  auto envp = make_env(env, storage);
  const int rc = posix_spawn(&pid_, cargs[0], &fa, nullptr, cargs.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  out_fd_ = out_pipe[0];
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc) + " for " + argv[0]);
  track_child(pid_);
}

child::~child() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    untrack_child(pid_);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  // A sanitizer report from the child (scripts/test.sh --sanitize) fails the test binary, whether
  // or not the test looked at the child's exit code.
  const auto err = slurp(err_path_);
  for (const char* mark : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: "})
    if (const auto at = err.find(mark); at != std::string::npos) {
      std::fprintf(stderr, "sanitizer report from child pid %d:\n%s\n", pid_, err.substr(at > 200 ? at - 200 : 0, 8000).c_str());
      std::fflush(stderr);
      std::_Exit(97);
    }
  std::error_code ec;
  std::filesystem::remove(err_path_, ec);
}

bool child::read_line(std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char tmp[4096];
    const auto n = ::read(out_fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

void child::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

int child::wait(std::chrono::milliseconds timeout) {
  if (exited_) return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  const bool done = wait_until([&] { return ::waitpid(pid_, &status_, WNOHANG) == pid_; }, timeout);
  if (!done) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  untrack_child(pid_);
  exited_ = true;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

std::string child::stderr_text() { return slurp(err_path_); }

run_result run(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::chrono::seconds timeout) {
  child c(argv, env);
  run_result r;
  std::string line;
  while (c.read_line(line, timeout)) r.out += line + "\n";
  r.exit_code = c.wait(timeout);
  r.err = c.stderr_text();
  return r;
}

std::string nexus_forge_binary() {
  // NF_TEST_BINARY runs the system tests against another build (e.g. an older one, to show that
  // a regression test fails there).
  if (const char* other = std::getenv("NF_TEST_BINARY"); other && *other) return other;
  return NF_BINARY;
}
std::string vectors_dir() { return NF_VECTORS_DIR; }

std::string uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-8000-%012d", n);
  return buf;
}

}  // namespace nf::test
