// Security scan rules. Each is a linear scan of one line (lowercased where case does not matter).
#include "actors/marketplace/scan.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "actors/marketplace/manifest.h"

namespace nf::marketplace {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `w` at `at` in `s`, not inside a longer word.
bool word_at(std::string_view s, std::size_t at, std::string_view w) {
  if (s.compare(at, w.size(), w) != 0) return false;
  if (at > 0 && word_char(s[at - 1])) return false;
  const std::size_t end = at + w.size();
  return end >= s.size() || !word_char(s[end]);
}
// Every position of `w` as a word.
template <class F>
void each_word(std::string_view s, std::string_view w, F&& f) {
  for (std::size_t at = s.find(w); at != std::string_view::npos; at = s.find(w, at + 1))
    if (word_at(s, at, w)) f(at);
}
bool has_word(std::string_view s, std::string_view w) {
  bool found = false;
  each_word(s, w, [&](std::size_t) { found = true; });
  return found;
}
bool has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
template <std::size_t N>
bool has_any(std::string_view s, const std::array<std::string_view, N>& parts) {
  return std::any_of(parts.begin(), parts.end(), [&](std::string_view p) { return has(s, p); });
}

std::size_t run_of(std::string_view s, std::size_t at, bool (*ok)(char)) {
  std::size_t n = 0;
  while (at + n < s.size() && ok(s[at + n])) ++n;
  return n;
}
bool upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool token_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }
bool secret_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '+' || c == '='; }

// A prefix followed by at least `len` characters of `ok`, not inside a longer token.
bool prefixed_token(std::string_view line, std::string_view prefix, std::size_t len, bool (*ok)(char)) {
  for (std::size_t at = line.find(prefix); at != std::string_view::npos; at = line.find(prefix, at + 1)) {
    if (at > 0 && token_char(line[at - 1])) continue;
    if (run_of(line, at + prefix.size(), ok) >= len) return true;
  }
  return false;
}

bool aws_key_id(std::string_view line) {
  for (std::string_view p : {"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA"})
    for (std::size_t at = line.find(p); at != std::string_view::npos; at = line.find(p, at + 1)) {
      if (at > 0 && upper_or_digit(line[at - 1])) continue;
      if (run_of(line, at + 4, upper_or_digit) == 16) return true;
    }
  return false;
}

bool aws_secret(std::string_view line, std::string_view lower) {
  if (!has(lower, "aws_secret_access_key") && !has(lower, "secretaccesskey")) return false;
  for (std::size_t at = 0; at < line.size(); ++at) {
    if (at > 0 && secret_char(line[at - 1])) continue;
    if (run_of(line, at, secret_char) >= 40) return true;
  }
  return false;
}

// Whether the command after a pipe at `p` is an interpreter: [sudo [-opts]] [/bin/]sh|bash|...
bool interpreter_at(std::string_view lower, std::size_t p) {
  auto skip_spaces = [&] {
    while (p < lower.size() && (lower[p] == ' ' || lower[p] == '\t')) ++p;
  };
  skip_spaces();
  if (word_at(lower, p, "sudo")) {
    p += 4;
    skip_spaces();
    while (p < lower.size() && lower[p] == '-') {  // sudo's options
      while (p < lower.size() && lower[p] != ' ') ++p;
      skip_spaces();
    }
  }
  for (std::string_view dir : {"/usr/local/bin/", "/usr/bin/", "/bin/"})
    if (lower.compare(p, dir.size(), dir) == 0) {
      p += dir.size();
      break;
    }
  for (std::string_view sh : {"sh", "bash", "zsh", "dash", "ksh", "python", "python3", "node", "perl"})
    if (word_at(lower, p, sh)) return true;
  return false;
}

// curl/wget ... | [sudo] sh|bash|zsh|dash|ksh|python|node|perl, in one pass: each pipe is looked at
// once, after a download command and before a ';' or '&&' ends that command.
bool pipe_to_shell(std::string_view lower) {
  bool fetching = false;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    const char c = lower[i];
    if ((c == 'c' && word_at(lower, i, "curl")) || (c == 'w' && word_at(lower, i, "wget"))) fetching = true;
    if (c == ';' || (c == '&' && i + 1 < lower.size() && lower[i + 1] == '&')) fetching = false;
    if (c != '|') continue;
    if (i + 1 < lower.size() && lower[i + 1] == '|') {  // "||" is not a pipe
      ++i;
      fetching = false;
      continue;
    }
    if (fetching && interpreter_at(lower, i + 1)) return true;
  }
  return false;
}

