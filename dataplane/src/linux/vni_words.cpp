#include "vni_words.hpp"

#include "evpnmon_kinds.h"

#include <stdexcept>
#include <utility>
#include <vector>

namespace evpnmon::dp::linux_dp {

static_assert(((DP_KIND_F_IP | DP_KIND_F_SRC_MAC | DP_KIND_F_DST_MAC) << DP_VNI_W_KINDS_SHIFT &
	       ~DP_VNI_W_KINDS) == 0,
	      "every kind of entry 1/2 has its bit in a VNI word");
static_assert((DP_VNI_WORDS & (DP_VNI_WORDS - 1)) == 0, "a residue is a mask");

VniWords::VniWords(std::span<volatile std::uint32_t> words) : words_(words)
{
	if (!words_.empty() && words_.size() != DP_VNI_WORDS)
		throw std::invalid_argument("dp_vni_word: not DP_VNI_WORDS words");
}

dp_u32 VniWords::word(const Slot &s)
{
	dp_u32 w = s.spills ? DP_VNI_W_SPILL : 0;
	if (s.owned)
		w |= s.owner | s.kinds << DP_VNI_W_KINDS_SHIFT;
	return w;
}

void VniWords::store(dp_u32 index, const Slot &s)
{
	if (!words_.empty())
		words_[index] = word(s);
}

void VniWords::set(dp_u32 vni, dp_u32 kinds)
{
	const dp_u32 index = vni & (DP_VNI_WORDS - 1);
	auto it = slots_.find(index);
	if (it != slots_.end() && it->second.owned && it->second.owner == vni) {
		Slot &s = it->second;
		s.kinds = kinds;
		s.owned = kinds != 0;
		store(index, s);
	} else if (spilled_.contains(vni)) {
		if (kinds)
			return; // dp_vni_kinds holds it
		spilled_.erase(vni);
		--it->second.spills;
		store(index, it->second);
	} else {
		if (!kinds)
			return;
		Slot &s = slots_[index];
		if (!s.owned) {
			s.owned = true;
			s.owner = vni;
			s.kinds = kinds;
		} else {
			spilled_.insert(vni);
			++s.spills;
		}
		store(index, s);
		return;
	}
	if (!it->second.owned && !it->second.spills)
		slots_.erase(it);
}

void VniWords::rewrite(const std::map<dp_u32, dp_u32> &kinds)
{
	// Placed without a store: the previous run's programs read the words
	// meanwhile, and a word written before its residue's every VNI is
	// placed (an owner without the spill bit yet) would hide a spilled
	// VNI. Then each word is stored once: its old value and its new one
	// both answer right against dp_vni_kinds, already rebuilt.
	const auto words = std::exchange(words_, {});
	slots_.clear();
	spilled_.clear();
	for (const auto &[vni, k] : kinds)
		set(vni, k);
	words_ = words;
	if (words_.empty())
		return;
	for (dp_u32 i = 0; i < words_.size(); ++i) {
		auto it = slots_.find(i);
		const dp_u32 want = it == slots_.end() ? 0 : word(it->second);
		if (words_[i] != want)
			words_[i] = want;
	}
}

} // namespace evpnmon::dp::linux_dp
