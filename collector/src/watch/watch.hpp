// `evpnmon-collector watch`: a subscriber of the record stream. Without
// --json, a table of the sessions (counters, sources) and the latest TCP and
// RoCEv2 records, redrawn in place with ANSI escapes when stdout is a
// terminal (works over ssh), printed plain otherwise. With --json, one JSON
// object per line per received Envelope (protobuf's JSON mapping, proto
// field names). --count N / --timeout S end it.
#pragma once

#include "collector_records.pb.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace evpnmon::collector {

// argv[0] = "watch". Returns the process exit code: 0 done (--count reached,
// --timeout without --count, SIGINT/SIGTERM), 1 runtime error (bad
// endpoint), 2 usage error, 3 --timeout before --count envelopes.
int watch_main(int argc, char **argv);

} // namespace evpnmon::collector

namespace evpnmon::collector::watch {

inline constexpr const char *kDefaultEndpoint = "tcp://127.0.0.1:9520";

// One line of --json output, without the newline: protobuf JSON mapping with
// the .proto field names, default values printed, enums as names, 64-bit
// integers as strings (the mapping's rule).
std::string to_json_line(const v1::Envelope &envelope);

// What the table shows, folded from the envelopes received.
class View {
public:
	explicit View(std::size_t max_records = 20) : max_records_(max_records) {}
	void apply(const v1::Envelope &envelope);
	// The whole screen. `width` 0 = no truncation; `rows` 0 = no limit
	// (the record lists are shortened to fit).
	std::string render(std::size_t width = 0, std::size_t rows = 0) const;
	std::uint64_t received() const { return received_; }
	const std::map<std::string, v1::SessionStats> &sessions() const { return sessions_; }

private:
	std::size_t max_records_;
	std::uint64_t received_ = 0;
	std::map<std::string, v1::SessionStats> sessions_; // by name
	v1::CollectorStatus status_;
	bool have_status_ = false;
	std::deque<v1::TcpRecord> tcp_;   // newest first
	std::deque<v1::RoceRecord> roce_; // newest first (one per QP key, latest)
};

} // namespace evpnmon::collector::watch
