// `evpnmon-collector run`: the inputs, the Collector, the record publisher
// and the metrics endpoint on one epoll loop (one thread). SIGTERM/SIGINT
// stop it cleanly: SHUTDOWN records, files closed with their ISBs, exit 0.
#pragma once

namespace evpnmon::collector {

// argv[0] = "run". Exit code: 0 stopped by a signal, 1 runtime error
// (an input or the publisher did not open), 2 usage error.
int run_main(int argc, char **argv);

} // namespace evpnmon::collector
