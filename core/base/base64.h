// Base64 (RFC 4648 section 4, padded) and base64url (section 5, unpadded) on OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nf {

std::string to_base64(std::string_view bytes);
std::string to_base64url(std::string_view bytes);
// nullopt for anything but padded standard base64 (no whitespace).
std::optional<std::string> from_base64(std::string_view text);
// nullopt for anything but unpadded base64url.
std::optional<std::string> from_base64url(std::string_view text);

}  // namespace nf
