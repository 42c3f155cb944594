#include "core/mac_table.hpp"

#include <chrono>

namespace evpnmon::consumer {

const char *to_string(MacSource source)
{
	switch (source) {
	case MacSource::Local:
		return "local";
	case MacSource::Fpm:
		return "fpm";
	case MacSource::Kernel:
		return "kernel-fdb";
	}
	return "?";
}

// The bridge's master entry decides local vs behind the VXLAN device.
bool MacTable::ruled_out(const Bridge &bridge, MacSource source, const MacLocation &loc) const
{
	using Where = Bridge::Where;
	if (bridge.where == Where::Vxlan)
		return loc.kind == MacLocation::Kind::Local;
	if (source == MacSource::Kernel && loc.kind == MacLocation::Kind::Remote)
		return bridge.where == Where::Port || bridge_known_;
	return false;
}

const MacTable::Record *MacTable::live_record(const Entry &entry) const
{
	const Record *best = nullptr;
	for (std::size_t i = 0; i < kMacSourceCount; ++i) {
		const auto &rec = entry.by_source[i];
		if (!rec || rec->superseded)
			continue;
		if (ruled_out(entry.bridge, static_cast<MacSource>(i), rec->loc))
			continue;
		if (!best || rec->stamp > best->stamp)
			best = &*rec;
	}
	return best;
}

MacLocation MacTable::live(const Entry &entry) const
{
	const Record *best = live_record(entry);
	return best ? best->loc : MacLocation{};
}

void MacTable::forget_bridge(Entry &entry) const
{
	// What the bridge's entry ruled out is a leftover, not news, now that
	// the entry is gone (a stale remote `self` entry of a MAC that was
	// local, a local learning of a MAC that had moved to the fabric).
	for (std::size_t i = 0; i < kMacSourceCount; ++i) {
		auto &rec = entry.by_source[i];
		if (rec && ruled_out(entry.bridge, static_cast<MacSource>(i), rec->loc))
			rec->superseded = true;
	}
	entry.bridge = Bridge{};
}

void MacTable::drop_record(Entry &entry, MacSource source) const
{
	auto &rec = entry.by_source[static_cast<std::size_t>(source)];
	if (!rec)
		return;
	const bool was_live = live_record(entry) == &*rec;
	const Record gone = *rec;
	rec.reset();
	if (!was_live)
		return;
	for (auto &other : entry.by_source)
		if (other && !other->loc.same_place(gone.loc))
			other->superseded = true;
}

MacLocation MacTable::resolve(const Entry &entry) const
{
	MacLocation loc = live(entry);
	if (loc.kind == MacLocation::Kind::Unknown && entry.kept)
		return *entry.kept;
	return loc;
}

bool MacTable::empty(const Entry &entry)
{
	for (const auto &rec : entry.by_source)
		if (rec)
			return false;
	return entry.bridge.where == Bridge::Where::None && !entry.kept;
}

void MacTable::settle(const Key &key, Entry &entry, const MacLocation &live_before)
{
	const MacLocation now = live(entry);
	if (now.kind != MacLocation::Kind::Unknown) {
		// Seen (again, or somewhere else): the live location wins.
		if (entry.kept) {
			entry.kept.reset();
			kept_.erase(key);
		}
		return;
	}
	if (live_before.kind == MacLocation::Kind::Unknown || !pins_.contains(key))
		return;
	// A pinned MAC just disappeared: keep where it was last seen.
	kept_.insert(key);
	entry.kept = live_before;
	entry.kept->kept = true;
	entry.kept->kept_since =
		wall_clock_ ? wall_clock_()
			    : std::chrono::duration_cast<std::chrono::seconds>(
				      std::chrono::system_clock::now().time_since_epoch())
				      .count();
}

void MacTable::pin(std::uint32_t vni, const Mac &mac)
{
	++pins_[{vni, mac}];
}

bool MacTable::unpin(std::uint32_t vni, const Mac &mac)
{
	auto p = pins_.find({vni, mac});
	if (p == pins_.end() || --p->second > 0)
		return false;
	pins_.erase(p);
	auto it = table_.find({vni, mac});
	if (it == table_.end() || !it->second.kept)
		return false;
	const MacLocation before = resolve(it->second);
	it->second.kept.reset();
	kept_.erase(it->first);
	const MacLocation after = resolve(it->second);
	if (empty(it->second))
		table_.erase(it);
	return !(after == before);
}

bool MacTable::pinned(std::uint32_t vni, const Mac &mac) const
{
	return pins_.contains({vni, mac});
}

std::vector<MacTable::Key>
MacTable::drop_kept_local(const std::function<bool(std::uint32_t ifindex)> &port_exists)
{
	std::vector<Key> dropped;
	if (!port_exists)
		return dropped;
	for (auto k = kept_.begin(); k != kept_.end();) {
		auto it = table_.find(*k);
		if (it == table_.end() || !it->second.kept) { // never: kept_ follows the table
			k = kept_.erase(k);
			continue;
		}
		auto &kept = it->second.kept;
		if (kept->kind != MacLocation::Kind::Local || port_exists(kept->ifindex)) {
			++k;
			continue;
		}
		kept.reset();
		dropped.push_back(*k);
		k = kept_.erase(k);
		if (empty(it->second))
			table_.erase(it);
	}
	return dropped;
}

bool MacTable::set_bridge(std::uint32_t vni, const Mac &mac, std::optional<std::uint32_t> local_port)
{
	const Key key{vni, mac};
	auto &entry = table_[key];
	const MacLocation before = resolve(entry);
	const MacLocation live_before = live(entry);
	Bridge b;
	b.where = local_port ? Bridge::Where::Port : Bridge::Where::Vxlan;
	b.ifindex = local_port.value_or(0);
	// The bridge newly forwards the MAC to the VXLAN device (zebra just
	// installed it as remote, its self entry with it) or to a local port
	// (learnt there): the record written with that bridge entry is news
	// again, even a leftover. Other sources speak for themselves.
	if (b.where != entry.bridge.where || b.ifindex != entry.bridge.ifindex) {
		auto &rec = entry.by_source[static_cast<std::size_t>(
			b.where == Bridge::Where::Vxlan ? MacSource::Kernel : MacSource::Local)];
		if (rec && (b.where == Bridge::Where::Vxlan
				    ? rec->loc.kind == MacLocation::Kind::Remote
				    : rec->loc.same_place(MacLocation::local(b.ifindex))))
			rec->superseded = false;
	}
	entry.bridge = b;
	settle(key, entry, live_before);
	const MacLocation after = resolve(entry);
	if (empty(entry))
		table_.erase(key);
	return !(after == before);
}

bool MacTable::erase_bridge(std::uint32_t vni, const Mac &mac, std::uint32_t ifindex,
			    bool on_vxlan_device)
{
	auto it = table_.find({vni, mac});
	if (it == table_.end())
		return false;
	auto &b = it->second.bridge;
	const bool match = on_vxlan_device ? b.where == Bridge::Where::Vxlan
					   : (b.where == Bridge::Where::Port && b.ifindex == ifindex);
	if (!match)
		return false;
	const MacLocation before = resolve(it->second);
	const MacLocation live_before = live(it->second);
	forget_bridge(it->second);
	settle(it->first, it->second, live_before);
	const MacLocation after = resolve(it->second);
	if (empty(it->second))
		table_.erase(it);
	return !(after == before);
}

bool MacTable::set(MacSource source, std::uint32_t vni, const Mac &mac, const MacLocation &loc)
{
	const Key key{vni, mac};
	auto &entry = table_[key];
	const MacLocation before = resolve(entry);
	const MacLocation live_before = live(entry);
	auto &rec = entry.by_source[static_cast<std::size_t>(source)];
	if (rec && rec->loc == loc) {
		rec->stale = false;
		// Same news again (replay, refresh, dump): keep its age. But zebra
		// or the local learning naming a place that is not the live
		// location is news (a MAC back where it was: zebra sends no FPM
		// removal for the remote MAC it replaces by a local one); the
		// kernel FDB re-reports leftovers in every dump.
		if (source == MacSource::Kernel || live_record(entry) == &*rec)
			return false;
	}
	rec = Record{loc, ++clock_, false, false};
	settle(key, entry, live_before);
	return !(resolve(entry) == before);
}

bool MacTable::erase(MacSource source, std::uint32_t vni, const Mac &mac)
{
	auto it = table_.find({vni, mac});
	if (it == table_.end())
		return false;
	if (!it->second.by_source[static_cast<std::size_t>(source)])
		return false;
	const MacLocation before = resolve(it->second);
	const MacLocation live_before = live(it->second);
	drop_record(it->second, source);
	settle(it->first, it->second, live_before);
	const MacLocation after = resolve(it->second);
	if (empty(it->second))
		table_.erase(it);
	return !(after == before);
}

MacLocation MacTable::locate(std::uint32_t vni, const Mac &mac) const
{
	auto it = table_.find({vni, mac});
	return it == table_.end() ? MacLocation{} : resolve(it->second);
}

void MacTable::mark_stale(MacSource source)
{
	for (auto &[key, entry] : table_) {
		if (auto &rec = entry.by_source[static_cast<std::size_t>(source)])
			rec->stale = true;
		if (source == MacSource::Kernel && entry.bridge.where != Bridge::Where::None)
			entry.bridge.stale = true;
	}
}

void MacTable::mark_stale(MacSource source, std::uint32_t vni, const Mac &mac)
{
	auto it = table_.find({vni, mac});
	if (it != table_.end())
		if (auto &rec = it->second.by_source[static_cast<std::size_t>(source)])
			rec->stale = true;
}

void MacTable::mark_bridge_stale(std::uint32_t vni, const Mac &mac)
{
	auto it = table_.find({vni, mac});
	if (it != table_.end() && it->second.bridge.where == Bridge::Where::Vxlan)
		it->second.bridge.stale = true;
}

bool MacTable::is_bridge_stale(std::uint32_t vni, const Mac &mac) const
{
	auto it = table_.find({vni, mac});
	return it != table_.end() && it->second.bridge.where == Bridge::Where::Vxlan &&
	       it->second.bridge.stale;
}

bool MacTable::is_stale(MacSource source, std::uint32_t vni, const Mac &mac) const
{
	auto it = table_.find({vni, mac});
	if (it == table_.end())
		return false;
	const auto &rec = it->second.by_source[static_cast<std::size_t>(source)];
	return rec && rec->stale;
}

std::size_t MacTable::sweep_stale(MacSource source)
{
	std::size_t swept = 0;
	for (auto it = table_.begin(); it != table_.end();) {
		auto &rec = it->second.by_source[static_cast<std::size_t>(source)];
		const MacLocation live_before = live(it->second);
		const std::size_t before = swept;
		if (rec && rec->stale) {
			drop_record(it->second, source);
			++swept;
		}
		const auto &b = it->second.bridge;
		if (source == MacSource::Kernel && b.where != Bridge::Where::None && b.stale) {
			forget_bridge(it->second);
			++swept;
		}
		if (swept != before)
			settle(it->first, it->second, live_before);
		if (empty(it->second))
			it = table_.erase(it);
		else
			++it;
	}
	return swept;
}

std::size_t MacTable::count(MacSource source) const
{
	std::size_t n = 0;
	for (const auto &[key, entry] : table_)
		n += entry.by_source[static_cast<std::size_t>(source)].has_value();
	return n;
}

} // namespace evpnmon::consumer
