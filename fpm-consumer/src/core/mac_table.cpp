#include "core/mac_table.hpp"

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

MacLocation MacTable::resolve(const Entry &entry)
{
	const Record *best = nullptr;
	for (const auto &rec : entry.by_source)
		if (rec && (!best || rec->stamp > best->stamp))
			best = &*rec;
	return best ? best->loc : MacLocation{};
}

bool MacTable::set(MacSource source, std::uint32_t vni, const Mac &mac, const MacLocation &loc)
{
	auto &entry = table_[{vni, mac}];
	const MacLocation before = resolve(entry);
	auto &rec = entry.by_source[static_cast<std::size_t>(source)];
	if (rec && rec->loc == loc) {
		// Same news again (replay, refresh): keep its age, drop the stale mark.
		rec->stale = false;
		return false;
	}
	rec = Record{loc, ++clock_, false};
	return !(resolve(entry) == before);
}

bool MacTable::erase(MacSource source, std::uint32_t vni, const Mac &mac)
{
	auto it = table_.find({vni, mac});
	if (it == table_.end())
		return false;
	auto &rec = it->second.by_source[static_cast<std::size_t>(source)];
	if (!rec)
		return false;
	const MacLocation before = resolve(it->second);
	rec.reset();
	const MacLocation after = resolve(it->second);
	if (after.kind == MacLocation::Kind::Unknown)
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
	for (auto &[key, entry] : table_)
		if (auto &rec = entry.by_source[static_cast<std::size_t>(source)])
			rec->stale = true;
}

void MacTable::mark_stale(MacSource source, std::uint32_t vni, const Mac &mac)
{
	auto it = table_.find({vni, mac});
	if (it != table_.end())
		if (auto &rec = it->second.by_source[static_cast<std::size_t>(source)])
			rec->stale = true;
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
		if (rec && rec->stale) {
			rec.reset();
			++swept;
		}
		if (resolve(it->second).kind == MacLocation::Kind::Unknown)
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
