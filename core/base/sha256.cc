#include "core/base/sha256.h"

#include <openssl/evp.h>

#include <memory>

#include "core/base/hex.h"

namespace nf {

sha256_digest sha256(std::string_view data) {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> owned(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  sha256_digest out{};
  unsigned int len = 0;
  EVP_DigestInit_ex(owned.get(), md, nullptr);
  EVP_DigestUpdate(owned.get(), data.data(), data.size());
  EVP_DigestFinal_ex(owned.get(), out.data(), &len);
  return out;
}

std::string sha256_hex(std::string_view data) {
  const auto md = sha256(data);
  return to_hex(std::string_view(reinterpret_cast<const char*>(md.data()), md.size()));
}

}  // namespace nf
