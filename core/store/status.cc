// rocksdb::Status -> nf::error conversion.
#include "core/store/status.h"

namespace nf::store {

error to_error(const rocksdb::Status& s, const std::string& context) {
  errc code = errc::io_error;
  if (s.IsNoSpace()) code = errc::no_space;
  else if (s.IsNotFound()) code = errc::not_found;
  else if (s.IsCorruption()) code = errc::corruption;
  else if (s.IsInvalidArgument()) code = errc::invalid_argument;
  else if (s.IsNotSupported()) code = errc::unsupported;
  else if (s.IsTimedOut()) code = errc::timeout;
  else if (s.IsBusy() || s.IsTryAgain()) code = errc::locked;
  else if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) code = errc::locked;
  return error{code, context + ": " + s.ToString()};
}

}  // namespace nf::store
