// evpnmon-hookattach OBJ DEV tcx|clsact PIN_DIR: attaches the first program of
// a BPF object to DEV's TC ingress hook with the backend's own attach code
// (the reference rows of bench_linux.sh: an empty program on each
// mechanism), prints "ready" and detaches when stdin closes.
#include "linux/bpf_object.hpp"
#include "linux/tc_filter.hpp"

#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

int main(int argc, char **argv)
{
	if (argc != 5) {
		std::fprintf(stderr, "usage: evpnmon-hookattach OBJ DEV tcx|clsact PIN_DIR\n");
		return 2;
	}
	bpf_object *obj = bpf_object__open_file(argv[1], nullptr);
	if (!obj || bpf_object__load(obj)) {
		std::fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	const int prog = bpf_program__fd(bpf_object__next_program(obj, nullptr));
	const auto hook = evpnmon::dp::parse_tc_hook(argv[3]);
	const int ifindex = static_cast<int>(if_nametoindex(argv[2]));
	if (!hook || !ifindex) {
		std::fprintf(stderr, "bad hook or device\n");
		return 2;
	}
	evpnmon::dp::linux_dp::ensure_bpffs(argv[4]);
	std::filesystem::create_directories(argv[4]);
	{
		evpnmon::dp::linux_dp::TcFilter f(ifindex, prog, argv[2], false, *hook, argv[4]);
		std::printf("ready %s\n", evpnmon::dp::tc_hook_name(f.hook()));
		std::fflush(stdout);
		char c;
		while (::read(0, &c, 1) > 0) {
		}
	}
	std::filesystem::remove(argv[4]);
	bpf_object__close(obj);
	return 0;
}
