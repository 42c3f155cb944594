// The semantic table on the real BPF programs with BPF_PROG_TEST_RUN: the
// eBPF object is the reference the memory backend is held to.
//
// The linux backend runs as in production (entries, counters, MAC
// learning, TC attachment) in a private network namespace; the test takes
// the very programs it attached (tc query -> program id) and runs each
// table frame through them with bpf_prog_test_run_opts:
//  - a host port's ingress: evpnmon_mirror, ctx.ingress_ifindex = the port.
//    Verdict and output bytes show the original untouched. test_run
//    executes bpf_clone_redirect for real: a copy is transmitted by its
//    target device before the syscall returns. Every port is a veth (no
//    dummy driver here) whose peer is up but attached to nothing; a packet
//    socket on the port sees each copy as PACKET_OUTGOING, after the
//    port's own egress program, as on a leaf. (With the peer down,
//    veth_xmit drops the clone and bpf_clone_redirect returns
//    NET_XMIT_DROP: the program then rightly counts the copy as a drop.)
//    VXLAN copies are encapsulated by the real mirror device and seen on
//    the underlay veth. The entries' counters (dp_stats/dp_gstats) are read
//    through the backend.
//  - the mirror device: the test-only with_tunnel program attaches the
//    tunnel metadata VXLAN-GBP decapsulation would and tail-calls the real
//    evpnmon_decap. test_run returns its verdict (TC_ACT_REDIRECT) and mark
//    but never performs a bpf_redirect and cannot say where to: the target
//    is the port of the dp_decap element the program looked up (an fentry
//    probe on the helper would say it directly, but this lab's kernel
//    refuses to load one: EPERM, with CAP_BPF and CAP_PERFMON). The copy
//    is then run through that port's evpnmon_egress with its mark.
//  - originals: the bridge's choice of ports (flood, or the port of a known
//    destination MAC) is modelled here, as in the memory backend; whether
//    a port lets the original out is evpnmon_egress's verdict, run with
//    ctx.ifindex = that port.
// What this cannot show, the actual bridge and redirect delivery, is what
// test_dataplane_linux and two_vteps.sh check with real traffic.
#define DOCTEST_CONFIG_IMPLEMENT
#include "capture.hpp"
#include "private_netns.hpp"
#include "table_runner.hpp"
#include "tunnel_shim.skel.h"

#include "evpnmon_shared.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>

using namespace evpnmon::dp;
using evpnmon::dp::test::sh;

namespace {


const std::string g_pin = "/sys/fs/bpf/evpnmon-testrun-" + std::to_string(::getpid());
const std::vector<std::string> g_ports = {"h1", "h2", "h3", "srv", "g1"};

// The table's switch. Every host port and the underlay are veths; their
// peers are up and attached to nothing, and IPv6 is off, so the ports
// transmit nothing but the copies.
void build_switch()
{
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1");
	sh("ip link set lo up");
	sh("ip link add br100 type bridge && ip link add br200 type bridge");
	for (const auto &p : g_ports) {
		const std::string br = p == "g1" ? "br200" : "br100";
		sh("ip link add " + p + " type veth peer name " + p + "p");
		sh("ip link set " + p + " master " + br + " up && ip link set " + p + "p up");
	}
	sh("ip link set br100 up && ip link set br200 up");
	sh("ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
	   "ip link set vxlan100 master br100 up");
	sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && "
	   "ip link set ul1 up && ip addr add 10.9.9.1/24 dev ul0");
	for (auto ip : {"10.9.9.2", "10.9.9.3"})
		sh(std::string("ip neigh add ") + ip +
		   " lladdr 02:99:00:00:00:01 dev ul0 nud permanent");
}

Config switch_config()
{
	Config c;
	c.bridges = {{"br100", "vxlan100", 100}, {"br200", "vxlan200", 200}};
	c.local_vtep = {10, 9, 9, 1};
	c.pin_dir = g_pin;
	return c;
}

// The program the backend attached on a device's TC hook (its fixed
// handle and priority), as a new fd.
int attached_prog(const std::string &dev, bool egress, const std::string &name)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(if_nametoindex(dev.c_str())),
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0xe7a0, .priority = 1);
	if (bpf_tc_query(&hook, &opts) != 0)
		throw std::runtime_error("no program attached on " + dev);
	const int fd = bpf_prog_get_fd_by_id(opts.prog_id);
	bpf_prog_info info{};
	__u32 len = sizeof info;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.name != name)
		throw std::runtime_error("unexpected program on " + dev);
	return fd;
}

struct Run {
	int retval = -1;
	__sk_buff ctx{};
	std::vector<std::uint8_t> data;
};

