// The linux backend: TC eBPF on the bridges' host-facing ports, a
// `vxlan external gbp` mirror device with the decap program, entries in
// pinned BPF maps, local MAC learning from the bridge FDB.
#include "bpf_object.hpp"
#include "entry_store.hpp"
#include "fdb_listener.hpp"
#include "links.hpp"
#include "tc_filter.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <bpf/bpf.h>
#include <net/if.h>

#include <cstring>
#include <map>
#include <memory>
#include <system_error>

namespace evpnmon::dp {

namespace linux_dp {

namespace {

class LinuxDataplane final : public Dataplane {
public:
	explicit LinuxDataplane(const Config &cfg);
	~LinuxDataplane() override;

	std::error_code install(const Entry &e) override { return store_->install(e); }
	std::error_code remove(const EntryKey &k) override { return store_->remove(k); }
	std::vector<Entry> list() const override { return store_->list(); }
	std::optional<Counters> counters(const EntryKey &k) const override
	{
		return store_->counters(k);
	}
	Counters global_counters() const override { return store_->global_counters(); }
	void set_mac_listener(MacListener l) override { listener_ = std::move(l); }
	void dump_macs() override
	{
		if (listener_)
			fdb_->dump(listener_);
	}
	int event_fd() const override { return fdb_->fd(); }
	void process_events() override
	{
		fdb_->process([this](const MacEvent &ev) {
			if (listener_)
				listener_(ev);
		});
	}
	std::string port_name(std::uint32_t ifindex) const override
	{
		char buf[IF_NAMESIZE] = {};
		if (if_indextoname(ifindex, buf))
			return buf;
		return "if" + std::to_string(ifindex);
	}

private:
	void configure_maps();

	Config cfg_;
	std::map<std::uint32_t, std::uint32_t> port_vni_; // host-facing ports
	// Destruction order (reverse): filters go first, then the device.
	std::unique_ptr<MirrorDevice> mirror_;
	std::unique_ptr<BpfObject> bpf_;
	std::unique_ptr<EntryStore> store_;
	std::vector<TcFilter> filters_;
	std::unique_ptr<FdbListener> fdb_;
	MacListener listener_;
};

LinuxDataplane::LinuxDataplane(const Config &cfg) : cfg_(cfg)
{
	for (const auto &b : cfg_.bridges) {
		if (b.vni == 0 || b.vni > 0xffffff)
			throw std::invalid_argument("dataplane/linux: bad VNI for " + b.bridge);
		for (const auto &p : bridge_ports(b.bridge)) {
			if (p.name == b.vxlan_device || p.kind == "vxlan" ||
			    p.name == cfg_.mirror_device)
				continue; // fabric side: not host-facing
			port_vni_[p.ifindex] = b.vni;
		}
	}
	mirror_ = std::make_unique<MirrorDevice>(cfg_.mirror_device, cfg_.mirror_udp_port,
						 cfg_.local_vtep,
						 cfg_.create_mirror_device);
	bpf_ = std::make_unique<BpfObject>(cfg_.pin_dir);
	configure_maps();
	store_ = std::make_unique<EntryStore>(
	    MapFds{map_fd_match(*bpf_), map_fd_decap(*bpf_), map_fd_meta(*bpf_),
		   map_fd_stats(*bpf_), map_fd_gstats(*bpf_)});
	filters_.reserve(port_vni_.size() + 1);
	filters_.emplace_back(static_cast<int>(mirror_->ifindex()), prog_fd_decap(*bpf_),
			      cfg_.mirror_device);
	for (const auto &[ifindex, _] : port_vni_)
		filters_.emplace_back(static_cast<int>(ifindex), prog_fd_mirror(*bpf_),
				      port_name(ifindex));
	fdb_ = std::make_unique<FdbListener>(
	    [this](std::uint32_t ifindex) -> std::optional<std::uint32_t> {
		    auto it = port_vni_.find(ifindex);
		    if (it == port_vni_.end())
			    return std::nullopt;
		    return it->second;
	    });
}

void LinuxDataplane::configure_maps()
{
	dp_config c{};
	c.mirror_ifindex = mirror_->ifindex();
	std::memcpy(&c.local_vtep, cfg_.local_vtep.data(), 4);
	c.ttl = 64;
	const dp_u32 zero = 0;
	if (bpf_map_update_elem(map_fd_config(*bpf_), &zero, &c, BPF_ANY))
		throw std::system_error(errno, std::generic_category(),
					"dataplane/linux: write config map");
	// Replace the port table of a previous run by ours.
	const int fd = map_fd_port_vni(*bpf_);
	std::vector<dp_u32> old;
	dp_u32 k, next;
	dp_u32 *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		old.push_back(next);
		k = next;
		prev = &k;
	}
	for (auto o : old)
		if (!port_vni_.contains(o))
			bpf_map_delete_elem(fd, &o);
	for (const auto &[ifindex, vni] : port_vni_)
		if (bpf_map_update_elem(fd, &ifindex, &vni, BPF_ANY))
			throw std::system_error(errno, std::generic_category(),
						"dataplane/linux: write port map");
}

LinuxDataplane::~LinuxDataplane()
{
	if (cfg_.keep_on_exit) {
		for (auto &f : filters_)
			f.release();
		mirror_->release();
		return;
	}
	filters_.clear();
	bpf_->unpin();
}

} // namespace

} // namespace linux_dp

std::unique_ptr<Dataplane> make_linux_dataplane(const Config &config)
{
	return std::make_unique<linux_dp::LinuxDataplane>(config);
}

} // namespace evpnmon::dp
