// The linux backend: TC eBPF on the bridges' host-facing ports, a
// `vxlan external gbp` mirror device with the decap program, entries in
// pinned BPF maps, local MAC learning from the bridge FDB.
#include "bpf_object.hpp"
#include "codec.hpp"
#include "evpnmon_kinds.h"
#include "entry_store.hpp"
#include "fdb_listener.hpp"
#include "links.hpp"
#include "tc_filter.hpp"

#include <evpnmon/unique_fd.hpp>

#include <evpnmon/dataplane/dataplane.hpp>

#include "lib/bucket.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>
#include <system_error>
#include <utility>

namespace evpnmon::dp {

namespace linux_dp {

namespace {

// The attach failed because the device no longer exists (its RTM_DELLINK
// may have been lost in a netlink overrun).
bool device_gone(const std::system_error &e)
{
	return e.code() == std::errc::no_such_device ||
	       e.code() == std::errc::no_such_device_or_address;
}

class LinuxDataplane final : public Dataplane {
public:
	explicit LinuxDataplane(const Config &cfg);
	~LinuxDataplane() override;

	std::error_code install(const Entry &e) override;
	std::error_code remove(const EntryKey &k) override;
	void begin_batch() override { store_->begin_batch(); }
	std::error_code flush() override;
	std::vector<Entry> list() const override { return store_->list(); }
	std::optional<EntryKey> visit_entries(const std::optional<EntryKey> &from, std::size_t limit,
					      const EntryVisitor &visit) const override
	{
		return store_->visit_entries(from, limit, visit);
	}
	std::optional<Counters> counters(const EntryKey &k) const override
	{
		return store_->counters(k);
	}
	// Copies from a source that is not a VTEP of their VNI are decap
	// drops too.
	Counters global_counters() const override
	{
		Counters c = store_->global_counters();
		c.drops += tstat(DP_TSTAT_DECAP_SOURCE).drops;
		return c;
	}
	Counters dropped_originals() const override { return store_->dropped_originals(); }
	std::vector<std::pair<Erspan, ErspanCounters>> erspan_counters() const override
	{
		return store_->erspan_counters();
	}
	std::error_code add_decap_source(std::uint32_t vni, const IpAddr &vtep) override;
	std::error_code remove_decap_source(std::uint32_t vni, const IpAddr &vtep) override;
	std::vector<std::pair<std::uint32_t, IpAddr>> decap_sources() const override;
	DecapDrops decap_drops() const override;
	CeilingCounters ceiling_counters() const override;
	std::error_code set_server(const ServerKey &key, const Action &target) override;
	std::error_code remove_server(const ServerKey &key) override
	{
		return store_->remove_server(key);
	}
	std::vector<std::pair<ServerKey, Action>> servers() const override
	{
		return store_->servers();
	}
	bool supports_servers() const override { return true; }
	void set_mac_listener(MacListener l) override { listener_ = std::move(l); }
	void dump_macs() override
	{
		fdb_->dump([this](const MacEvent &ev) {
			note_mac(ev);
			if (listener_)
				listener_(ev);
		});
	}
	// The FDB/link notifications and a 1 s timer that refreshes the TAI
	// offset of ERSPAN timestamps, behind one pollable fd.
	int event_fd() const override { return epoll_.get(); }
	void process_events() override
	{
		std::uint64_t ticks = 0;
		if (::read(timer_.get(), &ticks, sizeof ticks) == sizeof ticks) {
			refresh_tai();
			flush();
		}
		fdb_->process(
		    [this](const MacEvent &ev) {
			    note_mac(ev);
			    if (listener_)
				    listener_(ev);
		    },
		    [this](const FdbListener::LinkEvent &ev) { on_link(ev); },
		    [this] { relist_ports(); });
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
	void configure_ceiling();
	Counters tstat(dp_u32 idx) const { return percpu(map_fd_tstats(*bpf_), idx); }
	static Counters percpu(int fd, dp_u32 idx);
	void refresh_tai();
	void setup_events();
	bool host_facing(const std::string &name, const std::string &kind) const;
	void attach_port(std::uint32_t ifindex, std::uint32_t vni);
	// The programs a host-facing port needs now (see the definition).
	void attach_filters(std::uint32_t ifindex);
	std::error_code need_filters(const Entry &e);
	void release_egress(std::uint32_t port);
	// The pins of the tcx links this run holds.
	std::set<std::string> owned_links() const;
	void detach_port(std::uint32_t ifindex);
	void set_port_word(std::uint32_t ifindex, dp_u32 word);
	void on_link(const FdbListener::LinkEvent &ev);
	void relist_ports();
	void note_mac(const MacEvent &ev);
	void forget_port_macs(std::uint32_t ifindex);

	Config cfg_;
	std::map<std::uint32_t, std::uint32_t> bridge_vni_; // bridge ifindex -> VNI
	std::map<std::uint32_t, std::uint32_t> port_vni_;   // host-facing ports
	// Destruction order (reverse): filters go first, then the device.
	std::unique_ptr<MirrorDevice> mirror_;
	std::unique_ptr<ErspanDevice> erspan_;
	std::unique_ptr<BpfObject> bpf_;
	std::unique_ptr<EntryStore> store_;
	std::unique_ptr<TcFilter> decap_filter_;
	std::unique_ptr<TcFilter> mirror_egress_filter_;
	std::unique_ptr<TcFilter> erspan_filter_;     // evpnmon-er egress
	std::unique_ptr<TcFilter> erspan_hop_filter_; // evpnmon-erp ingress
	std::map<std::uint32_t, TcFilter> filters_; // per host-facing port
	std::map<std::uint32_t, TcFilter> egress_filters_; // same ports, egress
	// Ports whose egress program waits for a flush: an entry that copied
	// there is gone, but a batch's lookup may still name it.
	std::set<std::uint32_t> egress_waiting_;
	std::unique_ptr<FdbListener> fdb_;
	MacListener listener_;
	UniqueFd timer_, epoll_;
	std::int64_t tai_s_ = -1; // TAI - UTC written to dp_config
};

LinuxDataplane::LinuxDataplane(const Config &cfg) : cfg_(cfg)
{
	if (cfg_.max_entries == 0 || cfg_.max_entries > kMaxEntriesLimit)
		throw std::invalid_argument("dataplane/linux: max_entries must be 1.." +
					    std::to_string(kMaxEntriesLimit));
	if (cfg_.max_profiles < 2 || cfg_.max_profiles > kMaxProfilesLimit)
		throw std::invalid_argument("dataplane/linux: max_profiles must be 2.." +
					    std::to_string(kMaxProfilesLimit));
	check_mirror_ceiling(cfg_, "dataplane/linux");
	for (const auto &b : cfg_.bridges) {
		if (b.vni == 0 || b.vni > 0xffffff)
			throw std::invalid_argument("dataplane/linux: bad VNI for " + b.bridge);
		const unsigned br = if_nametoindex(b.bridge.c_str());
		if (!br)
			throw std::system_error(ENODEV, std::generic_category(),
						"dataplane/linux: bridge " + b.bridge);
		bridge_vni_[br] = b.vni;
		// Subscribe before the dump, so that no port plugged meanwhile
		// is missed (duplicates are idempotent).
		if (!fdb_)
			fdb_ = std::make_unique<FdbListener>(
			    [this](std::uint32_t ifindex) -> std::optional<std::uint32_t> {
				    auto it = port_vni_.find(ifindex);
				    if (it == port_vni_.end())
					    return std::nullopt;
				    return it->second;
			    });
		for (const auto &p : bridge_ports(b.bridge))
			if (host_facing(p.name, p.kind))
				port_vni_[p.ifindex] = b.vni;
	}
	if (!fdb_)
		throw std::invalid_argument("dataplane/linux: no bridge configured");
	// The BPF object first: it takes the pin directory's lock, so a second
	// process fails before touching the mirror device the first one uses.
	bpf_ = std::make_unique<BpfObject>(cfg_.pin_dir, cfg_.max_entries, cfg_.max_profiles,
					   cfg_.flow_cache);
	try {
		mirror_ = std::make_unique<MirrorDevice>(cfg_.mirror_device,
							 cfg_.mirror_udp_port,
							 cfg_.local_vtep,
							 cfg_.create_mirror_device);
		erspan_ = std::make_unique<ErspanDevice>(cfg_.erspan_device,
							 cfg_.create_mirror_device);
		configure_maps();
		store_ = std::make_unique<EntryStore>(
		    MapFds{map_fd_match(*bpf_), map_fd_decap(*bpf_), map_fd_meta(*bpf_),
			   map_fd_stats(*bpf_), map_fd_gstats(*bpf_),
			   map_fd_srv_port(*bpf_), map_fd_profile(*bpf_),
			   map_fd_policer(*bpf_), map_fd_profile_stats(*bpf_),
			   map_fd_erspan(*bpf_), map_fd_erspan_seq(*bpf_),
			   map_fd_erspan_stats(*bpf_), map_fd_vni_kinds(*bpf_),
			   match_generation(*bpf_), match_bits(*bpf_), vni_words(*bpf_),
			   !bpf_->adopted(), map_fd_server(*bpf_), srv_words(*bpf_)},
		    cfg_.max_entries, cfg_.max_profiles);
		erspan_filter_ = std::make_unique<TcFilter>(
		    static_cast<int>(erspan_->ifindex()), prog_fd_erspan(*bpf_),
		    cfg_.erspan_device, true, cfg_.tc_hook, cfg_.pin_dir);
		erspan_hop_filter_ = std::make_unique<TcFilter>(
		    static_cast<int>(erspan_->peer_ifindex()), prog_fd_erspan_hop(*bpf_),
		    erspan_->peer_name(), false, cfg_.tc_hook, cfg_.pin_dir);
		decap_filter_ = std::make_unique<TcFilter>(
		    static_cast<int>(mirror_->ifindex()), prog_fd_decap(*bpf_),
		    cfg_.mirror_device, false, cfg_.tc_hook, cfg_.pin_dir);
		// Cuts truncated VXLAN copies before the device encapsulates them.
		mirror_egress_filter_ = std::make_unique<TcFilter>(
		    static_cast<int>(mirror_->ifindex()), prog_fd_mirror_egress(*bpf_),
		    cfg_.mirror_device, true, cfg_.tc_hook, cfg_.pin_dir);
		std::vector<std::uint32_t> gone;
		for (const auto &[ifindex, _] : port_vni_) {
			try {
				attach_filters(ifindex);
			} catch (const std::system_error &err) {
				if (!device_gone(err))
					throw;
				gone.push_back(ifindex); // unplugged since the dump
			}
		}
		for (auto p : gone)
			detach_port(p);
		// Links an earlier run kept on hooks this run does not use.
		sweep_links(cfg_.pin_dir, owned_links());
		// Local MACs for the egress program (frames to the server).
		fdb_->dump([this](const MacEvent &ev) { note_mac(ev); });
		setup_events();
	} catch (...) {
		// Members built so far undo themselves; pins this start created
		// are removed too (adopted ones stay for the next attempt).
		egress_filters_.clear();
		filters_.clear();
		erspan_hop_filter_.reset();
		erspan_filter_.reset();
		mirror_egress_filter_.reset();
		decap_filter_.reset();
		if (!bpf_->adopted())
			bpf_->unpin();
		throw;
	}
}

bool LinuxDataplane::host_facing(const std::string &name, const std::string &kind) const
{
	if (kind == "vxlan" || name == cfg_.mirror_device ||
	    name == cfg_.erspan_device || name == cfg_.erspan_device + "p")
		return false; // fabric side
	for (const auto &b : cfg_.bridges)
		if (name == b.vxlan_device)
			return false;
	return true;
}

void LinuxDataplane::attach_port(std::uint32_t ifindex, std::uint32_t vni)
{
	port_vni_[ifindex] = vni;
	bpf_map_update_elem(map_fd_port_vni(*bpf_), &ifindex, &vni, BPF_ANY);
	set_port_word(ifindex, DP_PORT_W_PRESENT | vni);
	try {
		attach_filters(ifindex);
	} catch (const std::system_error &) {
		// Port vanished meanwhile; its RTM_DELLINK follows.
	}
}

// Every host-facing port carries the mirror program; the egress program
// only while copies go to the port (the LocalPort action of an entry 1/2,
// or an entry 3's port), so frames leaving any other port pass one hook.
// The egress program is attached before the first entry that needs it
// becomes visible (no flooded original slips past the rule while copies
// already flow) and detached after the last such entry is gone. What a
// previous run kept on a hook this run leaves empty is removed.
// (The mirror program stays on ports of VNIs without sessions: taking it
// off made an unmonitored flow measurably faster than a monitored one,
// the hook's own cost, beyond the 5 % the trust scenario allows between
// them; docs/benchmarks.md, "Dataplane".)
void LinuxDataplane::attach_filters(std::uint32_t ifindex)
{
	const int dev = static_cast<int>(ifindex);
	filters_.try_emplace(ifindex, dev, prog_fd_mirror(*bpf_), port_name(ifindex), false,
			     cfg_.tc_hook, cfg_.pin_dir);
	if (store_->targets_port(ifindex))
		egress_filters_.try_emplace(ifindex, dev, prog_fd_egress(*bpf_),
					    port_name(ifindex), true, cfg_.tc_hook,
					    cfg_.pin_dir);
	else if (egress_filters_.erase(ifindex) == 0)
		detach_kept(dev, true, cfg_.pin_dir);
}

std::error_code LinuxDataplane::need_filters(const Entry &e)
{
	// A port whose device is gone is forgotten, not a reason to refuse the
	// entry: one stale port must not keep its VNI's sessions out.
	std::vector<std::uint32_t> gone;
	auto attach = [&](auto &filters, std::uint32_t port, int prog, bool egress) {
		try {
			filters.try_emplace(port, static_cast<int>(port), prog, port_name(port),
					    egress, cfg_.tc_hook, cfg_.pin_dir);
		} catch (const std::system_error &err) {
			if (!device_gone(err))
				throw;
			gone.push_back(port);
		}
	};
	try {
		if (e.key.kind != EntryKind::Decap)
			for (const auto &[port, vni] : port_vni_)
				if (vni == e.key.vni && !filters_.contains(port))
					attach(filters_, port, prog_fd_mirror(*bpf_), false);
		const std::uint32_t port = store_->port_of(e.action);
		if (port && port_vni_.contains(port) && !egress_filters_.contains(port))
			attach(egress_filters_, port, prog_fd_egress(*bpf_), true);
	} catch (const std::system_error &err) {
		for (auto p : gone)
			detach_port(p);
		release_egress(store_->port_of(e.action));
		return err.code(); // the entry is refused, and retried by the caller
	}
	for (auto p : gone)
		detach_port(p);
	return {};
}

void LinuxDataplane::release_egress(std::uint32_t port)
{
	if (!port)
		return;
	if (!store_->targets_port(port))
		egress_filters_.erase(port);
	else if (store_->waiting_retires())
		egress_waiting_.insert(port); // asked again after the flush
}

std::error_code LinuxDataplane::flush()
{
	const auto ec = store_->flush();
	for (auto port : std::exchange(egress_waiting_, {}))
		release_egress(port);
	return ec;
}

std::error_code LinuxDataplane::install(const Entry &e)
{
	// An entry the store refuses anyway attaches nothing: no attach and
	// detach on every retry of an invalid entry, or of one waiting for
	// room in a full table (the consumer retries those every tick).
	if (!codec::valid(e))
		return std::make_error_code(std::errc::invalid_argument);
	if (auto ec = store_->make_room(e))
		return ec;
	const std::uint32_t before = store_->port_of_key(e.key);
	if (auto ec = need_filters(e))
		return ec;
	const auto ec = store_->install(e);
	release_egress(store_->port_of(e.action)); // refused: not needed
	if (before != store_->port_of(e.action))
		release_egress(before); // replaced: the old port may serve none now
	return ec;
}

// A move to a local port attaches its egress program first, if entries
// name the server (the rule must hold there before copies arrive); the
// old port's is released once the slot no longer sends there.
std::error_code LinuxDataplane::set_server(const ServerKey &key, const Action &target)
{
	if (!codec::valid_server(key, target))
		return std::make_error_code(std::errc::invalid_argument);
	const std::uint32_t before = store_->server_port(key);
	const std::uint32_t port = target.kind == Action::Kind::LocalPort ? target.ifindex : 0;
	if (port && port != before && store_->server_named(key) && port_vni_.contains(port) &&
	    !egress_filters_.contains(port)) {
		try {
			egress_filters_.try_emplace(port, static_cast<int>(port),
						    prog_fd_egress(*bpf_), port_name(port), true,
						    cfg_.tc_hook, cfg_.pin_dir);
		} catch (const std::system_error &err) {
			if (!device_gone(err))
				return err.code(); // nothing changed; retried by the caller
			detach_port(port); // its RTM_DELLINK follows; copies there fail
		}
	}
	const auto ec = store_->set_server(key, target);
	release_egress(port); // refused: not needed
	if (before != port)
		release_egress(before);
	return ec;
}

std::error_code LinuxDataplane::remove(const EntryKey &k)
{
	const std::uint32_t port = store_->port_of_key(k);
	const auto ec = store_->remove(k);
	release_egress(port);
	return ec;
}

// A port below DP_PORT_WORDS is read from its word, one above from
// dp_port_vni (both written; the word after the element, cleared before).
void LinuxDataplane::set_port_word(std::uint32_t ifindex, dp_u32 word)
{
	const auto words = port_words(*bpf_);
	if (ifindex < words.size())
		words[ifindex] = word;
}

void LinuxDataplane::detach_port(std::uint32_t ifindex)
{
	port_vni_.erase(ifindex);
	set_port_word(ifindex, 0);
	bpf_map_delete_elem(map_fd_port_vni(*bpf_), &ifindex);
	egress_filters_.erase(ifindex);
	filters_.erase(ifindex); // detach fails quietly if the device is gone
	forget_port_macs(ifindex);
}

// dp_local_mac: (VNI, MAC) -> port it was learned on. A MAC that ages out
// on a port that copies are sent to (a monitoring server that only
// receives) is kept, so frames flooded to it are still recognised as the
// server's own; other removals delete it. Keeping too much only lets a
// duplicate through, never drops a frame.
void LinuxDataplane::note_mac(const MacEvent &ev)
{
	dp_mac_key k{};
	k.vni = ev.vni;
	std::memcpy(k.mac, ev.mac.data(), 6);
	const int fd = map_fd_local_mac(*bpf_);
	if (ev.kind == MacEvent::Kind::Learned) {
		const dp_u32 port = ev.ifindex;
		bpf_map_update_elem(fd, &k, &port, BPF_ANY); // full: ignored
		return;
	}
	dp_u32 port = 0;
	if (bpf_map_lookup_elem(fd, &k, &port) == 0 && port == ev.ifindex &&
	    !(store_ && store_->targets_port(ev.ifindex)))
		bpf_map_delete_elem(fd, &k);
}

// Also drops entries of ports that are no longer host-facing ports.
void LinuxDataplane::forget_port_macs(std::uint32_t ifindex)
{
	const int fd = map_fd_local_mac(*bpf_);
	std::vector<dp_mac_key> gone;
	dp_mac_key k{}, next{};
	dp_mac_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		dp_u32 port = 0;
		if (bpf_map_lookup_elem(fd, &next, &port) == 0 &&
		    (port == ifindex || !port_vni_.contains(port)))
			gone.push_back(next);
		k = next;
		prev = &k;
	}
	for (auto &g : gone)
		bpf_map_delete_elem(fd, &g);
}

// Ports plugged into / unplugged from a configured bridge after start.
void LinuxDataplane::on_link(const FdbListener::LinkEvent &ev)
{
	auto br = bridge_vni_.find(ev.master);
	const bool ours = !ev.deleted && br != bridge_vni_.end() &&
			  host_facing(ev.name, ev.kind);
	if (ours) {
		auto it = port_vni_.find(ev.ifindex);
		if (it == port_vni_.end() || it->second != br->second ||
		    !filters_.contains(ev.ifindex))
			attach_port(ev.ifindex, br->second);
	} else if (port_vni_.contains(ev.ifindex)) {
		detach_port(ev.ifindex);
	}
}

// After a netlink overrun: the configured bridges' ports as they are now,
// as if each had just been plugged in, and every port this dataplane holds
// that is no longer one of them as unplugged.
void LinuxDataplane::relist_ports()
{
	std::set<std::uint32_t> present;
	for (const auto &[br, vni] : bridge_vni_) {
		char name[IF_NAMESIZE] = {};
		if (!if_indextoname(br, name))
			continue; // the bridge itself is gone: its ports go below
		std::vector<BridgePort> ports;
		try {
			ports = bridge_ports(name);
		} catch (const std::system_error &) {
			continue; // gone between the two calls
		}
		for (const auto &p : ports) {
			present.insert(p.ifindex);
			on_link({false, p.ifindex, br, p.name, p.kind});
		}
	}
	std::vector<std::uint32_t> held;
	for (const auto &[ifindex, vni] : port_vni_)
		if (!present.contains(ifindex))
			held.push_back(ifindex);
	for (auto ifindex : held)
		on_link({true, ifindex, 0, {}, {}});
}

namespace {

// TAI - UTC in seconds, as the kernel keeps it (adjtimex().tai; 0 until a
// time daemon sets it, as on a host without PTP/NTP leap-second data).
std::int64_t tai_offset()
{
	timex tx{};
	if (::adjtimex(&tx) < 0)
		return 0;
	return tx.tai;
}

} // namespace

void LinuxDataplane::configure_maps()
{
	if (cfg_.erspan_hw_id > 63)
		throw std::invalid_argument("dataplane/linux: ERSPAN HW ID must be 0..63");
	dp_config c{};
	c.mirror_ifindex = mirror_->ifindex();
	std::memcpy(&c.local_vtep, cfg_.local_vtep.data(), 4);
	c.ttl = 64;
	c.erspan_hw_id = cfg_.erspan_hw_id;
	c.erspan_ifindex = erspan_->ifindex();
	tai_s_ = tai_offset();
	c.tai_offset_ns = static_cast<dp_u64>(tai_s_) * 1000000000ull;
	const dp_u32 zero = 0;
	if (bpf_map_update_elem(map_fd_config(*bpf_), &zero, &c, BPF_ANY))
		throw std::system_error(errno, std::generic_category(),
					"dataplane/linux: write config map");
	configure_ceiling();
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
	// The words in front of it: none for any other ifindex (cleared
	// before the elements go), ours (written after ours are).
	const auto words = port_words(*bpf_);
	for (dp_u32 i = 0; i < words.size(); ++i)
		if (words[i] && !port_vni_.contains(i))
			words[i] = 0;
	for (auto o : old)
		if (!port_vni_.contains(o))
			bpf_map_delete_elem(fd, &o);
	for (const auto &[ifindex, vni] : port_vni_)
		if (bpf_map_update_elem(fd, &ifindex, &vni, BPF_ANY))
			throw std::system_error(errno, std::generic_category(),
						"dataplane/linux: write port map");
	for (const auto &[ifindex, vni] : port_vni_)
		if (ifindex < words.size() && words[ifindex] != (DP_PORT_W_PRESENT | vni))
			words[ifindex] = DP_PORT_W_PRESENT | vni;
	forget_port_macs(0); // a previous run's MACs on ports gone since
}

// The ceiling's buckets start full with this run's rates and depths.
// Written under their lock (BPF_F_LOCK): programs of a previous run may be
// taking tokens meanwhile.
void LinuxDataplane::configure_ceiling()
{
	dp_ceiling c{};
	c.bits.rate = cfg_.mirror_ceiling_bps;
	if (c.bits.rate) {
		c.bits.burst = mirror_ceiling_burst_octets(cfg_) * 8 * DP_TOKEN_SCALE;
		c.bits.fill_ns = dp_bucket_fill_ns(c.bits.burst, c.bits.rate);
	}
	c.packets.rate = cfg_.mirror_ceiling_pps;
	if (c.packets.rate) {
		c.packets.burst = mirror_ceiling_packet_burst(cfg_) * DP_TOKEN_SCALE;
		c.packets.fill_ns = dp_bucket_fill_ns(c.packets.burst, c.packets.rate);
	}
	const dp_u32 zero = 0;
	if (bpf_map_update_elem(map_fd_ceiling(*bpf_), &zero, &c, BPF_F_LOCK))
		throw std::system_error(errno, std::generic_category(),
					"dataplane/linux: write mirror ceiling");
}

// One element of a per-CPU array of struct dp_stats, summed.
Counters LinuxDataplane::percpu(int fd, dp_u32 idx)
{
	static const int ncpus = libbpf_num_possible_cpus();
	Counters c;
	if (ncpus <= 0)
		return c;
	std::vector<dp_stats> v(static_cast<std::size_t>(ncpus));
	if (bpf_map_lookup_elem(fd, &idx, v.data()) != 0)
		return c;
	for (const auto &s : v) {
		c.packets += s.packets;
		c.bytes += s.bytes;
		c.drops += s.drops;
	}
	return c;
}

namespace {

// (VNI, VTEP) as the decap program looks it up; nullopt: not a valid pair
// (VNI 0 or above 2^24-1, an IPv6 or zero address).
std::optional<dp_decap_src_key> decap_src_key(std::uint32_t vni, const IpAddr &vtep)
{
	if (vni == 0 || vni > 0xffffff || vtep.family != IpAddr::Family::V4)
		return std::nullopt;
	dp_decap_src_key k{};
	k.vni = vni;
	std::memcpy(&k.vtep, vtep.bytes.data(), 4);
	if (!k.vtep)
		return std::nullopt;
	return k;
}

} // namespace

std::error_code LinuxDataplane::add_decap_source(std::uint32_t vni, const IpAddr &vtep)
{
	auto k = decap_src_key(vni, vtep);
	if (!k)
		return std::make_error_code(std::errc::invalid_argument);
	const dp_u32 one = 1;
	if (bpf_map_update_elem(map_fd_decap_src(*bpf_), &*k, &one, BPF_ANY) != 0)
		return {errno, std::generic_category()}; // full: E2BIG
	return {};
}

std::error_code LinuxDataplane::remove_decap_source(std::uint32_t vni, const IpAddr &vtep)
{
	auto k = decap_src_key(vni, vtep);
	if (!k)
		return std::make_error_code(std::errc::invalid_argument);
	if (bpf_map_delete_elem(map_fd_decap_src(*bpf_), &*k) != 0 && errno != ENOENT)
		return {errno, std::generic_category()};
	return {};
}

std::vector<std::pair<std::uint32_t, IpAddr>> LinuxDataplane::decap_sources() const
{
	std::vector<std::pair<std::uint32_t, IpAddr>> out;
	const int fd = map_fd_decap_src(*bpf_);
	dp_decap_src_key k{}, next{};
	dp_decap_src_key *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		IpAddr ip;
		std::memcpy(ip.bytes.data(), &next.vtep, 4);
		out.emplace_back(next.vni, ip);
		k = next;
		prev = &k;
	}
	std::sort(out.begin(), out.end());
	return out;
}

DecapDrops LinuxDataplane::decap_drops() const
{
	DecapDrops d;
	const int g = map_fd_gstats(*bpf_);
	d.no_tunnel_metadata = percpu(g, DP_GSTAT_DECAP_NOMETA).drops;
	d.unknown_host_id = percpu(g, DP_GSTAT_DECAP_UNKNOWN).drops;
	d.unknown_source = tstat(DP_TSTAT_DECAP_SOURCE).drops;
	return d;
}

CeilingCounters LinuxDataplane::ceiling_counters() const
{
	const Counters pass = tstat(DP_TSTAT_CEIL_PASS), drop = tstat(DP_TSTAT_CEIL_DROP);
	return {pass.packets, pass.bytes, drop.packets, drop.bytes, drop.drops};
}

// The TAI offset changes when a time daemon announces a leap second (or
// sets it for the first time): checked every second, written when changed.
void LinuxDataplane::refresh_tai()
{
	const std::int64_t t = tai_offset();
	if (t == tai_s_)
		return;
	const dp_u32 zero = 0;
	dp_config c{};
	if (bpf_map_lookup_elem(map_fd_config(*bpf_), &zero, &c) != 0)
		return;
	c.tai_offset_ns = static_cast<dp_u64>(t) * 1000000000ull;
	if (bpf_map_update_elem(map_fd_config(*bpf_), &zero, &c, BPF_ANY) == 0)
		tai_s_ = t;
}

void LinuxDataplane::setup_events()
{
	timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
	if (!timer_ || !epoll_)
		throw std::system_error(errno, std::generic_category(),
					"dataplane/linux: timerfd/epoll");
	itimerspec its{};
	its.it_interval.tv_sec = 1;
	its.it_value.tv_sec = 1;
	::timerfd_settime(timer_.get(), 0, &its, nullptr);
	for (int fd : {fdb_->fd(), timer_.get()}) {
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
			throw std::system_error(errno, std::generic_category(),
						"dataplane/linux: epoll_ctl");
	}
}

LinuxDataplane::~LinuxDataplane()
{
	if (cfg_.keep_on_exit) {
		for (auto &[_, f] : filters_)
			f.release();
		for (auto &[_, f] : egress_filters_)
			f.release();
		decap_filter_->release();
		mirror_egress_filter_->release();
		erspan_filter_->release();
		erspan_hop_filter_->release();
		mirror_->release();
		erspan_->release();
		return;
	}
	egress_filters_.clear();
	filters_.clear();
	erspan_hop_filter_.reset();
	erspan_filter_.reset();
	mirror_egress_filter_.reset();
	decap_filter_.reset();
	sweep_links(cfg_.pin_dir, {}); // a clean exit leaves no link pinned
	bpf_->unpin();
}

std::set<std::string> LinuxDataplane::owned_links() const
{
	std::set<std::string> owned;
	auto add = [&](const TcFilter *f) {
		if (f && !f->link_pin().empty())
			owned.insert(f->link_pin());
	};
	for (const auto *f : {decap_filter_.get(), mirror_egress_filter_.get(),
			      erspan_filter_.get(), erspan_hop_filter_.get()})
		add(f);
	for (const auto &[_, f] : filters_)
		add(&f);
	for (const auto &[_, f] : egress_filters_)
		add(&f);
	return owned;
}

} // namespace

} // namespace linux_dp

std::unique_ptr<Dataplane> make_linux_dataplane(const Config &config)
{
	return std::make_unique<linux_dp::LinuxDataplane>(config);
}

} // namespace evpnmon::dp
