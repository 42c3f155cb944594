// fpm-consumer core: the engine's state as RFC 7951 JSON, shaped by
// yang/evpn-monitor.yang (container fpm-consumer, config false).
#pragma once

#include "core/engine.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace evpnmon::consumer {

using Counter = std::pair<std::string, std::uint64_t>;

// "kind" of an entry in the state (YANG enumeration): mirror-source,
// mirror-dest, decap.
const char *entry_kind_name(dp::EntryKind kind);
nlohmann::json session_json(const SessionView &view, const dp::Dataplane *dataplane);
nlohmann::json entry_json(const dp::EntryKey &key, const EntrySpec &spec,
			  const dp::Dataplane *dataplane);
std::vector<Counter> engine_counters(const Engine &engine);
// The dataplane's trust counters: decapsulation drops by reason, the
// mirror ceiling.
std::vector<Counter> dataplane_counters(const dp::Dataplane &dataplane);
// The ERSPAN destinations in use (installed entries, and the dataplane's
// Dataplane::erspan_counters()) with their counters.
nlohmann::json collectors_json(const Engine &engine, const dp::Dataplane *dataplane);
nlohmann::json counters_json(const std::vector<Counter> &counters);

// What a state document holds. Status: the gates and the counters only (no
// per-session view is computed, no entry listed); Full: also sessions,
// entries, collectors.
enum class StateParts { Full, Status };

// Inner object of "evpn-monitor:fpm-consumer" (gates, sessions, entries,
// collectors, counters; with StateParts::Status gates and counters). The
// daemon adds its "fpm" and "feed" containers.
nlohmann::json engine_state_json(const Engine &engine, const dp::Dataplane *dataplane,
				 const std::vector<Counter> &extra_counters = {},
				 StateParts parts = StateParts::Full);

} // namespace evpnmon::consumer
