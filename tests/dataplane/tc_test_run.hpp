// Shared by the dataplane tests that run the backend's own TC programs with
// BPF_PROG_TEST_RUN (test_bpf, test_erspan): the program attached on a
// device, and one run of a program on a frame.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace evpnmon::dp::test {

// The program the backend attached on a device's TC hook (tcx or clsact),
// as a new fd. `name`: the program's function; the kernel keeps its first
// BPF_OBJ_NAME_LEN - 1 characters.
inline int attached_prog(const std::string &dev, bool egress, const std::string &name)
{
	const std::uint32_t id =
	    attached_program_id(static_cast<int>(if_nametoindex(dev.c_str())), egress);
	if (!id)
		throw std::runtime_error("no program attached on " + dev);
	const int fd = bpf_prog_get_fd_by_id(id);
	bpf_prog_info info{};
	__u32 len = sizeof info;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0 ||
	    info.name != name.substr(0, BPF_OBJ_NAME_LEN - 1))
		throw std::runtime_error("unexpected program on " + dev);
	return fd;
}

// A program the backend attached on a host-facing port of VNI `vni`
// (`egress`: evpnmon_egress, else evpnmon_mirror), as a new fd. The backend
// attaches the egress program only while copies go to the port, so an
// entry 1 in the VNI copying to the port is installed for as long as it
// takes to open the program (the fd keeps it).
inline int attached_port_prog(Dataplane &dp, const std::string &dev, std::uint32_t vni,
			      bool egress)
{
	Entry e;
	e.key.kind = EntryKind::MirrorSource;
	e.key.vni = vni;
	e.key.host.mac = parse_mac("02:ee:ee:ee:ee:ee");
	e.key.host_id = 1;
	e.key.session = "program-probe";
	e.action.ifindex = if_nametoindex(dev.c_str());
	if (dp.install(e))
		throw std::runtime_error("install on " + dev);
	const int fd = attached_prog(dev, egress, egress ? "evpnmon_egress" : "evpnmon_mirror");
	if (dp.remove(e.key))
		throw std::runtime_error("remove on " + dev);
	return fd;
}

struct Run {
	int retval = -1;
	__sk_buff ctx{};
	std::vector<std::uint8_t> data;
};

// One BPF_PROG_TEST_RUN of a TC program: its verdict, context and output
// frame (room for 512 octets more than the input).
inline Run test_run(int prog_fd, std::span<const std::uint8_t> frame, const __sk_buff &ctx_in)
{
	Run r;
	r.data.resize(frame.size() + 512);
	__sk_buff in = ctx_in;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(), .data_out = r.data.data(),
		    .data_size_in = static_cast<__u32>(frame.size()),
		    .data_size_out = static_cast<__u32>(r.data.size()), .ctx_in = &in,
		    .ctx_out = &r.ctx, .ctx_size_in = sizeof in, .ctx_size_out = sizeof r.ctx,
		    .repeat = 1);
	const int err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err)
		throw std::runtime_error("BPF_PROG_TEST_RUN: " + std::to_string(err));
	r.retval = static_cast<int>(o.retval);
	r.data.resize(o.data_size_out);
	return r;
}

} // namespace evpnmon::dp::test
