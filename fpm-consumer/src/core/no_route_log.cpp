#include "core/no_route_log.hpp"

#include "core/model.hpp"

namespace evpnmon::consumer {

std::string collector_text(const dp::Erspan &erspan)
{
	return format_ip(erspan.collector);
}

void NoRouteLog::prime(const Snapshot &counters)
{
	for (const auto &[dest, c] : counters)
		state_[dest].reported = c.no_route;
}

std::vector<std::string> NoRouteLog::observe(const Snapshot &counters, Clock::time_point now)
{
	std::vector<std::string> lines;
	std::map<dp::Erspan, State> next;
	for (const auto &[dest, c] : counters) {
		State st;
		if (auto it = state_.find(dest); it != state_.end())
			st = it->second;
		// A counter that went back (the destination's slot was freed and
		// made again) counts from zero.
		if (c.no_route < st.reported)
			st.reported = 0;
		const std::uint64_t dropped = c.no_route - st.reported;
		if (dropped > 0 && (!st.logged || now - st.last_line >= interval_)) {
			lines.push_back("collector " + collector_text(dest) + " (span " +
					std::to_string(dest.span_id) +
					"): no route from this VTEP, " + std::to_string(dropped) + " copies dropped");
			st.reported = c.no_route;
			st.logged = true;
			st.last_line = now;
		}
		next.emplace(dest, st);
	}
	state_ = std::move(next);
	return lines;
}

} // namespace evpnmon::consumer
