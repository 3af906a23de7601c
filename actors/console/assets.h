// The web console's files as the binary carries them. console/build.mjs bundles console/ (the
// single-page app) and writes them, with their gzip forms and entity tags, into a generated
// source (console_assets.cc in the build tree); nothing is read from disk at run time.
#pragma once

#include <span>
#include <string_view>

namespace nf::console {

struct asset {
  std::string_view path;          // "/" for the page, "/assets/<name>-<hash>.<ext>" for the rest
  std::string_view content_type;
  std::string_view etag;          // a strong entity tag: the content's SHA-256, quoted
  std::string_view body;
  std::string_view gzip;          // the body gzip-compressed (empty when that is not smaller)
  bool immutable = false;         // its name carries its content hash: cacheable for a year
};

std::span<const asset> assets();

}  // namespace nf::console
