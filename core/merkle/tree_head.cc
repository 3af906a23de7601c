// Ed25519 tree-head signing through OpenSSL EVP.
#include "core/merkle/tree_head.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace nf::merkle {
namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

void put_be64(std::string& s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string public_pem(EVP_PKEY* k) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), k);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

hash der_key_id(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k, &der);
  if (n <= 0) return hash{};
  auto h = sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return h;
}

}  // namespace

struct signer::key {
  pkey_ptr pkey;
};

std::string signing_bytes(const tree_head& h) {
  std::string s = "nexus-forge tree head v1\n";
  put_be64(s, h.size);
  s.append(reinterpret_cast<const char*>(h.root.data()), h.root.size());
  put_be64(s, static_cast<std::uint64_t>(h.timestamp_ms));
  return s;
}

signer::~signer() = default;

result<std::unique_ptr<signer>> signer::load_or_create(const std::string& path) {
  auto out = std::unique_ptr<signer>(new signer());
  out->key_ = std::make_unique<key>();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    bio_ptr bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) return error{errc::io_error, "cannot read signing key '" + path + "'"};
    out->key_->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!out->key_->pkey || EVP_PKEY_get_id(out->key_->pkey.get()) != EVP_PKEY_ED25519)
      return error{errc::invalid_argument, "'" + path + "' is not an Ed25519 private key in PEM form"};
  } else {
    out->key_->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!out->key_->pkey) return error{errc::internal, "cannot generate an Ed25519 key"};
    // Create the file with mode 0600 before any key byte is written.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return error{errc::io_error, "cannot create signing key '" + path + "': " + std::strerror(errno)};
    bio_ptr bio(BIO_new_fd(fd, BIO_CLOSE));
    if (!PEM_write_bio_PrivateKey(bio.get(), out->key_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr))
      return error{errc::io_error, "cannot write signing key '" + path + "'"};
    (void)BIO_flush(bio.get());
    ::fsync(fd);
  }
  out->public_pem_ = public_pem(out->key_->pkey.get());
  out->key_id_ = der_key_id(out->key_->pkey.get());
  return out;
}

result<std::unique_ptr<signer>> signer::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return error{errc::not_found, "no signing key at '" + path + "'"};
  return load_or_create(path);
}

result<std::string> signer::sign(const tree_head& h) const {
  const std::string msg = signing_bytes(h);
  std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1)
    return error{errc::internal, "Ed25519 signing failed"};
  sig.resize(len);
  return sig;
}

result<hash> key_id(const std::string& public_key_pem) {
  bio_ptr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  pkey_ptr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pub) return error{errc::invalid_argument, "not a public key in PEM form"};
  return der_key_id(pub.get());
}

result<bool> verify_head(const tree_head& h, const std::string& public_key_pem) {
  bio_ptr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  pkey_ptr pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pub || EVP_PKEY_get_id(pub.get()) != EVP_PKEY_ED25519) return error{errc::invalid_argument, "not an Ed25519 public key in PEM form"};
  const std::string msg = signing_bytes(h);
  std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pub.get()) != 1) return error{errc::internal, "Ed25519 verify init failed"};
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(h.signature.data()), h.signature.size(),
                          reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

}  // namespace nf::merkle
