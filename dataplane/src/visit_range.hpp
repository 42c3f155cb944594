// Dataplane::visit_entries() over a backend's ordered index of its entries
// (key -> a record with `action` and `options`): both backends walk it the
// same way.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstddef>
#include <optional>

namespace evpnmon::dp {

template <class Records>
std::optional<EntryKey> visit_range(const Records &records, const std::optional<EntryKey> &from,
				    std::size_t limit, const Dataplane::EntryVisitor &visit)
{
	auto it = from ? records.lower_bound(*from) : records.begin();
	for (; it != records.end(); ++it) {
		if (limit-- == 0)
			return it->first;
		visit(it->first, it->second.action, it->second.options);
	}
	return std::nullopt;
}

} // namespace evpnmon::dp
