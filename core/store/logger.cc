// A rocksdb::Logger that forwards to spdlog.
#include "core/store/logger.h"

#include <cstdarg>
#include <cstdio>

#include "core/log/log.h"

namespace nf::store {
namespace {

class spdlog_logger final : public rocksdb::Logger {
 public:
  explicit spdlog_logger(const std::string& name)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), log_(nf::log::get("rocksdb." + name)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    std::vsnprintf(buf, sizeof buf, format, copy);
    va_end(copy);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) log_->error("{}", buf);
    else log_->warn("{}", buf);
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> make_logger(const std::string& name) { return std::make_shared<spdlog_logger>(name); }

}  // namespace nf::store
