// fpm-consumer core: rate-limited log lines for ERSPAN collectors that this
// VTEP cannot route to. The dataplane counts every copy it drops for want of
// a route (ErspanCounters::no_route); one log line per drop would flood the
// log at line rate, so a collector gets at most one line per interval,
// carrying the number of copies dropped since its previous line. Pure: the
// caller passes the counters and the time (tests inject both).
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace evpnmon::consumer {

class NoRouteLog {
public:
	using Clock = std::chrono::steady_clock;
	using Snapshot = std::vector<std::pair<dp::Erspan, dp::ErspanCounters>>;

	explicit NoRouteLog(Clock::duration interval = std::chrono::seconds(10))
	    : interval_(interval)
	{
	}

	// What the dataplane had counted before this process started (pinned
	// maps adopted after a restart): not reported, the counters show it.
	// Destinations first seen later start from zero.
	void prime(const Snapshot &counters);

	// The dataplane's current counters; returns the lines to log now:
	// "collector 10.9.0.1 (span 7): no route from this VTEP, N copies
	// dropped". A collector whose copies keep being dropped gets a line
	// at most once per interval; drops in between are summed into its
	// next line. Destinations no longer listed are forgotten.
	std::vector<std::string> observe(const Snapshot &counters, Clock::time_point now);

private:
	struct State {
		std::uint64_t reported = 0; // no_route value covered by the last line
		bool logged = false;
		Clock::time_point last_line{};
	};
	Clock::duration interval_;
	std::map<dp::Erspan, State> state_;
};

// "10.9.0.1" / "2001:db8::1": the collector as logs and labels show it.
std::string collector_text(const dp::Erspan &erspan);

} // namespace evpnmon::consumer
