#include "daemon/allocator.hpp"

#include <jemalloc/jemalloc.h>

#include <cstddef>

namespace evpnmon::consumer {

std::string allocator_summary()
{
	const char *version = nullptr, *thp = nullptr;
	std::size_t len = sizeof(const char *);
	std::string out = "heap: jemalloc";
	if (mallctl("version", &version, &len, nullptr, 0) == 0 && version)
		out += std::string(" ") + version;
	len = sizeof(const char *);
	if (mallctl("opt.thp", &thp, &len, nullptr, 0) == 0 && thp)
		out += std::string(", thp ") + thp;
	return out;
}

int release_free_memory()
{
#define EVPNMON_STR2(x) #x
#define EVPNMON_STR(x) EVPNMON_STR2(x)
	return mallctl("arena." EVPNMON_STR(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr,
		       0);
#undef EVPNMON_STR
#undef EVPNMON_STR2
}

} // namespace evpnmon::consumer
