#include "core/engine.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <algorithm>

namespace evpnmon::consumer {

const char *to_string(Gate gate)
{
	switch (gate) {
	case Gate::Feed:
		return "feed";
	case Gate::LocalMacs:
		return "local-macs";
	case Gate::Fpm:
		return "fpm";
	}
	return "?";
}

Engine::Engine(dp::Dataplane &dataplane, EngineConfig config)
    : dp_(dataplane), config_(std::move(config)), reconciler_(dataplane),
      macs_(!config_.bridge_ifindex_to_vni.empty())
{
	if (config_.wall_clock)
		macs_.set_wall_clock(config_.wall_clock);
}

void Engine::drop_kept_ports()
{
	if (!config_.port_exists)
		return;
	const auto n = macs_.drop_kept_local(config_.port_exists);
	counters_.kept_dropped_port_gone += n;
	// Rare, and the table does not say which MACs: one full pass.
	if (n > 0)
		rebuild_ = full_ = true;
}

void Engine::local_mac(const dp::MacEvent &event)
{
	++counters_.local_mac_events;
	bool changed;
	if (event.kind == dp::MacEvent::Kind::Learned)
		changed = macs_.set(MacSource::Local, event.vni, event.mac,
				    MacLocation::local(event.ifindex));
	else
		changed = macs_.erase(MacSource::Local, event.vni, event.mac);
	counters_.local_mac_changes += changed;
	mac_changed(changed, event.vni, event.mac);
	if (event.kind == dp::MacEvent::Kind::Removed && changed) {
		// A kept local server location needs its port (removed with it?).
		const auto loc = macs_.locate(event.vni, event.mac);
		if (loc.kept && loc.kind == MacLocation::Kind::Local)
			drop_kept_ports();
	}
}

bool Engine::bridge_neigh(const NeighUpdate &u)
{
	// The bridge's own (master) entry: NDA_MASTER, no NTF_SELF. On the VXLAN
	// device it says "remote"; on another port of an L2VNI bridge, "local".
	if ((u.flags & NTF_SELF) || !u.master || !u.mac || (u.state & NUD_PERMANENT))
		return false;
	static constexpr Mac zero{};
	if (*u.mac == zero)
		return false;
	std::uint32_t vni;
	bool on_vxlan;
	if (auto v = config_.vxlan_ifindex_to_vni.find(u.ifindex);
	    v != config_.vxlan_ifindex_to_vni.end()) {
		vni = v->second;
		on_vxlan = true;
	} else if (auto b = config_.bridge_ifindex_to_vni.find(*u.master);
		   b != config_.bridge_ifindex_to_vni.end()) {
		vni = b->second;
		on_vxlan = false;
	} else {
		return false;
	}
	++counters_.bridge_fdb_events;
	if (!u.add && on_vxlan) {
		// zebra's exit flush removes the bridge's entry together with the
		// self entry: deferred alike (see neigh()), or the self entry would
		// stop counting at once (MacTable: only with the bridge's entry).
		macs_.mark_bridge_stale(vni, *u.mac);
		kernel_deletes_.push_back({vni, *u.mac, config_.kernel_delete_delay_ticks, true});
		++counters_.kernel_deferred_deletes;
	} else if (!u.add)
		mac_changed(macs_.erase_bridge(vni, *u.mac, u.ifindex, on_vxlan), vni, *u.mac);
	else
		mac_changed(macs_.set_bridge(vni, *u.mac,
					     on_vxlan ? std::nullopt : std::optional<std::uint32_t>(u.ifindex)),
			    vni, *u.mac);
	return true;
}

void Engine::neigh(MacSource source, const NeighUpdate &u)
{
	++counters_.neigh_events;
	if (source == MacSource::Kernel && bridge_neigh(u))
		return;
	auto vni = config_.vxlan_ifindex_to_vni.find(u.ifindex);
	if (vni == config_.vxlan_ifindex_to_vni.end() || !u.mac) {
		++counters_.neigh_ignored;
		return;
	}
	static constexpr Mac zero{};
	if (*u.mac == zero) { // BUM flood entry, not a host
		++counters_.neigh_ignored;
		return;
	}
	if (!u.add) {
		if (source == MacSource::Kernel) {
			// zebra flushes its remote MACs from the kernel when it stops:
			// keep the record (stale) for a few ticks; if zebra turns out to
			// be gone, until the resync after its return confirms or sweeps it.
			macs_.mark_stale(source, vni->second, *u.mac);
			kernel_deletes_.push_back({vni->second, *u.mac, config_.kernel_delete_delay_ticks, false});
			++counters_.kernel_deferred_deletes;
			return;
		}
		mac_changed(macs_.erase(source, vni->second, *u.mac), vni->second, *u.mac);
		return;
	}
	if (!u.dst) {
		// The bridge's own (master) copy of the entry carries no NDA_DST;
		// the VXLAN device's (self) copy does. NH_ID is EVPN multihoming.
		if (u.nh_id)
			++counters_.neigh_unsupported;
		else
			++counters_.neigh_ignored;
		return;
	}
	mac_changed(macs_.set(source, vni->second, *u.mac, MacLocation::remote(*u.dst)), vni->second,
		    *u.mac);
}

void Engine::route(const RouteUpdate &u)
{
	++counters_.route_events;
	if (u.table != config_.main_table)
		return;
	if (!u.add) {
		if (routes_.del_route(u.dst, u.dst_len))
			incremental_.routes_changed();
		return;
	}
	RouteTable::Route r;
	r.usable = !(u.type == RTN_BLACKHOLE || u.type == RTN_UNREACHABLE || u.type == RTN_PROHIBIT);
	r.nh_id = u.nh_id;
	if (routes_.add_route(u.dst, u.dst_len, r))
		incremental_.routes_changed();
}

void Engine::nexthop(const NexthopUpdate &u)
{
	++counters_.nexthop_events;
	if (u.add ? routes_.add_nexthop(u.id, !u.blackhole) : routes_.del_nexthop(u.id))
		incremental_.routes_changed();
}

void Engine::replace_sessions(const std::vector<Session> &sessions)
{
	++counters_.session_events;
	std::map<SessionKey, Session> fresh;
	for (const auto &s : sessions)
		fresh[s.key] = s;
	if (fresh == sessions_)
		return;
	// Pin the new servers first: a server in both keeps its kept location.
	for (const auto &[k, s] : fresh)
		if (auto it = sessions_.find(k); it == sessions_.end() || !(it->second == s))
			pin(s);
	for (auto it = sessions_.begin(); it != sessions_.end();) {
		auto f = fresh.find(it->first);
		if (f != fresh.end() && f->second == it->second) {
			++it;
			continue;
		}
		incremental_.remove(it->second);
		unpin(it->second);
		if (f == fresh.end()) {
			it = sessions_.erase(it);
			continue;
		}
		it->second = f->second;
		incremental_.add(it->second);
		++it;
	}
	for (const auto &[k, s] : fresh)
		if (auto [it, inserted] = sessions_.try_emplace(k, s); inserted)
			incremental_.add(it->second);
}

void Engine::upsert_session(const Session &session)
{
	++counters_.session_events;
	auto [it, inserted] = sessions_.try_emplace(session.key, session);
	if (inserted) {
		pin(session);
		incremental_.add(it->second);
	} else if (!(it->second == session)) {
		pin(session);
		incremental_.remove(it->second);
		unpin(it->second);
		it->second = session;
		incremental_.add(it->second);
	}
}

void Engine::erase_session(const SessionKey &key)
{
	++counters_.session_events;
	auto it = sessions_.find(key);
	if (it == sessions_.end())
		return;
	incremental_.remove(it->second);
	unpin(it->second);
	sessions_.erase(it);
}

void Engine::open_gate(Gate gate)
{
	auto &g = gates_[static_cast<std::size_t>(gate)];
	if (!g) {
		g = true;
		full_ = true;
	}
}

bool Engine::all_gates_open() const
{
	return std::all_of(gates_.begin(), gates_.end(), [](bool g) { return g; });
}

void Engine::fpm_lost()
{
	macs_.mark_stale(MacSource::Fpm);
	routes_.mark_stale();
	fpm_resyncing_ = true;
}

void Engine::fpm_resync_done()
{
	if (!fpm_resyncing_)
		return;
	const auto swept = macs_.sweep_stale(MacSource::Fpm) + macs_.sweep_stale(MacSource::Kernel) +
			   routes_.sweep_stale();
	counters_.fpm_stale_swept += swept;
	kernel_deletes_.clear();
	fpm_resyncing_ = false;
	if (swept > 0) // a resync may change any MAC: one full pass
		rebuild_ = full_ = true;
}

void Engine::tick()
{
	retry_due_ = !reconciler_.failed().empty();
	drop_kept_ports();
	if (fpm_resyncing_)
		return; // zebra away: decided by fpm_resync_done()
	for (auto it = kernel_deletes_.begin(); it != kernel_deletes_.end();) {
		if (it->ticks_left > 0) {
			--it->ticks_left;
			++it;
			continue;
		}
		// Still stale (no re-add since): the deletion stands.
		if (it->bridge && macs_.is_bridge_stale(it->vni, it->mac))
			mac_changed(macs_.erase_bridge(it->vni, it->mac, 0, true), it->vni, it->mac);
		else if (!it->bridge && macs_.is_stale(MacSource::Kernel, it->vni, it->mac))
			mac_changed(macs_.erase(MacSource::Kernel, it->vni, it->mac), it->vni, it->mac);
		it = kernel_deletes_.erase(it);
	}
}

void Engine::local_resync_begin()
{
	macs_.mark_stale(MacSource::Local);
	audit_events_before_ = counters_.local_mac_changes;
}

void Engine::local_resync_done()
{
	const auto swept = macs_.sweep_stale(MacSource::Local);
	counters_.local_audit_fixes += swept + (counters_.local_mac_changes - audit_events_before_);
	if (swept > 0)
		rebuild_ = full_ = true;
}

void Engine::kernel_resync_begin()
{
	macs_.mark_stale(MacSource::Kernel);
}

void Engine::kernel_resync_done()
{
	if (macs_.sweep_stale(MacSource::Kernel) > 0)
		rebuild_ = full_ = true;
}

Desired Engine::preview() const
{
	return decide(sessions_, macs_, routes_, config_.decision);
}

ReconcileStats Engine::full_pass()
{
	++counters_.full_passes;
	bool rebuild = !built_ || rebuild_;
	if (!rebuild) {
		// The check: the incremental state against a recomputation of all.
		incremental_.settle();
		const Desired all = decide(sessions_, macs_, routes_, config_.decision, false);
		const auto diff = differences(incremental_.desired(), all);
		counters_.full_pass_differences += diff;
		rebuild = diff > 0;
	}
	if (rebuild) {
		incremental_.clear();
		for (const auto &[key, s] : sessions_)
			incremental_.add(s);
		incremental_.settle();
	}
	built_ = true;
	full_ = rebuild_ = false;
	return reconciler_.apply(incremental_.desired().entries);
}

std::optional<ReconcileStats> Engine::reconcile(bool force)
{
	if (!all_gates_open() || (!dirty() && !force))
		return std::nullopt;
	ReconcileStats st;
	if (full_ || force || !reconciler_.in_sync())
		st = full_pass();
	else {
		const auto changed = incremental_.settle();
		st = reconciler_.apply(incremental_.desired().entries, changed, retry_due_);
	}
	retry_due_ = false;
	++counters_.reconciles;
	counters_.totals.installed += st.installed;
	counters_.totals.replaced += st.replaced;
	counters_.totals.removed += st.removed;
	counters_.totals.errors += st.errors;
	counters_.capacity_errors += st.capacity_errors;
	if (st.errors)
		counters_.totals.last_error = st.last_error;
	counters_.totals.unchanged = st.unchanged;
	// Failed keys (a full map or another error) wait for tick().
	return st;
}

} // namespace evpnmon::consumer
