// fpm-consumer core: a session as the C route of proto/session, so that the
// consumer validates and names sessions with the one codec bgpd uses
// (evpn_mon_validate(), evpn_mon_session_id()) instead of rules of its own.
#pragma once

#include "core/model.hpp"

#include "evpn_mon_codec.h"

#include <string>

namespace evpnmon::consumer {

// The route's fields from the session (RD and flags left zero: the consumer
// keeps the RD as text, and neither takes part in validation or identity).
evpn_mon_route to_route(const Session &session);
// Key fields only (no server, no options): what the identity is made of.
evpn_mon_route to_route(const SessionKey &key);

// evpn_mon_validate() of the session's route, then its options.
std::string validation_error(const Session &session);

// evpn_mon_session_id() of the key: "ORIGINATOR/VNI/HOST-ID/HOST-MAC/HOST-IP".
std::string make_session_id(const SessionKey &key);

} // namespace evpnmon::consumer
