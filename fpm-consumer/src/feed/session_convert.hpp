// Conversion of the feed's protobuf MonitorSession into the core's Session.
// The feed is bgpd's, but a session is still validated before it is
// trusted, by the one validator bgpd uses too (proto/session:
// evpn_mon_validate() on the route the feed fields make, Options::decode()
// on the options area). A session that fails is refused, never guessed at.
#pragma once

#include "core/model.hpp"

#include <string>
#include <variant>

namespace evpnmon::feed::v1 {
class MonitorSession;
}

namespace evpnmon::consumer {

// The feed protocol version this consumer speaks (monitor_feed.proto,
// enum Version): sends it in Request.version, understands every field up
// to it. A bgpd that sends no version is a version-1 bgpd.
inline constexpr std::uint32_t kFeedVersion = 4;

// Why a session of the feed was refused, for the log and the counters.
struct Rejection {
	std::string session; // its id if it could be formed, else its raw fields
	std::string reason;
	bool options = false; // the options area is what failed
};

// Either a Session or the reason it was refused. The session id is the
// feed's (version 2), or computed from the key fields when the feed has
// none (version 1). A MonitorSession with a collector_id (version 3) is a
// collector session: host_id 0, no server MAC, server_ip = the collector,
// options with the ERSPAN TLV; anything else is refused. The import
// decision (version 4) is taken as bgpd sends it; a state this consumer
// does not know is held as Denied (never installed), and the reason is
// made printable and bounded (it ends up in logs and JSON).
// `withdraw` (a Delta DEL): only the key has to be valid;
// the server and the options are not looked at, so that a session always
// goes away when bgpd says so.
std::variant<Session, Rejection> from_proto(const evpnmon::feed::v1::MonitorSession &msg,
					    bool withdraw = false);
// `version` < 2: leave out what a version-1 bgpd did not send (options,
// session_id), for tests that play an old bgpd. A collector session is
// written as version 3 has it, whatever `version`; the import decision
// only from version 4.
void to_proto(const Session &session, evpnmon::feed::v1::MonitorSession &msg,
	      std::uint32_t version = kFeedVersion);

} // namespace evpnmon::consumer
