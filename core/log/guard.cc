// guarded(): catch, log and count at the top of a thread's loop.
#include "core/log/guard.h"

#include <exception>
#include <string>

#include "core/base/text.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::log {

bool guarded(std::string_view thread, const std::function<void()>& fn) noexcept {
  std::string what;
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception of unknown type";
  }
  try {
    metrics::registry::global()
        .get_counter("nf_thread_errors_total", "Exceptions caught at the top of a server thread (logged, not fatal)",
                     {{"thread", std::string(thread)}})
        .inc();
    get("guard")->error("thread {} caught: {}", thread, sanitize_utf8(what));
  } catch (...) {
    // Logging itself failed (out of memory): nothing more can be done, and nothing may escape.
  }
  return false;
}

}  // namespace nf::log
