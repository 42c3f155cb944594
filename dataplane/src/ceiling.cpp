#include <evpnmon/dataplane/dataplane.hpp>

#include <algorithm>
#include <stdexcept>

namespace evpnmon::dp {

std::uint64_t mirror_ceiling_burst_octets(const Config &config)
{
	if (config.mirror_ceiling_burst)
		return config.mirror_ceiling_burst;
	return std::clamp<std::uint64_t>(config.mirror_ceiling_bps / 8 / 100,
					 kMirrorCeilingBurstFloor, kMaxMirrorCeilingBurst);
}

void check_mirror_ceiling(const Config &config, const std::string &who)
{
	if (config.mirror_ceiling_burst > kMaxMirrorCeilingBurst)
		throw std::invalid_argument(who + ": mirror_ceiling_burst must be at most " +
					    std::to_string(kMaxMirrorCeilingBurst) + " octets");
}

} // namespace evpnmon::dp