Run test_run(int prog_fd, std::span<const std::uint8_t> frame, const __sk_buff &ctx_in)
{
	Run r;
	r.data.resize(frame.size() + 256);
	__sk_buff in = ctx_in;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
		    .data_out = r.data.data(),
		    .data_size_in = static_cast<__u32>(frame.size()),
		    .data_size_out = static_cast<__u32>(r.data.size()),
		    .ctx_in = &in, .ctx_out = &r.ctx, .ctx_size_in = sizeof in,
		    .ctx_size_out = sizeof r.ctx, .repeat = 1);
	const int err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err)
		throw std::runtime_error("BPF_PROG_TEST_RUN: " + std::to_string(err));
	r.retval = static_cast<int>(o.retval);
	r.data.resize(o.data_size_out);
	return r;
}

struct BpfHarness : table::Harness {
	std::unique_ptr<Dataplane> dp = make_dataplane("linux", switch_config());
	int mirror = attached_prog("h1", false, "evpnmon_mirror");
	int egress = attached_prog("h1", true, "evpnmon_egress");
	int decap = attached_prog("evpnmon0", false, "evpnmon_decap");
	tunnel_shim *shim = nullptr;
	int decap_map = bpf_obj_get((g_pin + "/dp_decap").c_str());
	std::map<std::string, int> cap; // port -> packet socket on the port
	int ul = table::packet_socket("ul0");
	const table::Case *current = nullptr;

	BpfHarness()
	{
		shim = tunnel_shim__open_and_load();
		if (!shim || decap_map < 0)
			throw std::runtime_error("tunnel shim, dp_decap");
		const __u32 zero = 0;
		if (bpf_map_update_elem(bpf_map__fd(shim->maps.decap_prog), &zero, &decap, BPF_ANY))
			throw std::runtime_error("tail-call slot for evpnmon_decap");
		for (const auto &p : g_ports)
			cap[p] = table::packet_socket(p);
	}
	~BpfHarness() override
	{
		for (auto &[_, fd] : cap)
			::close(fd);
		for (int fd : {ul, mirror, egress, decap, decap_map})
			::close(fd);
		tunnel_shim__destroy(shim);
	}
	Dataplane &dataplane() override { return *dp; }
	std::uint32_t ifindex(const std::string &p) override
	{
		if (p == "ghost")
			return 999999;
		if (p == "fabric")
			return if_nametoindex("vxlan100");
		return if_nametoindex(p.c_str());
	}
	void pump_events()
	{
		pollfd p{dp->event_fd(), POLLIN, 0};
		while (::poll(&p, 1, 100) > 0)
			dp->process_events();
	}
	// The case's FDB MACs reach dp_local_mac as on a leaf: bridge FDB
	// events, through the backend.
	void prepare(const table::Case &c) override
	{
		current = &c;
		for (const auto &m : c.macs) {
			sh("bridge fdb replace " + m.mac + " dev " + m.port + " master static");
			if (m.aged)
				sh("bridge fdb del " + m.mac + " dev " + m.port + " master");
		}
		pump_events();
	}
	void finish(const table::Case &c) override
	{
		for (const auto &m : c.macs)
			if (!m.aged)
				sh("bridge fdb del " + m.mac + " dev " + m.port + " master");
		pump_events();
		current = nullptr;
	}

	// Copies already transmitted: bpf_clone_redirect hands the clone to
	// dev_queue_xmit, and on these noqueue devices (veth, the VXLAN mirror
	// device, then the underlay veth with a permanent neighbour) the packet
	// socket tap runs before the helper returns. A further 20 ms wait
	// checks that nothing arrives late.
	std::vector<Output> copies(bool check_sync = true)
	{
		std::vector<Output> out;
		std::vector<pollfd> pfds;
		std::vector<std::string> names;
		for (auto &[n, fd] : cap) {
			pfds.push_back({fd, POLLIN, 0});
			names.push_back(n);
		}
		pfds.push_back({ul, POLLIN, 0});
		std::size_t on_return = 0;
		for (int wait : {0, 20}) {
			if (::poll(pfds.data(), pfds.size(), wait) <= 0)
				continue;
			for (std::size_t i = 0; i < pfds.size(); ++i) {
				std::uint8_t buf[4096];
				sockaddr_ll from{};
				ssize_t n;
				while ((n = table::recv_frame(pfds[i].fd, buf, sizeof buf, from)) > 0) {
					std::span<const std::uint8_t> f(buf, static_cast<std::size_t>(n));
					if (i == names.size()) {
						if (auto o = table::parse_vxlan(f, from.sll_pkttype))
							out.push_back(std::move(*o));
						continue;
					}
					if (from.sll_pkttype != PACKET_OUTGOING ||
					    table::foreign_multicast(f))
						continue;
					Output o;
					o.kind = Output::Kind::LocalCopy;
					o.ifindex = ifindex(names[i]);
					o.frame.assign(f.begin(), f.end());
					out.push_back(std::move(o));
				}
			}
			if (wait == 0)
				on_return = out.size();
		}
		if (check_sync)
			CHECK_MESSAGE(out.size() == on_return,
				      "a copy arrived after test_run returned");
		return out;
	}
	void drain() { copies(false); }

