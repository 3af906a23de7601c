// Opens the bus that a configuration names: embedded (under <data_dir>/bus) or kafka.
#pragma once

#include <memory>

#include "core/bus/bus.h"
#include "core/config/config.h"

namespace nf::bus {

enum class access { owner, read_only };


struct embedded_options;
// The embedded bus options a configuration names (under <data_dir>/bus).
embedded_options embedded_options_of(const config::config& cfg, access mode);

// read_only opens the embedded store as a reader beside a running owner; Kafka ignores it.
result<std::unique_ptr<event_bus>> open_bus(const config::config& cfg, access mode);

// Creates every topic listed in the configuration that does not exist yet.
result<void> ensure_topics(event_bus& bus, const config::config& cfg);

}  // namespace nf::bus