bool eval_of_fetched(std::string_view lower) {
  static constexpr std::array<std::string_view, 10> fetched{"curl", "wget", "requests.get", "urlopen", "fetch(", "http://",
                                                            "https://", "urllib", "invoke-webrequest", "downloadstring"};
  if (has(lower, "<(curl") || has(lower, "<(wget") || (has(lower, "$(curl") && has_word(lower, "eval"))) return true;
  const bool runs = has_word(lower, "eval") || has_word(lower, "exec") || has_word(lower, "iex") || has_word(lower, "invoke-expression");
  return runs && has_any(lower, fetched);
}

bool touches_network(std::string_view lower) {
  static constexpr std::array<std::string_view, 14> parts{"http://", "https://", "requests.", "urllib", "urlopen", "fetch(", "xmlhttprequest",
                                                          "net.connect", "http.get(", "http.request(", "websocket", "socket(",
                                                          "socket.socket", "axios"};
  if (has_any(lower, parts)) return true;
  for (std::string_view w : {"curl", "wget", "netcat", "nc", "telnet", "ssh", "scp", "ftp", "dig", "nslookup"})
    if (has_word(lower, w) && !(w == "nc" && !has(lower, "nc -"))) return true;
  return false;
}

bool touches_shell(std::string_view lower, bool first_line) {
  if (first_line && lower.starts_with("#!") && (has(lower, "sh") || has(lower, "bash"))) return true;
  static constexpr std::array<std::string_view, 13> parts{"subprocess", "os.system", "os.popen", "child_process", "execsync", "spawn(",
                                                          "popen(", "/bin/sh", "/bin/bash", "sh -c", "bash -c", "runtime.getruntime",
                                                          "system("};
  return has_any(lower, parts);
}

