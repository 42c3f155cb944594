// make_dataplane(): backend selection; the names of Config::tc_hook.
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

std::optional<TcHook> parse_tc_hook(std::string_view text)
{
	if (text == "auto")
		return TcHook::Auto;
	if (text == "tcx")
		return TcHook::Tcx;
	if (text == "clsact")
		return TcHook::Clsact;
	return std::nullopt;
}

const char *tc_hook_name(TcHook hook)
{
	switch (hook) {
	case TcHook::Tcx:
		return "tcx";
	case TcHook::Clsact:
		return "clsact";
	case TcHook::Auto:
		break;
	}
	return "auto";
}

} // namespace evpnmon::dp
