// Shared by the dataplane tests that build a switch of their own: a shell
// step that must succeed, and a main() that runs the doctest cases inside a
// private network namespace (everything created there disappears with the
// process).
#pragma once

#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>

namespace evpnmon::dp::test {

inline void sh(const std::string &cmd)
{
	if (std::system(cmd.c_str()) != 0)
		throw std::runtime_error("command failed: " + cmd);
}

// Root, a private netns, `build` (the switch), then the doctest cases.
inline int run_in_private_netns(const char *name, int argc, char **argv,
				const std::function<void()> &build)
{
	if (::geteuid() != 0) {
		std::cerr << name << ": needs root (netns, BPF)\n";
		return 1;
	}
	if (::unshare(CLONE_NEWNET) != 0) {
		std::perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	try {
		build();
	} catch (const std::exception &ex) {
		std::cerr << ex.what() << "\n";
		return 1;
	}
	doctest::Context ctx(argc, argv);
	return ctx.run();
}

} // namespace evpnmon::dp::test
