// libFuzzer target: what bgpd's feed hands the consumer (untrusted enough:
// another process, another version, a bug) through the protobuf decoder and
// session_convert, with the options area decoded by proto/session.
// The first byte picks the input's shape:
//   0: a whole FeedMessage (Snapshot, Delta, Heartbeat), as the client gets it;
//   1: a valid session whose options area is the rest of the input (reaches
//      the TLV decoder without going through protobuf's own checks);
//   2: a MonitorSession alone;
//   3: a valid collector session (feed version 3) whose options area is the
//      rest of the input (the ERSPAN TLV next to a profile's).
// Properties beyond "no crash, no sanitizer report": an accepted session
// converts back to the feed and again to an equal session (its options
// survive the canonical encoding), a withdrawal never needs more than
// what an update needs, and an accepted session is a collector session
// exactly when the feed said so, with the ERSPAN parameters exactly then.
#include "feed/session_convert.hpp"
#include "monitor_feed.pb.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

namespace {

namespace pb = evpnmon::feed::v1;
using evpnmon::consumer::Rejection;
using evpnmon::consumer::Session;

void check(bool ok)
{
	if (!ok)
		std::abort();
}

void convert(const pb::MonitorSession &m)
{
	const auto update = evpnmon::consumer::from_proto(m);
	const auto withdraw = evpnmon::consumer::from_proto(m, true);
	if (const auto *s = std::get_if<Session>(&update)) {
		check(std::holds_alternative<Session>(withdraw));
		check(std::get<Session>(withdraw).key == s->key);
		check(!s->id.empty());
		check(s->is_collector() == (m.collector_id() != 0));
		check(s->options.has_erspan() == s->is_collector());
		check(!s->is_collector() || s->server_ip.has_value());
		pb::MonitorSession again;
		evpnmon::consumer::to_proto(*s, again);
		const auto back = evpnmon::consumer::from_proto(again);
		check(std::holds_alternative<Session>(back));
		check(std::get<Session>(back) == *s);
	} else {
		const auto &why = std::get<Rejection>(update);
		check(!why.reason.empty() && !why.session.empty());
	}
}

pb::MonitorSession template_session()
{
	pb::MonitorSession m;
	m.set_vni(100);
	m.set_host_mac(std::string("\x02\x00\x00\x00\x02\x10", 6));
	m.set_host_id(21);
	m.set_server_mac(std::string("\x02\x00\x00\x00\x00\x21", 6));
	m.set_server_ip(std::string("\x0a\x00\x00\x15", 4));
	m.set_rd("10.0.0.101:2");
	m.set_originator(std::string("\x0a\x00\x00\x65", 4));
	return m;
}

pb::MonitorSession template_collector_session()
{
	pb::MonitorSession m = template_session();
	m.set_host_id(0);
	m.set_collector_id(7);
	m.clear_server_mac();
	m.set_server_ip(std::string("\x0a\x09\x00\x01", 4));
	m.set_session_id("10.0.0.101/100/c7/02:00:00:00:02:10/-");
	return m;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0)
		return 0;
	const std::uint8_t mode = data[0] % 4;
	const char *rest = reinterpret_cast<const char *>(data + 1);
	const int n = static_cast<int>(size - 1);
	switch (mode) {
	case 0: {
		pb::FeedMessage msg;
		if (!msg.ParseFromArray(rest, n))
			return 0;
		if (msg.has_snapshot())
			for (const auto &m : msg.snapshot().sessions())
				convert(m);
		if (msg.has_delta())
			convert(msg.delta().session());
		break;
	}
	case 1: {
		auto m = template_session();
		m.set_options(std::string(rest, static_cast<std::size_t>(n)));
		convert(m);
		break;
	}
	case 2: {
		pb::MonitorSession m;
		if (m.ParseFromArray(rest, n))
			convert(m);
		break;
	}
	case 3: {
		auto m = template_collector_session();
		m.set_options(std::string(rest, static_cast<std::size_t>(n)));
		convert(m);
		break;
	}
	}
	return 0;
}
