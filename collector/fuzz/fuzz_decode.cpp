// libFuzzer target for the collector's decoders: every input goes through
// all of them (raw-socket GRE, AF_PACKET GRE, VXLAN, the inner frame, the
// packet time), with the properties the rest of the collector relies on.
#include "decode/decode.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

using namespace evpnmon::collector;

namespace {

void require(bool ok)
{
	if (!ok)
		std::abort();
}

bool inside(std::span<const std::uint8_t> inner, std::span<const std::uint8_t> outer)
{
	return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_reason(DecodeError e)
{
	require(static_cast<std::size_t>(e) < kDecodeErrorCount);
	require(std::strcmp(to_string(e), "unknown") != 0);
}

void check_frame(std::span<const std::uint8_t> f)
{
	Frame fr;
	const DecodeError e = decode_frame(f, fr);
	check_reason(e);
	require(fr.captured_len == f.size());
	require(fr.original_len >= fr.captured_len);
	require(!fr.has_tcp || fr.has_ports);
	require(!fr.has_bth || (fr.has_ports && fr.ip_proto == 17));
	require(!fr.bth.has_aeth || fr.has_bth);
	require(fr.bth.dest_qp < (1u << 24) && fr.bth.psn < (1u << 24));
	require(fr.tcp.window_scale <= 14);
	if (fr.has_ip)
		(void)fr.src_ip.to_string();
}

void check_copy(DecodeError e, const Copy &c, std::span<const std::uint8_t> in, std::uint64_t rx)
{
	check_reason(e);
	if (e != DecodeError::None)
		return;
	require(c.frame.size() >= 14);
	require(inside(c.frame, in));
	require(c.span_id < 1024 && c.vlan < 4096 && c.cos < 8);
	require(c.vni < (1u << 24));
	const auto t = copy_time_ns(c, rx);
	if (t && c.encap == Encap::ErspanIII && !c.has_ts_high && (c.gra == 0 || c.gra == 1)) {
		// a rebuilt 32-bit timestamp lands within half a wrap of rx
		// (unless rx is within half a wrap of 0: no negative times)
		const std::uint64_t unit = c.gra == 1 ? 100 : 100'000;
		const std::uint64_t half = (std::uint64_t{1} << 31) * unit + unit;
		const std::uint64_t diff = *t > rx ? *t - rx : rx - *t;
		require(diff <= half || rx / unit < (std::uint64_t{1} << 31));
		require((*t / unit & 0xffffffffu) == c.ts_low);
	}
	(void)c.source.to_string();
	(void)to_string(c.encap);
	check_frame(c.frame);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::span<const std::uint8_t> in(data, size);
	// A receive time from the input too, so the wrap arithmetic is fuzzed.
	std::uint64_t rx = 1'796'288'400'000'000'000ull;
	if (size >= 8)
		std::memcpy(&rx, data + size - 8, 8);

	Copy c;
	check_copy(decode_gre_ip(in, c), c, in, rx);
	check_copy(decode_gre_ether(in, c), c, in, rx);
	check_copy(decode_vxlan(in, IpAddr::v4(0x0100000a), c), c, in, rx);
	check_frame(in);
	return 0;
}
