// Test helpers: temporary directories, waiting on a condition with a deadline, running the CLI.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace nf::test {

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Polls `pred` until it holds or `timeout` passes; returns its last value. Waiting on a
// condition with a deadline, not sleeping for a guessed duration.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program to completion with extra environment variables; captures stdout and stderr.
run_result run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               std::chrono::seconds timeout = std::chrono::seconds(60));

// A child process running in the background; killed with SIGKILL when destroyed.
class child {
 public:
  child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  int pid() const { return pid_; }
  // Reads one line of the child's stdout (blocking up to timeout); false on EOF or timeout.
  bool read_line(std::string& line, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string stderr_text();

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string buf_;
  bool exited_ = false;
  int status_ = 0;
};

// A UUID-shaped id numbered n ("01900000-0000-7000-8000-<n, 12 digits>"), for test missions.
std::string uuid(int n);

// Path of the nexus-forge binary under test ($NF_TEST_BINARY when set).
std::string nexus_forge_binary();
// Directory of reference vectors.
std::string vectors_dir();

}  // namespace nf::test
