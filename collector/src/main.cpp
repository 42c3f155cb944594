// evpnmon-collector: `run` receives mirrored copies (ERSPAN, VXLAN-GBP, a
// monitoring server's port) into per-session pcapng and a record stream;
// `watch` subscribes to that stream.
#include "daemon/daemon.hpp"
#include "watch/watch.hpp"

#include <cstring>
#include <iostream>

namespace {

void usage(std::ostream &out)
{
	out << "usage: evpnmon-collector run --dir DIR [--erspan] [--vxlan-port N] [--port-capture IFNAME] "
	       "[options]   (run --help)\n"
	       "       evpnmon-collector watch [--connect EP] [--json] [--count N] [--timeout S]   "
	       "(watch --help)\n";
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(std::cerr);
		return 2;
	}
	const char *cmd = argv[1];
	if (std::strcmp(cmd, "run") == 0)
		return evpnmon::collector::run_main(argc - 1, argv + 1);
	if (std::strcmp(cmd, "watch") == 0)
		return evpnmon::collector::watch_main(argc - 1, argv + 1);
	if (std::strcmp(cmd, "--version") == 0) {
		std::cout << "evpnmon-collector " EVPNMON_VERSION "\n";
		return 0;
	}
	if (std::strcmp(cmd, "-h") == 0 || std::strcmp(cmd, "--help") == 0) {
		usage(std::cout);
		return 0;
	}
	std::cerr << "evpnmon-collector: unknown command '" << cmd << "'\n";
	usage(std::cerr);
	return 2;
}
