#include "daemon/huge_page_heap.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace evpnmon::consumer {

namespace {

// "always [madvise] never": the bracketed word is the mode.
bool thp_on_request()
{
	std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
	std::string modes;
	std::getline(f, modes);
	return modes.find("[madvise]") != std::string::npos;
}

} // namespace

void use_huge_page_heap(char **argv)
{
	if (std::getenv("GLIBC_TUNABLES") != nullptr || !thp_on_request())
		return;
	// The program's own path, not /proc/self/exe: the kernel names the
	// process after the file executed (comm), which pidof, pgrep, ps and
	// the journal show.
	std::error_code ec;
	const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
	if (ec || ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 0) != 0)
		return;
	::execv(self.c_str(), argv);
	::unsetenv("GLIBC_TUNABLES"); // not re-executed: as we were
}

} // namespace evpnmon::consumer
