// What the record trackers are told along with each decoded frame, and
// where they hand finished records.
#pragma once

#include "collector_records.pb.h"

#include <cstdint>
#include <functional>

namespace evpnmon::collector {
namespace v1 = ::evpnmon::collector::v1;
}

namespace evpnmon::collector::records {

// The mirror session the frame was copied for, its VNI (0 when the input
// has none) and the packet time (UNIX ns: the ERSPAN III original time when
// it can be rebuilt, else the receive time). `session` must stay valid for
// the call only: the trackers copy what they keep.
struct Context {
	const v1::SessionRef *session = nullptr;
	std::uint32_t vni = 0;
	std::uint64_t ts_ns = 0;
};

// Receives every record as soon as it is made (publisher, tests). Called
// synchronously from on_frame/expire/tick/close_all.
using Sink = std::function<void(v1::Envelope &&)>;

} // namespace evpnmon::collector::records
