// Signed tree heads: {tree_size, root_hash, timestamp} signed with Ed25519. The key pair lives in
// a PEM file (created with mode 0600 on first use). The signed bytes are fixed so any Ed25519
// implementation can check a head: "nexus-forge tree head v1\n" || size (8 bytes, big endian) ||
// root (32 bytes) || timestamp in unix ms (8 bytes, big endian).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/merkle/merkle.h"

namespace nf::merkle {

struct tree_head {
  std::uint64_t size = 0;
  hash root{};
  std::int64_t timestamp_ms = 0;
  std::string signature;  // 64 bytes
};

std::string signing_bytes(const tree_head& h);

class signer {
 public:
  // Loads the private key at `path`, or creates one there (mode 0600) if the file is absent.
  static result<std::unique_ptr<signer>> load_or_create(const std::string& path);
  // Loads an existing key only (not_found when the file is absent).
  static result<std::unique_ptr<signer>> load(const std::string& path);
  ~signer();
  result<std::string> sign(const tree_head& h) const;
  const std::string& public_key_pem() const { return public_pem_; }
  // SHA-256 of the public key's DER SubjectPublicKeyInfo (as a Certificate Transparency log id).
  const hash& key_id() const { return key_id_; }

 private:
  struct key;
  std::unique_ptr<key> key_;
  std::string public_pem_;
  hash key_id_{};
};

// The key id of a PEM public key.
result<hash> key_id(const std::string& public_key_pem);

// Checks a head's signature against a PEM public key.
result<bool> verify_head(const tree_head& h, const std::string& public_key_pem);

}  // namespace nf::merkle
