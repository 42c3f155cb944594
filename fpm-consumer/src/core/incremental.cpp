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
	if (!s->is_collector())
		by_server_[{s->key.vni, s->server_mac}].insert(s);
	pending_.insert(s);
}

void IncrementalDecision::remove(const Session &session)
{
	const Session *s = &session;
	auto it = tracked_.find(s);
	if (it == tracked_.end())
		return;
	unplan(s, it->second);
	if (!s->is_collector()) {
		auto b = by_server_.find({s->key.vni, s->server_mac});
		if (b != by_server_.end()) {
			b->second.erase(s);
			if (b->second.empty())
				by_server_.erase(b);
		}
	}
	tracked_.erase(it);
	pending_.erase(s);
	recount_.erase(s);
}

void IncrementalDecision::server_mac_changed(std::uint32_t vni, const Mac &mac)
{
	auto it = by_server_.find({vni, mac});
	if (it != by_server_.end())
		pending_.insert(it->second.begin(), it->second.end());
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
	by_server_.clear();
	by_vtep_.clear();
	pending_.clear();
	dirty_slots_.clear();
	recount_.clear();
	routes_dirty_ = false;
	unsupported_.clear();
	unsupported_dirty_ = false;
	desired_ = {};
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
		count_status(desired_.counters, *s, t.plan, t.counted_conflict, -1);
		t.counted = false;
	}
	note_unsupported(s, t, false);
	for (auto slot : t.slots) {
		slot->second.members.erase(s);
		mark(slot);
	}
	t.slots.clear();
	t.lost = 0;
	if (t.vtep) {
		auto v = by_vtep_.find(*t.vtep);
		if (v != by_vtep_.end()) {
			v->second.sessions.erase(s);
			if (v->second.sessions.empty())
				by_vtep_.erase(v);
		}
		t.vtep.reset();
	}
	t.plan = {};
}

void IncrementalDecision::plan(const Session *s, Tracked &t)
{
	t.plan = plan_session(*s, macs_, routes_, config_);
	for (auto &[key, spec] : t.plan.wants) {
		const bool per_session = !key.session.empty();
		auto slot = slots_.try_emplace(slot_of(key)).first;
		slot->second.members.insert_or_assign(s, Member{s, std::move(spec), per_session, false});
		mark(slot);
		t.slots.push_back(slot);
	}
	t.plan.wants.clear();
	t.plan.wants.shrink_to_fit();
	if (!s->is_collector() && t.plan.server_location.kind == MacLocation::Kind::Remote) {
		const Ipv4 vtep = t.plan.server_location.vtep;
		auto [v, fresh] = by_vtep_.try_emplace(vtep);
		if (fresh)
			v->second.reachable = routes_.reachable(vtep);
		v->second.sessions.insert(s);
		t.vtep = vtep;
	}
	note_unsupported(s, t, true);
	recount_.insert(s);
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
		if (m.lost) {
			m.lost = false;
			--tracked_.at(m.session).lost;
			recount_.insert(m.session);
		}
		auto have = entries.lower_bound(slot_key);
		const bool only =
			have != entries.end() && same_slot(have->first, slot_key) &&
			have->first.session == (m.per_session ? tracked_.at(m.session).plan.id : std::string()) &&
			(std::next(have) == entries.end() || !same_slot(std::next(have)->first, slot_key));
		if (only) {
			if (!(have->second == m.spec)) {
				changed.push_back(have->first);
				have->second = m.spec;
			}
			return;
		}
	}
	auto set_lost = [&](Member &m, bool lost) {
		if (lost == m.lost)
			return;
		m.lost = lost;
		auto &t = tracked_.at(m.session);
		if (lost)
			++t.lost;
		else
			--t.lost;
		recount_.insert(m.session);
	};
	EntryMap now;
	if (!members.empty() && !members.begin()->second.per_session) {
		// An entry 3: every claimant asks for the same key, so claim()
		// reduces to "the first owns it; the others agree or lose".
		const EntrySpec &owner = members.begin()->second.spec;
		for (auto &[s, m] : members)
			set_lost(m, !(m.spec == owner));
		now.emplace(slot_key, owner);
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
		count_status(desired_.counters, *s, t.plan, t.counted_conflict, -1);
	t.counted_conflict = t.lost > 0;
	count_status(desired_.counters, *s, t.plan, t.counted_conflict, +1);
	t.counted = true;
}

std::vector<dp::EntryKey> IncrementalDecision::settle()
{
	if (routes_dirty_) {
		routes_dirty_ = false;
		for (auto &[vtep, v] : by_vtep_) {
			const bool reachable = routes_.reachable(vtep);
			if (reachable == v.reachable)
				continue;
			v.reachable = reachable;
			pending_.insert(v.sessions.begin(), v.sessions.end());
		}
	}
	std::vector<dp::EntryKey> changed;
	if (!pending_.empty()) {
		// unplan() edits the VTEP index that filled pending_: take it first.
		SessionSet work;
		work.swap(pending_);
		for (const Session *s : work) {
			auto &t = tracked_.at(s);
			unplan(s, t);
			plan(s, t);
		}
	}
	// resolve() may erase its slot: nothing else refers to an empty one.
	for (auto slot : dirty_slots_)
		resolve(slot, changed);
	dirty_slots_.clear();
	for (const Session *s : recount_)
		recount(s, tracked_.at(s));
	recount_.clear();
	if (unsupported_dirty_) {
		desired_.unsupported_collectors.assign(unsupported_.begin(), unsupported_.end());
		unsupported_dirty_ = false;
	}
	return changed;
}

std::size_t differences(const Desired &a, const Desired &b)
{
	std::size_t n = 0;
	auto x = a.entries.begin();
	auto y = b.entries.begin();
	while (x != a.entries.end() || y != b.entries.end()) {
		if (y == b.entries.end() || (x != a.entries.end() && x->first < y->first)) {
			++n;
			++x;
		} else if (x == a.entries.end() || y->first < x->first) {
			++n;
			++y;
		} else {
			n += !(x->second == y->second);
			++x;
			++y;
		}
	}
	auto sorted = [](std::vector<std::string> v) {
		std::sort(v.begin(), v.end());
		return v;
	};
	if (!(a.counters == b.counters) ||
	    sorted(a.unsupported_collectors) != sorted(b.unsupported_collectors))
		++n;
	return n;
}

} // namespace evpnmon::consumer
