// The last line of defence of every thread the server starts: what a thread cannot handle is
// logged and counted, never allowed to terminate the process.
#pragma once

#include <functional>
#include <string_view>

namespace nf::log {

// Runs `fn`. An exception escaping it is logged with `thread` (the thread's role, e.g.
// "audit-writer") and counted in nf_thread_errors_total{thread}; it never propagates.
// Returns false when `fn` threw.
bool guarded(std::string_view thread, const std::function<void()>& fn) noexcept;

}  // namespace nf::log
