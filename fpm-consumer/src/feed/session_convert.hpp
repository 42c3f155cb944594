// Conversion of the feed's protobuf MonitorSession into the core's Session,
// with validation (bad input is rejected with a reason, never trusted).
#pragma once

#include "core/model.hpp"

#include <string>
#include <variant>

namespace evpnmon::feed::v1 {
class MonitorSession;
}

namespace evpnmon::consumer {

// Either a Session or the reason it was rejected.
std::variant<Session, std::string> from_proto(const evpnmon::feed::v1::MonitorSession &msg);
void to_proto(const Session &session, evpnmon::feed::v1::MonitorSession &msg);

} // namespace evpnmon::consumer
