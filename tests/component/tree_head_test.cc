// Signed tree heads: key file handling, signatures, and an independent check with the openssl CLI.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "core/merkle/tree_head.h"
#include "tests/support/support.h"

namespace {

using namespace nf::merkle;
namespace t = nf::test;

tree_head sample() {
  memory_tree tree;
  for (int i = 0; i < 5; ++i) tree.append("leaf" + std::to_string(i));
  tree_head h;
  h.size = 5;
  h.root = *root(tree, 5);
  h.timestamp_ms = 1'767'323'045'123;
  return h;
}

TEST(TreeHead, KeyIsCreatedPrivateAndReloadedUnchanged) {
  t::temp_dir dir;
  const auto path = (dir.path() / "ledger.key").string();
  auto s1 = signer::load_or_create(path);
  ASSERT_TRUE(s1) << s1.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto s2 = signer::load_or_create(path);
  ASSERT_TRUE(s2);
  EXPECT_EQ((*s1)->public_key_pem(), (*s2)->public_key_pem());
  auto h = sample();
  h.signature = *(*s1)->sign(h);
  EXPECT_EQ(h.signature.size(), 64u);
  EXPECT_TRUE(*verify_head(h, (*s2)->public_key_pem()));
}

TEST(TreeHead, AnyChangedFieldFailsVerification) {
  t::temp_dir dir;
  auto s = signer::load_or_create((dir.path() / "k.pem").string());
  ASSERT_TRUE(s);
  auto h = sample();
  h.signature = *(*s)->sign(h);
  auto changed = h;
  changed.size = 6;
  EXPECT_FALSE(*verify_head(changed, (*s)->public_key_pem()));
  changed = h;
  changed.root[31] ^= 1;
  EXPECT_FALSE(*verify_head(changed, (*s)->public_key_pem()));
  changed = h;
  changed.timestamp_ms += 1;
  EXPECT_FALSE(*verify_head(changed, (*s)->public_key_pem()));
  changed = h;
  changed.signature[0] ^= 1;
  EXPECT_FALSE(*verify_head(changed, (*s)->public_key_pem()));
  auto other = signer::load_or_create((dir.path() / "other.pem").string());
  EXPECT_FALSE(*verify_head(h, (*other)->public_key_pem()));
  EXPECT_FALSE(verify_head(h, "not a key"));
}

TEST(TreeHead, TheOpensslCommandLineVerifiesOurSignature) {
  t::temp_dir dir;
  auto s = signer::load_or_create((dir.path() / "k.pem").string());
  ASSERT_TRUE(s);
  auto h = sample();
  h.signature = *(*s)->sign(h);
  const auto pub = (dir.path() / "pub.pem").string(), msg = (dir.path() / "head.bin").string(),
             sig = (dir.path() / "head.sig").string();
  std::ofstream(pub) << (*s)->public_key_pem();
  std::ofstream(msg, std::ios::binary) << signing_bytes(h);
  std::ofstream(sig, std::ios::binary) << h.signature;
  auto ok = t::run({"/usr/bin/openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("Signature Verified Successfully"), std::string::npos) << ok.out;
  auto tampered = h;
  tampered.size += 1;
  std::ofstream(msg, std::ios::binary | std::ios::trunc) << signing_bytes(tampered);
  auto bad = t::run({"/usr/bin/openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig});
  EXPECT_NE(bad.exit_code, 0);
}

TEST(TreeHead, AFileThatIsNotAnEd25519KeyIsRefused) {
  t::temp_dir dir;
  const auto path = (dir.path() / "k.pem").string();
  std::ofstream(path) << "hello";
  auto s = signer::load_or_create(path);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not an Ed25519 private key"), std::string::npos);
}

}  // namespace