// By token (split at blanks and quotes), once: a URL's path is the network's business.
bool touches_filesystem(std::string_view lower, bool first_line) {
  if (first_line && lower.starts_with("#!")) return false;  // the interpreter's path is not a file it touches
  static constexpr std::array<std::string_view, 12> parts{"/etc/", "/home/", "/root/", "/var/", "/usr/", "/proc/",
                                                          "/sys/", "/opt/", "~/", "$home", "../", "c:\\"};
  std::size_t at = 0;
  while (at < lower.size()) {
    const auto end = lower.find_first_of(" \t\"'`(),=", at);
    const auto token = lower.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (!has(token, "://") && has_any(token, parts)) return true;
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return false;
}

bool touches_environment(std::string_view line, std::string_view lower) {
  static constexpr std::array<std::string_view, 8> parts{"os.environ", "process.env", "getenv", "env[", "$env:", "printenv", "/proc/self/environ",
                                                         "system.getenv"};
  if (has_any(lower, parts)) return true;
  for (std::size_t at = line.find('$'); at != std::string_view::npos; at = line.find('$', at + 1)) {
    std::size_t p = at + 1;
    if (p < line.size() && line[p] == '{') ++p;
    if (p < line.size() && line[p] >= 'A' && line[p] <= 'Z') return true;
  }
  return false;
}

// Whether a symlink at `path` to `target` stays inside the package.
bool link_inside(const std::string& path, const std::string& target) {
  if (target.empty() || target[0] == '/' || target.find('\\') != std::string::npos) return false;
  std::vector<std::string> parts;
  // The link's directory, then the target's segments.
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  auto walk = [&parts](const std::string& s) {
    std::size_t at = 0;
    while (at <= s.size()) {
      const auto next = s.find('/', at);
      const std::string seg = s.substr(at, next == std::string::npos ? std::string::npos : next - at);
      if (seg == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      if (next == std::string::npos) break;
      at = next + 1;
    }
    return true;
  };
  return walk(dir) && walk(target);
}

}  // namespace

bool link_stays_inside(const std::string& path, const std::string& target) { return link_inside(path, target); }

bool looks_binary(std::string_view bytes) { return bytes.substr(0, 8000).find('\0') != std::string_view::npos; }

bool scan_report::passed() const {
  return std::none_of(findings.begin(), findings.end(), [](const finding& f) { return f.severity == "critical" || f.severity == "high"; });
}

scan_report scan(const std::vector<scan_file>& files, const scan_options& opts) {
  scan_report out;
  auto add = [&out](const std::string& file, std::uint32_t line, const char* rule, const char* severity, std::string message) {
    out.findings.push_back(finding{file, line, rule, severity, std::move(message)});
  };
  auto touch = [&out](const char* what, const std::string& file, std::uint32_t line) {
    if (out.touches.insert(what).second)
      out.evidence.push_back(finding{file, line, what, "review", std::string("first use of ") + what});
  };
  for (const auto& f : files) {
    if (!valid_package_path(f.path)) add(f.path, 0, "path-traversal", "high", "the path leaves the package (absolute, '..' or empty segment)");
    if (f.symlink) {
      if (!link_inside(f.path, *f.symlink))
        add(f.path, 0, "symlink-escape", "high", "a symbolic link to '" + *f.symlink + "', outside the package");
      continue;
    }
    if (looks_binary(f.bytes)) {
      if (f.bytes.size() > opts.max_binary_bytes)
        add(f.path, 0, "binary-size", "high",
            "a binary of " + std::to_string(f.bytes.size()) + " bytes (the limit is " + std::to_string(opts.max_binary_bytes) + ")");
      continue;
    }
    std::uint32_t line_no = 0;
    std::size_t at = 0;
    std::string lower;
    while (at < f.bytes.size()) {
      auto end = f.bytes.find('\n', at);
      if (end == std::string_view::npos) end = f.bytes.size();
      const std::string_view line = f.bytes.substr(at, end - at);
      at = end + 1;
      ++line_no;
      lower.assign(line);
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (has(lower, "-----begin ") && has(lower, "private key-----")) add(f.path, line_no, "private-key", "critical", "a private key");
      if (aws_key_id(line)) add(f.path, line_no, "cloud-access-key", "critical", "an AWS access key id");
      if (aws_secret(line, lower)) add(f.path, line_no, "cloud-access-key", "critical", "an AWS secret access key");
      if (prefixed_token(line, "ghp_", 30, token_char) || prefixed_token(line, "github_pat_", 30, token_char) ||
          prefixed_token(line, "gho_", 30, token_char) || prefixed_token(line, "ghs_", 30, token_char))
        add(f.path, line_no, "cloud-access-key", "critical", "a GitHub token");
      if (prefixed_token(line, "AIza", 35, key_char)) add(f.path, line_no, "cloud-access-key", "high", "a Google API key");
      if (prefixed_token(line, "xoxb-", 10, key_char) || prefixed_token(line, "xoxp-", 10, key_char))
        add(f.path, line_no, "cloud-access-key", "high", "a Slack token");
      if (pipe_to_shell(lower)) add(f.path, line_no, "pipe-to-shell", "high", "a download piped into an interpreter runs whatever the server sends");
      if (eval_of_fetched(lower)) add(f.path, line_no, "eval-fetched", "high", "evaluates or executes what it downloads");
      if (touches_network(lower)) touch(kTouchNetwork, f.path, line_no);
      if (touches_shell(lower, line_no == 1)) touch(kTouchShell, f.path, line_no);
      if (touches_filesystem(lower, line_no == 1)) touch(kTouchFilesystem, f.path, line_no);
      if (touches_environment(line, lower)) touch(kTouchEnvironment, f.path, line_no);
    }
  }
  return out;
}

std::vector<std::string> flag_gained(scan_report& report, const std::set<std::string>& previous, const std::string& previous_version) {
  std::vector<std::string> gained;
  for (const auto& t : report.touches) {
    if (previous.count(t)) continue;
    gained.push_back(t);
    finding f{"", 0, "capability-gained", "review", "touches " + t + ", which " + previous_version + " did not"};
    for (const auto& e : report.evidence)
      if (e.rule == t) {
        f.file = e.file;
        f.line = e.line;
      }
    report.findings.push_back(std::move(f));
  }
  return gained;
}

}  // namespace nf::marketplace
