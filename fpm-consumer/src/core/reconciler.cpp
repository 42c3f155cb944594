#include "core/reconciler.hpp"

namespace evpnmon::consumer {

void Reconciler::refresh()
{
	installed_.clear();
	for (const auto &entry : dp_.list())
		installed_[entry.key] = EntrySpec(entry.action, entry.options);
	loaded_ = true;
}

ReconcileStats Reconciler::apply(const EntryMap &desired)
{
	if (!loaded_)
		refresh();
	ReconcileStats st;
	auto note_error = [&](const std::error_code &ec, const char *what) {
		++st.errors;
		st.last_error = std::string(what) + ": " + ec.message();
	};

	// Both maps are ordered by key: one merge pass.
	auto want = desired.begin();
	auto have = installed_.begin();
	while (want != desired.end() || have != installed_.end()) {
		if (have == installed_.end() || (want != desired.end() && want->first < have->first)) {
			if (auto ec = dp_.install(to_entry(want->first, want->second)))
				note_error(ec, "install");
			else {
				installed_.emplace_hint(have, want->first, want->second);
				++st.installed;
			}
			++want;
		} else if (want == desired.end() || have->first < want->first) {
			if (auto ec = dp_.remove(have->first)) {
				note_error(ec, "remove");
				++have;
			} else {
				have = installed_.erase(have);
				++st.removed;
			}
		} else {
			if (have->second == want->second)
				++st.unchanged;
			else if (auto ec = dp_.install(to_entry(want->first, want->second)))
				note_error(ec, "replace");
			else {
				have->second = want->second;
				++st.replaced;
			}
			++want;
			++have;
		}
	}
	// After an error our cache may disagree with the dataplane: re-read it so
	// the next pass repairs whatever is still wrong.
	if (st.errors)
		loaded_ = false;
	return st;
}

} // namespace evpnmon::consumer