	// evpnmon_egress on `port` for a frame carrying `mark`: true if sent.
	bool egress_passes(std::span<const std::uint8_t> frame, std::uint32_t port,
			   std::uint32_t mark)
	{
		__sk_buff ctx{};
		ctx.ifindex = port;
		ctx.mark = mark;
		auto r = test_run(egress, frame, ctx);
		CHECK(r.data == std::vector<std::uint8_t>(frame.begin(), frame.end()));
		CHECK((r.ctx.mark & DP_COPY_MARK) == 0); // cleared on a copy
		REQUIRE((r.retval == TC_ACT_OK || r.retval == TC_ACT_SHOT));
		return r.retval == TC_ACT_OK;
	}

	// The bridge sends an original to every port of the VNI but the
	// ingress (flooding), or to the port of a known unicast destination;
	// ports not in the case's `forwarding` list get nothing.
	std::vector<Output> originals(std::span<const std::uint8_t> frame,
				      const std::string &in)
	{
		std::vector<Output> out;
		if (!current)
			return out;
		Mac dst;
		std::copy_n(frame.begin(), 6, dst.begin());
		std::optional<std::string> known;
		for (const auto &m : current->macs)
			if (!m.aged && parse_mac(m.mac) == dst)
				known = m.port;
		for (const auto &p : current->forwarding) {
			if (p == in || (!(dst[0] & 1) && known && *known != p))
				continue;
			if (!egress_passes(frame, ifindex(p), 0))
				continue;
			Output o;
			o.kind = Output::Kind::Original;
			o.ifindex = ifindex(p);
			o.frame.assign(frame.begin(), frame.end());
			out.push_back(std::move(o));
		}
		return out;
	}

	std::vector<Output> decapsulate(std::span<const std::uint8_t> frame,
					const TunnelMeta &tun)
	{
		__sk_buff ctx{};
		ctx.cb[0] = tun.vni;
		ctx.cb[1] = tun.host_id;
		auto r = test_run(bpf_program__fd(shim->progs.with_tunnel), frame, ctx);
		if (r.retval == TC_ACT_SHOT)
			return {};
		REQUIRE(r.retval == TC_ACT_REDIRECT);
		CHECK((r.ctx.mark & DP_COPY_MARK) != 0);
		dp_decap_key k{};
		k.vni = tun.vni;
		k.host_id = tun.host_id;
		dp_decap_val v{};
		REQUIRE(bpf_map_lookup_elem(decap_map, &k, &v) == 0);
		char name[IF_NAMESIZE];
		if (!if_indextoname(v.ifindex, name)) // the kernel drops it
			return {};
		if (!egress_passes(frame, v.ifindex, r.ctx.mark))
			return {};
		Output o;
		o.kind = Output::Kind::Deliver;
		o.ifindex = v.ifindex;
		o.frame.assign(frame.begin(), frame.end());
		return {o};
	}

	std::vector<Output> send(std::span<const std::uint8_t> frame, const std::string &in,
				 const std::optional<TunnelMeta> &tun) override
	{
		drain();
		if (in == "mirror")
			return decapsulate(frame, *tun);
		std::vector<Output> out;
		if (in != "fabric") { // the fabric device has no mirror program
			__sk_buff ctx{};
			ctx.ingress_ifindex = ifindex(in);
			ctx.ifindex = ifindex(in);
			auto r = test_run(mirror, frame, ctx);
			CHECK(r.retval == TC_ACT_OK); // the original always passes...
			CHECK(r.data == std::vector<std::uint8_t>(frame.begin(), frame.end()));
			CHECK(r.ctx.mark == 0); // ...unchanged, its mark restored
			out = copies();
		}
		for (auto &o : originals(frame, in))
			out.push_back(std::move(o));
		return out;
	}
};

} // namespace

TEST_CASE("the BPF programs pass the semantic table (BPF_PROG_TEST_RUN)")
{
	BpfHarness h;
	table::run_table(h);
}

int main(int argc, char **argv)
{
	return evpnmon::dp::test::run_in_private_netns("test_dataplane_bpf", argc, argv, build_switch);
}
