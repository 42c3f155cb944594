// make_dataplane(): backend selection.
#include <evpnmon/dataplane/dataplane.hpp>
#include <evpnmon/dataplane/memory.hpp>

#include <stdexcept>

namespace evpnmon::dp {

#ifdef EVPNMON_DP_HAVE_LINUX
std::unique_ptr<Dataplane> make_linux_dataplane(const Config &config);
#endif

std::unique_ptr<Dataplane> make_dataplane(const std::string &backend,
					  const Config &config)
{
	if (backend == "memory")
		return std::make_unique<MemoryDataplane>(config);
#ifdef EVPNMON_DP_HAVE_LINUX
	if (backend == "linux")
		return make_linux_dataplane(config);
#endif
	throw std::invalid_argument("dataplane backend '" + backend +
				    "' unknown (use \"linux\" or \"memory\")");
}

} // namespace evpnmon::dp
