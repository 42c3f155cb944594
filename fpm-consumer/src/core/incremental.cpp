#include "core/incremental.hpp"

#include <algorithm>

namespace evpnmon::consumer {

std::size_t IncrementalDecision::MacKeyHash::operator()(const MacTable::Key &k) const noexcept
{
	std::uint64_t v = k.first;
	for (auto b : k.second)
		v = (v << 8) ^ b ^ (v >> 56);
	return static_cast<std::size_t>(v * 0x9E3779B97F4A7C15ull);
}

std::size_t IncrementalDecision::Ipv4Hash::operator()(const Ipv4 &a) const noexcept
{
	const std::uint64_t v = (std::uint64_t{a[0]} << 24) | (std::uint64_t{a[1]} << 16) |
				(std::uint64_t{a[2]} << 8) | a[3];
	return static_cast<std::size_t>(v * 0x9E3779B97F4A7C15ull);
}

void IncrementalDecision::add(const Session &session)
{
	const Session *s = &session;
	auto [it, inserted] = tracked_.try_emplace(s);
	if (!inserted)
		return;
	++generation_;
	if (!s->is_collector()) {
		const ServerMac key{s->key.vni, s->server_mac};
		auto &server = servers_[key];
		if (!server.placed)
			dirty_servers_.insert(key);
		server.sessions.insert(s);
	}
	pending_.insert(s);
}

void IncrementalDecision::remove(const Session &session)
{
	const Session *s = &session;
	auto it = tracked_.find(s);
	if (it == tracked_.end())
		return;
	++generation_;
	unplan(s, it->second);
	if (!s->is_collector()) {
		const ServerMac key{s->key.vni, s->server_mac};
		auto b = servers_.find(key);
		if (b != servers_.end()) {
			b->second.sessions.erase(s);
			if (b->second.sessions.empty()) {
				if (b->second.placed)
					index_vtep(key, b->second.place, ServerPlace{});
				servers_.erase(b);
				dirty_servers_.erase(key);
			}
		}
	}
	tracked_.erase(it);
	pending_.erase(s);
	recount_.erase(s);
}

void IncrementalDecision::server_mac_changed(std::uint32_t vni, const Mac &mac)
{
	const ServerMac key{vni, mac};
	if (servers_.contains(key))
		dirty_servers_.insert(key);
}

void IncrementalDecision::routes_changed()
{
	if (config_.require_vtep_route && !by_vtep_.empty())
		routes_dirty_ = true;
}

void IncrementalDecision::clear()
{
	tracked_.clear();
	slots_.clear();
	servers_.clear();
	dirty_servers_.clear();
	by_vtep_.clear();
	retargeted_.clear();
	pending_.clear();
	dirty_slots_.clear();
	recount_.clear();
	routes_dirty_ = false;
	unsupported_.clear();
	unsupported_dirty_ = false;
	desired_ = {};
	++generation_;
}

// A server behind a remote VTEP, reachable or not, is indexed under that
// VTEP: a change of its reachability is a change of the server's place.
void IncrementalDecision::index_vtep(const ServerMac &key, const ServerPlace &was,
				     const ServerPlace &now)
{
	using Kind = MacLocation::Kind;
	if (was.location.kind == Kind::Remote &&
	    (now.location.kind != Kind::Remote || now.location.vtep != was.location.vtep)) {
		auto v = by_vtep_.find(was.location.vtep);
		if (v != by_vtep_.end()) {
			v->second.servers.erase(key);
			if (v->second.servers.empty())
				by_vtep_.erase(v);
		}
	}
	if (now.location.kind == Kind::Remote) {
		auto [v, fresh] = by_vtep_.try_emplace(now.location.vtep);
		if (fresh)
			v->second.reachable = routes_.reachable(now.location.vtep);
		v->second.servers.insert(key);
	}
}

namespace {

bool is_local(const ServerPlace &p)
{
	return p.status == SessionStatus::Active && p.location.kind == MacLocation::Kind::Local;
}

// The counter of the sessions of a server at this place, if any.
std::uint64_t *place_counter(DecisionCounters &c, SessionStatus status)
{
	switch (status) {
	case SessionStatus::ServerUnknown:
		return &c.server_unknown;
	case SessionStatus::ServerUnreachable:
		return &c.server_unreachable;
	default:
		return nullptr;
	}
}

} // namespace

// The server's place, computed again. Wherever it goes, and also when it
// becomes unknown or unreachable here or comes back, only its targets and
// its entries 3 change (the entries 1/2 name it, the entries 3 hold its
// port and are claimed by it), and the counters by its counted sessions:
// none of its sessions is planned again.
void IncrementalDecision::place(const ServerMac &key, Server &server,
				std::vector<dp::EntryKey> &changed)
{
	const auto now = place_server(key.first, key.second, macs_, routes_, config_);
	if (server.placed && now == server.place)
		return;
	++generation_;
	const ServerPlace was = server.placed ? server.place : ServerPlace{};
	index_vtep(key, was, now);
	server.place = now;
	server.placed = true;
	// Its counted sessions count its status and whether it is kept: from
	// now on, the new values (count() reads them when they are counted
	// again).
	if (now.location.kept != was.location.kept) {
		auto &kept = desired_.counters.server_kept;
		kept = now.location.kept ? kept + server.counted : kept - server.counted;
	}
	if (now.status != was.status) {
		if (auto *c = place_counter(desired_.counters, was.status))
			*c -= server.counted;
		if (auto *c = place_counter(desired_.counters, now.status))
			*c += server.counted;
	}
	const bool claims_changed = is_local(now) != is_local(was);
	for (auto &[host_id, claim] : server.active) {
		if (claims_changed)
			claim_decap(key, server, host_id, claim);
		retarget(dp::ServerKey{key.first, key.second, host_id},
			 server_target(now, key.first, host_id), changed);
	}
}

// The server's claim of its entry 3 under one HOST ID: a member of the slot
// while it is local (and active) and has sessions naming it under the HOST
// ID, keyed by the first of them.
void IncrementalDecision::claim_decap(const ServerMac &key, const Server &server,
				      std::uint16_t host_id, HostId &claim)
{
	const Session *first =
		server.placed && is_local(server.place) && !claim.sessions.empty() ? *claim.sessions.begin()
										 : nullptr;
	if (first == claim.member)
		return;
	auto slot = slots_.try_emplace(dp::EntryKey{dp::EntryKind::Decap, key.first, {}, host_id, {}}).first;
	auto &members = slot->second.members;
	if (claim.member)
		members.erase(claim.member);
	if (first) {
		members.emplace(first, Member{first,
					      EntrySpec(dp::Action::naming({key.first, key.second, host_id})),
					      false, claim.lost});
	} else if (claim.lost) {
		claim.lost = false; // no claim, no conflict
		recount_.insert(claim.sessions.begin(), claim.sessions.end());
	}
	claim.member = first;
	mark(slot);
}

// A claimant won or lost its slot: a session its entry 1 or 2, a server
// its entry 3 (for every session behind the claim).
void IncrementalDecision::set_lost(Member &m, bool lost)
{
	if (lost == m.lost)
		return;
	m.lost = lost;
	if (m.per_session) {
		auto &t = tracked_.at(m.session);
		if (lost)
			++t.lost;
		else
			--t.lost;
		recount_.insert(m.session);
		return;
	}
	const auto &server = *m.spec.server();
	auto &claim = servers_.at({server.vni, server.mac}).active.at(server.host_id);
	claim.lost = lost;
	recount_.insert(claim.sessions.begin(), claim.sessions.end());
}

bool IncrementalDecision::decap_lost(const Session *s, const Tracked &t) const
{
	return t.targets && servers_.at({s->key.vni, s->server_mac}).active.at(s->key.host_id).lost;
}

// Counts a session in (+1) or out (-1) of the counters, whether its server
// is kept read from the server's record: place() moves its counted
// sessions between the counters when that changes.
void IncrementalDecision::count(const Session *s, Tracked &t, int sign)
{
	if (places_server(*s, t.plan)) {
		auto &server = servers_.at({s->key.vni, s->server_mac});
		t.plan.status = server.place.status;
		t.plan.server_location.kept = server.place.location.kept;
		if (sign > 0)
			++server.counted;
		else
			--server.counted;
	}
	count_status(desired_.counters, *s, t.plan, t.counted_conflict, sign);
}

void IncrementalDecision::retarget(const dp::ServerKey &key, const dp::Action &target,
				   std::vector<dp::EntryKey> &changed)
{
	auto it = desired_.servers.find(key);
	if (it == desired_.servers.end() || it->second == target)
		return;
	it->second = target;
	retargeted_.insert(key);
	// Its entry 3, if it owns the one of its HOST ID, holds its port.
	const dp::EntryKey decap{dp::EntryKind::Decap, key.vni, {}, key.host_id, {}};
	auto slot = slots_.find(decap);
	if (slot == slots_.end() || slot->second.members.empty() || slot->second.dirty)
		return; // its resolve() reads the new target
	const auto *owner = slot->second.members.begin()->second.spec.server();
	auto entry = desired_.entries.find(decap);
	if (owner && *owner == key && entry != desired_.entries.end()) {
		entry->second = EntrySpec(target);
		changed.push_back(decap);
	}
}

void IncrementalDecision::note_unsupported(const Session *, const Tracked &t, bool add)
{
	if (t.plan.status != SessionStatus::CollectorUnsupported)
		return;
	if (add)
		unsupported_.insert(t.plan.id);
	else if (auto it = unsupported_.find(t.plan.id); it != unsupported_.end())
		unsupported_.erase(it);
	unsupported_dirty_ = true;
}

void IncrementalDecision::mark(Slots::iterator slot)
{
	if (!slot->second.dirty) {
		slot->second.dirty = true;
		dirty_slots_.push_back(slot);
	}
}

dp::EntryKey IncrementalDecision::entry_key(const Slots::iterator &slot, const Member &m) const
{
	dp::EntryKey key = slot->first;
	if (m.per_session)
		key.session = tracked_.at(m.session).plan.id;
	return key;
}

void IncrementalDecision::unplan(const Session *s, Tracked &t)
{
	if (t.counted) {
		count(s, t, -1);
		t.counted = false;
	}
	note_unsupported(s, t, false);
	for (auto slot : t.slots) {
		slot->second.members.erase(s);
		mark(slot);
	}
	t.slots.clear();
	t.lost = 0;
	if (t.targets) {
		t.targets = false;
		const ServerMac mac{s->key.vni, s->server_mac};
		auto &server = servers_.at(mac);
		auto a = server.active.find(s->key.host_id);
		a->second.sessions.erase(s);
		claim_decap(mac, server, s->key.host_id, a->second);
		if (a->second.sessions.empty()) {
			server.active.erase(a);
			desired_.servers.erase(dp::ServerKey{s->key.vni, s->server_mac, s->key.host_id});
			retargeted_.insert(dp::ServerKey{s->key.vni, s->server_mac, s->key.host_id});
		}
	}
	t.plan = {};
}

void IncrementalDecision::plan(const Session *s, Tracked &t)
{
	t.plan = plan_session(*s, macs_, routes_, config_);
	++plans_;
	for (auto &[key, spec] : t.plan.wants) {
		if (key.kind == dp::EntryKind::Decap)
			continue; // its server claims it (claim_decap())
		auto slot = slots_.try_emplace(slot_of(key)).first;
		slot->second.members.insert_or_assign(s, Member{s, std::move(spec), true, false});
		mark(slot);
		t.slots.push_back(slot);
	}
	t.plan.wants.clear();
	t.plan.wants.shrink_to_fit();
	if (places_server(*s, t.plan)) {
		const ServerMac mac{s->key.vni, s->server_mac};
		auto &server = servers_.at(mac);
		const dp::ServerKey key{s->key.vni, s->server_mac, s->key.host_id};
		auto [claim, fresh] = server.active.try_emplace(s->key.host_id);
		if (fresh || !(desired_.servers[key] == *t.plan.action)) {
			desired_.servers[key] = *t.plan.action;
			retargeted_.insert(key);
		}
		claim->second.sessions.insert(s);
		claim_decap(mac, server, s->key.host_id, claim->second);
		t.targets = true;
	}
	note_unsupported(s, t, true);
	recount_.insert(s);
}

EntrySpec IncrementalDecision::held(const Member &m) const
{
	return m.per_session ? m.spec : resolve_decap(m.spec, desired_.servers);
}

void IncrementalDecision::resolve(Slots::iterator slot, std::vector<dp::EntryKey> &changed)
{
	auto &entries = desired_.entries;
	const dp::EntryKey &slot_key = slot->first;
	auto &members = slot->second.members;
	slot->second.dirty = false;
	// The usual slot has one claimant, who wins: no replay needed when the
	// desired set already holds exactly its entry.
	if (members.size() == 1) {
		auto &m = members.begin()->second;
		set_lost(m, false);
		auto have = entries.lower_bound(slot_key);
		const bool only =
			have != entries.end() && same_slot(have->first, slot_key) &&
			have->first.session == (m.per_session ? tracked_.at(m.session).plan.id : std::string()) &&
			(std::next(have) == entries.end() || !same_slot(std::next(have)->first, slot_key));
		if (only) {
			if (EntrySpec want = held(m); !(have->second == want)) {
				changed.push_back(have->first);
				have->second = std::move(want);
			}
			return;
		}
	}
	EntryMap now;
	if (!members.empty() && !members.begin()->second.per_session) {
		// An entry 3: every claimant (a server) asks for the same key, so
		// claim() reduces to "the first owns it; the others lose".
		const EntrySpec &owner = members.begin()->second.spec;
		for (auto &[s, m] : members)
			set_lost(m, !(m.spec == owner));
		now.emplace(slot_key, resolve_decap(owner, desired_.servers));
	} else {
		for (auto &[s, m] : members)
			set_lost(m, !claim(now, entry_key(slot, m), m.spec));
	}
	// Merge the slot's new entries into the desired set.
	auto have = entries.lower_bound(slot_key);
	auto want = now.begin();
	while (want != now.end() || (have != entries.end() && same_slot(have->first, slot_key))) {
		const bool have_in = have != entries.end() && same_slot(have->first, slot_key);
		if (!have_in || (want != now.end() && want->first < have->first)) {
			changed.push_back(want->first);
			have = std::next(entries.emplace_hint(have, want->first, want->second));
			++want;
		} else if (want == now.end() || have->first < want->first) {
			changed.push_back(have->first);
			have = entries.erase(have);
		} else {
			if (!(have->second == want->second)) {
				changed.push_back(have->first);
				have->second = want->second;
			}
			++have;
			++want;
		}
	}
	if (members.empty())
		slots_.erase(slot);
}

void IncrementalDecision::recount(const Session *s, Tracked &t)
{
	if (t.counted)
		count(s, t, -1);
	t.counted_conflict = t.lost > 0 || decap_lost(s, t);
	count(s, t, +1);
	t.counted = true;
}

IncrementalDecision::Changes IncrementalDecision::settle(bool with_slots)
{
	Changes out;
	if (routes_dirty_) {
		routes_dirty_ = false;
		for (auto &[vtep, v] : by_vtep_) {
			const bool reachable = routes_.reachable(vtep);
			if (reachable == v.reachable)
				continue;
			v.reachable = reachable;
			dirty_servers_.insert(v.servers.begin(), v.servers.end());
		}
	}
	if (!dirty_servers_.empty()) {
		// place() edits the VTEP index that filled dirty_servers_.
		std::unordered_set<ServerMac, MacKeyHash> work;
		work.swap(dirty_servers_);
		for (const auto &key : work)
			if (auto it = servers_.find(key); it != servers_.end())
				place(key, it->second, out.entries);
	}
	if (!pending_.empty()) {
		SessionSet work;
		work.swap(pending_);
		for (const Session *s : work) {
			auto &t = tracked_.at(s);
			unplan(s, t);
			plan(s, t);
		}
	}
	// resolve() may erase its slot: nothing else refers to an empty one.
	if (with_slots)
		for (auto slot : dirty_slots_)
			out.slots.push_back(slot->first);
	for (auto slot : dirty_slots_)
		resolve(slot, out.entries);
	dirty_slots_.clear();
	for (const Session *s : recount_)
		recount(s, tracked_.at(s));
	recount_.clear();
	if (unsupported_dirty_) {
		desired_.unsupported_collectors.assign(unsupported_.begin(), unsupported_.end());
		unsupported_dirty_ = false;
	}
	out.servers.assign(retargeted_.begin(), retargeted_.end());
	retargeted_.clear();
	return out;
}

std::size_t entry_differences(const EntryMap &a, const EntryMap &b,
			      const std::set<dp::EntryKey> &skip_slots)
{
	std::optional<dp::EntryKey> next;
	std::size_t budget = a.size() + b.size();
	return entry_differences(a, b, skip_slots, std::nullopt, budget, next);
}

std::size_t entry_differences(const EntryMap &a, const EntryMap &b,
			      const std::set<dp::EntryKey> &skip_slots,
			      const std::optional<dp::EntryKey> &from, std::size_t &budget,
			      std::optional<dp::EntryKey> &next)
{
	const auto counted = [&skip_slots](const dp::EntryKey &key) {
		return skip_slots.empty() || !skip_slots.contains(slot_of(key));
	};
	std::size_t n = 0;
	auto x = from ? a.lower_bound(*from) : a.begin();
	auto y = from ? b.lower_bound(*from) : b.begin();
	for (; budget > 0 && (x != a.end() || y != b.end()); --budget) {
		// One comparison per step: equal keys are the usual case.
		const auto order = x == a.end()   ? std::strong_ordering::greater
				   : y == b.end() ? std::strong_ordering::less
						  : x->first <=> y->first;
		if (order < 0) {
			n += counted(x->first);
			++x;
		} else if (order > 0) {
			n += counted(y->first);
			++y;
		} else {
			n += !(x->second == y->second) && counted(x->first);
			++x;
			++y;
		}
	}
	// Every key before the smaller of the two is compared.
	if (x == a.end() && y == b.end())
		next.reset();
	else if (x == a.end())
		next = y->first;
	else if (y == b.end())
		next = x->first;
	else
		next = std::min(x->first, y->first);
	return n;
}

std::size_t server_differences(const ServerMap &a, const ServerMap &b,
			       const std::set<dp::ServerKey> &skip)
{
	std::size_t n = 0;
	const auto counted = [&skip](const dp::ServerKey &key) { return !skip.contains(key); };
	for (const auto &[key, target] : a) {
		const auto it = b.find(key);
		n += (it == b.end() || !(it->second == target)) && counted(key);
	}
	for (const auto &[key, target] : b)
		n += !a.contains(key) && counted(key);
	return n;
}

bool summary_differs(const Desired &a, const Desired &b)
{
	auto sorted = [](std::vector<std::string> v) {
		std::sort(v.begin(), v.end());
		return v;
	};
	return !(a.counters == b.counters) || a.servers != b.servers ||
	       sorted(a.unsupported_collectors) != sorted(b.unsupported_collectors);
}

std::size_t differences(const Desired &a, const Desired &b)
{
	return entry_differences(a.entries, b.entries) + summary_differs(a, b);
}

} // namespace evpnmon::consumer
