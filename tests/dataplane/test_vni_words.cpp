// The entry store's dp_vni_word (VniWords) on plain memory: after every
// change, each VNI's kinds read the way lib/port.h reads them (the word of
// its residue if the VNI owns it, else dp_vni_kinds if the spill bit says
// so, else none) equal the kinds set, while many VNIs share few residues.
// That the program reads the pinned words so is tested in test_bpf
// ("VNI words").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "evpnmon_kinds.h"
#include "vni_words.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

using evpnmon::dp::linux_dp::VniWords;

namespace {

// dp_vni_kinds as the store keeps it: every VNI with kinds.
using Hash = std::map<dp_u32, dp_u32>;

dp_u32 read_kinds(const std::vector<std::uint32_t> &words, const Hash &hash, dp_u32 vni)
{
	const std::uint32_t w = words[vni & (DP_VNI_WORDS - 1)];
	if ((w & DP_VNI_W_VNI) == vni && (w & DP_VNI_W_KINDS))
		return (w & DP_VNI_W_KINDS) >> DP_VNI_W_KINDS_SHIFT;
	if (!(w & DP_VNI_W_SPILL))
		return 0;
	auto it = hash.find(vni);
	return it == hash.end() ? 0 : it->second;
}

struct Fixture {
	std::vector<std::uint32_t> mem = std::vector<std::uint32_t>(DP_VNI_WORDS);
	std::span<volatile std::uint32_t> span{const_cast<volatile std::uint32_t *>(mem.data()),
					       mem.size()};
	Hash hash;
	VniWords words{span};

	void set(dp_u32 vni, dp_u32 kinds)
	{
		if (kinds)
			hash[vni] = kinds;
		else
			hash.erase(vni);
		words.set(vni, kinds);
	}
	dp_u32 read(dp_u32 vni) const { return read_kinds(mem, hash, vni); }
};

} // namespace

TEST_CASE("VNI words: the first VNI of a residue owns its word, the others spill")
{
	Fixture f;
	const dp_u32 a = 100, b = 100 + DP_VNI_WORDS, c = 100 + 2 * DP_VNI_WORDS;
	f.set(a, DP_KIND_F_SRC_MAC);
	CHECK(f.mem[100] == (a | DP_KIND_F_SRC_MAC << DP_VNI_W_KINDS_SHIFT));
	CHECK(f.words.spilled() == 0);
	f.set(b, DP_KIND_F_DST_V4);
	CHECK(f.mem[100] == (a | DP_KIND_F_SRC_MAC << DP_VNI_W_KINDS_SHIFT | DP_VNI_W_SPILL));
	CHECK(f.words.spilled() == 1);
	CHECK(f.read(a) == DP_KIND_F_SRC_MAC);
	CHECK(f.read(b) == DP_KIND_F_DST_V4);
	CHECK(f.read(c) == 0);
	// The owner goes: the spilled VNI stays where it is, read from the hash.
	f.set(a, 0);
	CHECK(f.mem[100] == DP_VNI_W_SPILL);
	CHECK(f.read(a) == 0);
	CHECK(f.read(b) == DP_KIND_F_DST_V4);
	// A new VNI of the residue takes the free word.
	f.set(c, DP_KIND_F_DST_MAC);
	CHECK(f.mem[100] == (c | DP_KIND_F_DST_MAC << DP_VNI_W_KINDS_SHIFT | DP_VNI_W_SPILL));
	f.set(b, 0);
	CHECK(f.mem[100] == (c | DP_KIND_F_DST_MAC << DP_VNI_W_KINDS_SHIFT));
	CHECK(f.words.spilled() == 0);
	f.set(c, 0);
	CHECK(f.mem[100] == 0);
}

TEST_CASE("VNI words: random changes of VNIs sharing four residues, then a rewrite")
{
	Fixture f;
	std::mt19937 rng(7);
	std::vector<dp_u32> vnis;
	for (dp_u32 r : {1u, 2u, 4095u, 65535u})
		for (dp_u32 k = 0; k < 6; ++k)
			if (r + k * DP_VNI_WORDS <= 0xffffff)
				vnis.push_back(r + k * DP_VNI_WORDS);
	Hash model;
	for (int step = 0; step < 20000; ++step) {
		const dp_u32 vni = vnis[rng() % vnis.size()];
		// Half of the changes clear: VNIs come and go.
		const dp_u32 kinds = rng() % 2 ? 0 : 1 + rng() % 0x3f;
		f.set(vni, kinds);
		if (kinds)
			model[vni] = kinds;
		else
			model.erase(vni);
		for (dp_u32 v : vnis) {
			const auto it = model.find(v);
			REQUIRE(f.read(v) == (it == model.end() ? 0 : it->second));
		}
	}
	// A restart: the same answers from a rewrite of words left as they
	// were, and of words left by another run (garbage).
	for (bool garbage : {false, true}) {
		if (garbage)
			for (auto &w : f.mem)
				w = static_cast<std::uint32_t>(rng());
		VniWords again{f.span};
		again.rewrite(model);
		for (dp_u32 v : vnis) {
			const auto it = model.find(v);
			CHECK(f.read(v) == (it == model.end() ? 0 : it->second));
		}
		for (dp_u32 i = 0; i < DP_VNI_WORDS; ++i)
			if (i != 1 && i != 2 && i != 4095 && i != 65535)
				REQUIRE(f.mem[i] == 0);
	}
}

// On a restart the previous run's programs read the words while they are
// placed again: a word stored before its residue's every VNI is placed
// (an owner without its spill bit yet) would hide a spilled VNI. Over
// words that are already right, rewrite() stores nothing: they are
// read-only here, and any store would fault.
TEST_CASE("VNI words: a rewrite over right words stores nothing, not even for a moment")
{
	const std::size_t len = DP_VNI_WORDS * sizeof(std::uint32_t);
	void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED);
	std::span<volatile std::uint32_t> span{static_cast<volatile std::uint32_t *>(p),
					       DP_VNI_WORDS};
	// Residue 100: owner 100, two spilled (the owner's word without its
	// spill bit would hide them); residue 7: owner 7 alone.
	const Hash model = {{7, DP_KIND_F_SRC_MAC},
			    {100, DP_KIND_F_DST_MAC},
			    {100 + DP_VNI_WORDS, DP_KIND_F_SRC_V4},
			    {100 + 2 * DP_VNI_WORDS, DP_KIND_F_DST_V6}};
	VniWords(span).rewrite(model);
	REQUIRE(span[100] ==
		(100 | DP_KIND_F_DST_MAC << DP_VNI_W_KINDS_SHIFT | DP_VNI_W_SPILL));
	REQUIRE(::mprotect(p, len, PROT_READ) == 0);
	VniWords again{span};
	again.rewrite(model); // faults if anything is stored
	CHECK(again.spilled() == 2);
	::munmap(p, len);
}

TEST_CASE("VNI words: a map of another size is refused; no map keeps only the count")
{
	std::vector<std::uint32_t> mem(16);
	CHECK_THROWS_AS(VniWords(std::span<volatile std::uint32_t>(
			    const_cast<volatile std::uint32_t *>(mem.data()), mem.size())),
			std::invalid_argument);
	VniWords none{{}};
	none.set(1, DP_KIND_F_SRC_MAC);
	none.set(1 + DP_VNI_WORDS, DP_KIND_F_SRC_MAC);
	CHECK(none.spilled() == 1);
}
