#include "core/engine.hpp"

#include "core/heap.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <limits>

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
      audit_(config_.audit_history, config_.audit_sink, config_.audit_clock),
      macs_(!config_.bridge_ifindex_to_vni.empty())
{
	if (config_.wall_clock)
		macs_.set_wall_clock(config_.wall_clock);
}

void Engine::drop_kept_ports()
{
	if (!config_.port_exists)
		return;
	// A server whose port left this VTEP with it (moved to another leaf):
	// only its own place is computed again, not every session.
	const auto dropped = macs_.drop_kept_local(config_.port_exists);
	counters_.kept_dropped_port_gone += dropped.size();
	for (const auto &[vni, mac] : dropped)
		incremental_.server_mac_changed(vni, mac);
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
		// The kernel's flood list of the VNI's VXLAN device holds the
		// remote VTEPs zebra installs from IMET routes: the VTEPs a copy
		// may come from (decapsulation sources). zebra does not send
		// them over FPM.
		if (source == MacSource::Kernel && config_.decap_sources && u.dst && !u.nh_id)
			flood_entry(u, vni->second);
		else if (source == MacSource::Kernel && config_.decap_sources && u.dst_ipv6)
			++counters_.decap_source_unsupported;
		else
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

namespace {

// Everything the decision looks at is equal (the import reason aside).
bool same_for_decision(const Session &a, const Session &b)
{
	return a.key == b.key && a.server_mac == b.server_mac && a.server_ip == b.server_ip &&
	       a.local == b.local && a.id == b.id && a.options == b.options &&
	       a.import_state == b.import_state;
}

// What the audit records as a change of an installed session: where its
// copies go, and how (the profile).
bool destination_or_profile_changed(const Session &a, const Session &b)
{
	return a.server_mac != b.server_mac || a.server_ip != b.server_ip ||
	       !(a.options == b.options);
}

AuditEvent::Kind held_kind(ImportState state)
{
	return state == ImportState::OverLimit ? AuditEvent::Kind::Refuse : AuditEvent::Kind::Deny;
}

} // namespace

void Engine::install(const Session &s)
{
	pin(s);
	auto [it, inserted] = sessions_.insert_or_assign(s.key, s);
	incremental_.add(it->second);
}

void Engine::uninstall(std::map<SessionKey, Session>::iterator it)
{
	incremental_.remove(it->second);
	unpin(it->second);
	sessions_.erase(it);
}

void Engine::replace_sessions(const std::vector<Session> &sessions, const std::string &cause)
{
	++counters_.session_events;
	std::map<SessionKey, Session> fresh;
	for (const auto &s : sessions)
		fresh[s.key] = s;
	// Pin the new servers first: a server in both keeps its kept location.
	for (const auto &[k, s] : fresh)
		if (auto it = sessions_.find(k);
		    s.installed() && (it == sessions_.end() || !(it->second == s)))
			pin(s);
	// Held sessions: withdrawn, flipped to installed, or still held.
	for (auto it = held_.begin(); it != held_.end();) {
		auto f = fresh.find(it->first);
		if (f == fresh.end()) {
			audit(AuditEvent::Kind::Forget, it->second, it->second.import_state, cause);
			it = held_.erase(it);
			continue;
		}
		const auto previous = it->second.import_state;
		if (f->second.installed()) { // pinned above
			auto [s, inserted] = sessions_.insert_or_assign(f->first, f->second);
			incremental_.add(s->second);
			audit(AuditEvent::Kind::Install, f->second, previous, f->second.import_reason);
			it = held_.erase(it);
			continue;
		}
		it->second = f->second;
		if (previous != f->second.import_state)
			audit(held_kind(f->second.import_state), f->second, previous,
			      f->second.import_reason);
		++it;
	}
	// Installed sessions: unchanged, changed, withdrawn, or now held.
	for (auto it = sessions_.begin(); it != sessions_.end();) {
		auto f = fresh.find(it->first);
		if (f != fresh.end() && f->second.installed()) {
			if (f->second == it->second) {
				++it;
				continue;
			}
			if (same_for_decision(f->second, it->second)) {
				unpin(it->second); // pinned again above: the same server
				it->second.import_reason = f->second.import_reason;
				++it;
				continue;
			}
		}
		incremental_.remove(it->second);
		unpin(it->second);
		if (f == fresh.end()) {
			audit(AuditEvent::Kind::Remove, it->second, ImportState::Installed, cause);
			it = sessions_.erase(it);
			continue;
		}
		if (!f->second.installed()) {
			audit(held_kind(f->second.import_state), f->second, ImportState::Installed,
			      f->second.import_reason);
			held_[f->first] = f->second;
			it = sessions_.erase(it);
			continue;
		}
		if (destination_or_profile_changed(it->second, f->second))
			audit(AuditEvent::Kind::Update, f->second, ImportState::Installed,
			      f->second.import_reason);
		it->second = f->second;
		incremental_.add(it->second);
		++it;
	}
	// New to this VTEP.
	for (const auto &[k, s] : fresh) {
		if (s.installed()) {
			if (auto [it, inserted] = sessions_.try_emplace(k, s); inserted) {
				incremental_.add(it->second);
				audit(AuditEvent::Kind::Install, s, std::nullopt, s.import_reason);
			}
		} else if (auto [it, inserted] = held_.try_emplace(k, s); inserted) {
			audit(held_kind(s.import_state), s, std::nullopt, s.import_reason);
		}
	}
}

void Engine::upsert_session(const Session &session)
{
	++counters_.session_events;
	const auto &k = session.key;
	auto it = sessions_.find(k);
	auto h = held_.find(k);
	if (session.installed()) {
		if (it != sessions_.end()) {
			if (it->second == session)
				return;
			if (same_for_decision(it->second, session)) {
				it->second.import_reason = session.import_reason;
				return;
			}
			const bool audited = destination_or_profile_changed(it->second, session);
			pin(session);
			incremental_.remove(it->second);
			unpin(it->second);
			it->second = session;
			incremental_.add(it->second);
			if (audited)
				audit(AuditEvent::Kind::Update, session, ImportState::Installed,
				      session.import_reason);
			return;
		}
		std::optional<ImportState> previous;
		if (h != held_.end()) {
			previous = h->second.import_state;
			held_.erase(h);
		}
		install(session);
		audit(AuditEvent::Kind::Install, session, previous, session.import_reason);
		return;
	}
	// Denied or over a limit: held, never decided on.
	std::optional<ImportState> previous;
	if (it != sessions_.end()) {
		previous = ImportState::Installed;
		uninstall(it);
	} else if (h != held_.end()) {
		previous = h->second.import_state;
	}
	held_[k] = session;
	if (previous != session.import_state)
		audit(held_kind(session.import_state), session, previous, session.import_reason);
}

void Engine::erase_session(const SessionKey &key, const std::string &cause)
{
	++counters_.session_events;
	if (auto it = sessions_.find(key); it != sessions_.end()) {
		audit(AuditEvent::Kind::Remove, it->second, ImportState::Installed, cause);
		uninstall(it);
	} else if (auto h = held_.find(key); h != held_.end()) {
		audit(AuditEvent::Kind::Forget, h->second, h->second.import_state, cause);
		held_.erase(h);
	}
}

void Engine::flood_entry(const NeighUpdate &u, std::uint32_t vni)
{
	++counters_.decap_source_events;
	const DecapSource source{vni, *u.dst};
	if (u.add) {
		auto [it, inserted] = flood_.try_emplace(source);
		// Confirmed, and a pending deletion cancelled (its generation no
		// longer matches: a later deletion starts its own deferral).
		it->second = FloodState{};
		if (inserted) {
			decap_pending_.insert(source);
			decap_dirty_ = true;
		}
		return;
	}
	auto it = flood_.find(source);
	if (it == flood_.end())
		return;
	// zebra flushes its flood entries from the kernel when it stops, as it
	// does its MACs: the deletion stands only after a few ticks with zebra
	// connected, or when the resync after its return does not confirm it.
	it->second.deleted = true;
	it->second.generation = ++flood_generation_;
	flood_deletes_.push_back({source, it->second.generation, config_.kernel_delete_delay_ticks});
	++counters_.kernel_deferred_deletes;
}

std::set<DecapSource> Engine::decap_sources() const
{
	std::set<DecapSource> out;
	for (const auto &[source, state] : flood_)
		out.insert(source);
	return out;
}

void Engine::sync_decap()
{
	decap_dirty_ = false;
	if (!config_.decap_sources)
		return;
	auto addr = [](const Ipv4 &v4) {
		IpAddr ip;
		std::copy(v4.begin(), v4.end(), ip.bytes.begin());
		return ip;
	};
	if (!decap_read_) {
		// A previous run's sources (pinned maps): kept while they are
		// right, so a restart does not stop decapsulation.
		for (const auto &[vni, ip] : dp_.decap_sources()) {
			if (ip.family != IpAddr::Family::V4) {
				decap_foreign_.insert({vni, ip}); // never right: FRR 8.4's VTEPs are IPv4
				continue;
			}
			Ipv4 v4;
			std::copy_n(ip.bytes.begin(), 4, v4.begin());
			decap_applied_.insert({vni, v4});
		}
		decap_read_ = true;
		decap_full_ = true;
	}
	// Normally only the pairs whose flood entry came or went, and those
	// that failed; every pair at the first sync and after each complete
	// kernel dump (which may have changed any of them).
	std::set<DecapSource> check;
	if (decap_full_) {
		for (const auto &[source, state] : flood_)
			check.insert(source);
		check.insert(decap_applied_.begin(), decap_applied_.end());
	} else {
		check = std::move(decap_pending_);
		check.insert(decap_failed_.begin(), decap_failed_.end());
	}
	decap_pending_.clear();
	decap_failed_.clear();
	counters_.decap_source_checks += check.size();
	for (const auto &source : check) {
		const bool wanted = flood_.contains(source), held = decap_applied_.contains(source);
		if (wanted == held)
			continue;
		if (!wanted && !kernel_dumped_) {
			// Removals only once the kernel's flood list has been read
			// whole: until then a source the dataplane holds may well
			// still be right (the full walk after the dump decides).
			continue;
		}
		const auto err = wanted ? dp_.add_decap_source(source.first, addr(source.second))
					: dp_.remove_decap_source(source.first, addr(source.second));
		if (err) {
			++counters_.decap_source_errors;
			decap_failed_.insert(source);
			continue;
		}
		if (wanted) {
			decap_applied_.insert(source);
			++counters_.decap_sources_added;
		} else {
			decap_applied_.erase(source);
			++counters_.decap_sources_removed;
		}
	}
	if (decap_full_ && kernel_dumped_)
		for (auto it = decap_foreign_.begin(); it != decap_foreign_.end();) {
			if (dp_.remove_decap_source(it->first, it->second)) {
				++counters_.decap_source_errors;
				++it; // retried at the next full walk (the next dump)
				continue;
			}
			++counters_.decap_sources_removed;
			it = decap_foreign_.erase(it);
		}
	if (kernel_dumped_)
		decap_full_ = false;
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
	// Deleted while zebra was away and not reinstalled since: gone. One a
	// running kernel dump has merely not listed yet is that dump's to decide.
	for (auto it = flood_.begin(); it != flood_.end();)
		if (it->second.deleted) {
			flood_erase(it++);
			decap_dirty_ = true;
		} else {
			++it;
		}
	flood_deletes_.clear();
	fpm_resyncing_ = false;
	if (swept > 0) // a resync may change any MAC: one full pass
		rebuild_ = full_ = true;
}

void Engine::tick()
{
	retry_due_ = reconciler_.retry_wanted();
	decap_dirty_ |= !decap_failed_.empty();
	drop_kept_ports();
	if (fpm_resyncing_)
		return; // zebra away: decided by fpm_resync_done()
	for (auto it = flood_deletes_.begin(); it != flood_deletes_.end();) {
		if (it->ticks_left > 0) {
			--it->ticks_left;
			++it;
			continue;
		}
		// Still deleted by this very deletion (no re-add, no later
		// deletion with its own deferral): it stands.
		if (auto f = flood_.find(it->source); f != flood_.end() && f->second.deleted &&
						       f->second.generation == it->generation) {
			flood_erase(f);
			decap_dirty_ = true;
		}
		it = flood_deletes_.erase(it);
	}
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
	for (auto &[source, state] : flood_)
		state.unconfirmed = true;
}

void Engine::kernel_resync_done()
{
	if (macs_.sweep_stale(MacSource::Kernel) > 0)
		rebuild_ = full_ = true;
	// What the dump did not list is gone; a deletion it did not contradict
	// (deleted after the dump listed it) keeps its own deferral.
	std::erase_if(flood_, [](const auto &f) { return f.second.unconfirmed; });
	kernel_dumped_ = decap_full_ = decap_dirty_ = true;
}

Desired Engine::preview() const
{
	return decide(sessions_, macs_, routes_, config_.decision);
}

bool Engine::check_all()
{
	++counters_.full_passes;
	check_due_ = false;
	drop_check(); // this pass checks everything
	bool rebuild = !built_ || rebuild_;
	if (!rebuild) {
		// The check: the incremental state against a recomputation of all.
		incremental_.settle();
		{
			Desired all = decide(sessions_, macs_, routes_, config_.decision, false,
					     &spare_entries_);
			const auto diff = differences(incremental_.desired(), all);
			counters_.full_pass_differences += diff;
			rebuild = diff > 0;
			keep_spare(std::move(all.entries));
			release_.release(std::move(all));
		}
		sort_freed(); // what the recomputation freed (its spare left over)
	}
	if (rebuild)
		rebuild_incremental();
	built_ = true;
	rebuild_ = false;
	return rebuild;
}

void Engine::keep_spare(EntryMap &&entries)
{
	release_.release(std::move(spare_entries_));
	spare_entries_ = std::move(entries);
}

void Engine::rebuild_incremental()
{
	incremental_.clear();
	for (const auto &[key, s] : sessions_)
		incremental_.add(s);
	incremental_.settle();
}

void Engine::ask_reread()
{
	reconciler_.begin_refresh();
	reread_due_ = true;
	drop_check(); // an audit begins: a check left over is stale
}

void Engine::reread_part(bool whole)
{
	if (!reconciler_.refreshing()) {
		// Read whole by a pass's first read of the dataplane (asked before
		// the consumer had read it), which diffed whole after it.
		reread_due_ = false;
		return;
	}
	++counters_.audit_parts;
	const auto budget = whole ? std::numeric_limits<std::size_t>::max()
				  : 2 * std::max<std::size_t>(config_.audit_part_sessions, 1);
	if (!reconciler_.refresh_part(budget))
		return;
	reread_due_ = false;
	// Servers nothing names go at a pass's flush: the next one, when the
	// re-read ends outside a pass (reread()).
	flush_due_ = reconciler_.idle_servers();
	// What the passes during the re-read diffed whole (a full pass) was
	// diffed against keys not read yet: the repair diffs whole again,
	// and a diff under way starts again, on what was read.
	diffed_whole_ = false;
	if (repair_)
		repair_.emplace();
}

bool Engine::check_part(bool whole)
{
	if (pending_check_ && !pending_check_->deciding)
		drop_check(); // asked again: a decision made before is stale
	if (!pending_check_) {
		if (!built_ || rebuild_) {
			check_due_ = false;
			return check_all(); // built anew: nothing to compare
		}
		auto &c = pending_check_.emplace();
		c.deciding = std::make_unique<PartialDecision>(&spare_entries_);
		c.generation = incremental_.generation();
	}
	auto &c = *pending_check_;
	++counters_.audit_parts;
	const auto limit =
		whole ? sessions_.size() + 1 : std::max<std::size_t>(config_.audit_part_sessions, 1);
	if (!c.deciding->step(sessions_, macs_, routes_, config_.decision, limit))
		return false;
	c.decided = c.deciding->finish();
	c.deciding.reset();
	check_due_ = false;
	const auto &now = incremental_.desired();
	c.summary.counters = now.counters;
	c.summary.servers = now.servers;
	c.summary.unsupported_collectors = now.unsupported_collectors;
	c.summary_whole = c.generation == incremental_.generation();
	return false;
}

void Engine::note_window(const IncrementalDecision::Changes &changed)
{
	auto &c = *pending_check_;
	for (const auto &key : changed.entries)
		c.changed_slots.insert(slot_of(key));
	c.changed_slots.insert(changed.slots.begin(), changed.slots.end());
	c.changed_servers.insert(changed.servers.begin(), changed.servers.end());
	if (c.changed_slots.size() + c.changed_servers.size() >
	    incremental_.desired().entries.size() / 4 + 64) {
		if (c.deciding)
			check_due_ = false; // the step is over: nothing to compare
		drop_check();
	}
}

void Engine::repair_part(ReconcileStats &st, bool whole)
{
	++counters_.audit_parts;
	if (!repair_)
		repair_.emplace();
	auto &r = *repair_;
	// A part's work: keys of the comparison and of the diff together.
	std::size_t budget = whole ? std::numeric_limits<std::size_t>::max()
				   : 2 * std::max<std::size_t>(config_.audit_part_sessions, 1);
	if (!r.compared && pending_check_) {
		auto &c = *pending_check_;
		const auto &now = incremental_.desired();
		std::optional<dp::EntryKey> next;
		r.differences += entry_differences(now.entries, c.decided.entries, c.changed_slots,
						   r.from, budget, next);
		r.from = next;
		if (next)
			return;
		// Compared: counted, and a wrong state built anew (then diffed
		// whole).
		auto diff = r.differences;
		if (c.summary_whole)
			diff += summary_differs(c.summary, c.decided);
		else
			diff += server_differences(now.servers, c.decided.servers, c.changed_servers) > 0;
		++counters_.full_passes;
		counters_.full_pass_differences += diff;
		keep_spare(std::move(c.decided.entries));
		release_.release(std::move(c));
		pending_check_.reset();
		sort_freed(); // its changed slots, the spare left over
		if (diff > 0) {
			rebuild_incremental();
			diffed_whole_ = false;
		}
		r.compared = true;
		r.from.reset(); // the diff from the first key
	}
	r.compared = true; // nothing (more) to compare: none decided, or dropped
	// A whole diff since the re-read: the passes since diffed what changed.
	if (!diffed_whole_) {
		const auto &d = incremental_.desired();
		if (budget == 0)
			return; // the diff from the next part on
		r.from = reconciler_.apply_part(d.entries, d.servers, r.from, budget, st);
		if (r.from)
			return;
		diffed_whole_ = true;
	}
	repair_.reset();
	repair_due_ = false;
}

void Engine::drop_check()
{
	if (!pending_check_)
		return;
	auto &c = *pending_check_;
	// A repair comparing it diffs from the first key instead.
	if (repair_ && !repair_->compared) {
		repair_->from.reset();
		repair_->differences = 0;
	}
	if (c.deciding) {
		// Its spare nodes are taken from spare_entries_: the decision
		// goes first, what it decided becomes the spare.
		auto decided = c.deciding->take_entries();
		c.deciding.reset();
		keep_spare(std::move(decided));
	} else {
		keep_spare(std::move(c.decided.entries));
	}
	release_.release(std::move(c));
	pending_check_.reset();
	sort_freed();
}

ReconcileStats Engine::full_pass()
{
	check_all();
	full_ = audit_whole_ = part_deferred_ = false;
	// The whole diff below is the repair's, unless a re-read is under way:
	// the keys it has not read yet are diffed by the repair after it.
	if (!reread_due_) {
		repair_due_ = false;
		repair_.reset();
	}
	diffed_whole_ = true;
	const auto &d = incremental_.desired();
	return reconciler_.apply(d.entries, d.servers);
}

std::optional<ReconcileStats> Engine::reconcile(bool force)
{
	if (!all_gates_open() || (!dirty() && !force))
		return std::nullopt;
	if (decap_dirty_)
		sync_decap();
	ReconcileStats st;
	if (full_ || force || !reconciler_.in_sync())
		st = full_pass();
	else {
		const auto changed = incremental_.settle(pending_check_.has_value());
		if (pending_check_)
			note_window(changed);
		// A pass that carries events' changes leaves the audit's next
		// part to the next pass, so that their entries do not wait
		// behind it; every other pass at most, so that a stream of
		// events does not stop the audit.
		const bool whole = audit_whole_;
		bool part = reread_due_ || check_due_ || repair_due_;
		if (part && !whole) {
			const bool events = !changed.entries.empty() || !changed.servers.empty();
			part = !events || part_deferred_;
			part_deferred_ = !part;
		}
		bool rebuilt = false, decided = false;
		// The re-read's part first; the other steps wait for its end.
		if (part && reread_due_) {
			reread_part(whole);
			part = whole && !reread_due_;
		}
		if (part && check_due_) {
			rebuilt = check_part(whole);
			decided = true;
		}
		const auto &d = incremental_.desired();
		if (rebuilt) {
			// Built anew: diffed whole at once, which is also what a
			// repair would diff.
			diffed_whole_ = true;
			repair_.reset();
			repair_due_ = false;
			st = reconciler_.apply(d.entries, d.servers);
		} else {
			st = reconciler_.apply(d.entries, d.servers, changed.entries, changed.servers,
					       retry_due_);
			// The repair once the decision is made, in the pass after
			// its last part (all in this one when whole).
			if (part && repair_due_ && !check_due_ && (whole || !decided)) {
				repair_part(st, whole);
				st.unchanged = reconciler_.installed().size() - st.installed - st.replaced;
			}
		}
		if (!reread_due_ && !check_due_ && !repair_due_)
			audit_whole_ = part_deferred_ = false;
	}
	retry_due_ = flush_due_ = false;
	++counters_.reconciles;
	counters_.totals.installed += st.installed;
	counters_.totals.replaced += st.replaced;
	counters_.totals.server_moves += st.server_moves;
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
