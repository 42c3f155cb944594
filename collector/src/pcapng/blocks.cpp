#include "pcapng/blocks.hpp"

#include <algorithm>
#include <cstring>

namespace evpnmon::collector::pcapng {
namespace {

constexpr std::size_t pad4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

template <typename T>
inline std::uint8_t *put(std::uint8_t *p, T v)
{
	std::memcpy(p, &v, sizeof v);
	return p + sizeof v;
}

// Option: code, length, value, zero padding to 4 octets.
inline std::uint8_t *put_option(std::uint8_t *p, std::uint16_t code, const void *value,
				std::size_t len)
{
	p = put(p, code);
	p = put(p, static_cast<std::uint16_t>(len));
	std::memcpy(p, value, len);
	std::size_t padded = pad4(len);
	std::memset(p + len, 0, padded - len);
	return p + padded;
}

inline std::size_t option_size(std::size_t len) { return 4 + pad4(len); }

// Builds a non-EPB block (cold path: allocation is fine) in `out`.
class BlockBuilder {
public:
	BlockBuilder(std::vector<std::uint8_t> &out, std::uint32_t type) : out_(out), start_(out.size())
	{
		u32(type);
		u32(0); // length, patched in finish()
	}
	void u16(std::uint16_t v) { raw(&v, sizeof v); }
	void u32(std::uint32_t v) { raw(&v, sizeof v); }
	void u64(std::uint64_t v) { raw(&v, sizeof v); }
	void raw(const void *p, std::size_t n)
	{
		const auto *b = static_cast<const std::uint8_t *>(p);
		out_.insert(out_.end(), b, b + n);
	}
	void option(std::uint16_t code, const void *value, std::size_t len)
	{
		u16(code);
		u16(static_cast<std::uint16_t>(len));
		raw(value, len);
		out_.resize(out_.size() + (pad4(len) - len), 0);
		any_option_ = true;
	}
	void option(std::uint16_t code, std::string_view s)
	{
		if (!s.empty())
			option(code, s.data(), std::min<std::size_t>(s.size(), 0xfffc));
	}
	void option_u64(std::uint16_t code, std::uint64_t v) { option(code, &v, sizeof v); }
	// 64-bit timestamps in options are two 32-bit words, high first.
	void option_ts(std::uint16_t code, std::uint64_t ts)
	{
		std::uint32_t w[2] = {static_cast<std::uint32_t>(ts >> 32), static_cast<std::uint32_t>(ts)};
		option(code, w, sizeof w);
	}
	void finish()
	{
		if (any_option_)
			u32(0); // opt_endofopt
		std::uint32_t len = static_cast<std::uint32_t>(out_.size() - start_ + 4);
		u32(len);
		std::memcpy(out_.data() + start_ + 4, &len, sizeof len);
	}

private:
	std::vector<std::uint8_t> &out_;
	std::size_t start_;
	bool any_option_ = false;
};

} // namespace

std::size_t epb_size(const EpbFields &f)
{
	std::size_t n = 28 + pad4(f.data.size()) + 4;
	bool opts = false;
	if (f.flags) {
		n += option_size(4);
		opts = true;
	}
	if (f.dropcount) {
		n += option_size(8);
		opts = true;
	}
	if (!f.comment.empty()) {
		n += option_size(f.comment.size());
		opts = true;
	}
	if (opts)
		n += 4;
	return n;
}

std::size_t encode_epb(std::uint8_t *out, const EpbFields &f)
{
	const std::size_t total = epb_size(f);
	const auto caplen = static_cast<std::uint32_t>(f.data.size());
	std::uint8_t *p = out;
	p = put(p, block_epb);
	p = put(p, static_cast<std::uint32_t>(total));
	p = put(p, f.interface_id);
	p = put(p, static_cast<std::uint32_t>(f.ts >> 32));
	p = put(p, static_cast<std::uint32_t>(f.ts));
	p = put(p, caplen);
	p = put(p, f.original_len < caplen ? caplen : f.original_len);
	if (caplen)
		std::memcpy(p, f.data.data(), caplen);
	std::size_t padded = pad4(caplen);
	std::memset(p + caplen, 0, padded - caplen);
	p += padded;
	bool opts = false;
	if (f.flags) {
		p = put_option(p, epb_flags, &f.flags, sizeof f.flags);
		opts = true;
	}
	if (f.dropcount) {
		p = put_option(p, epb_dropcount, &f.dropcount, sizeof f.dropcount);
		opts = true;
	}
	if (!f.comment.empty()) {
		p = put_option(p, opt_comment, f.comment.data(), f.comment.size());
		opts = true;
	}
	if (opts)
		p = put(p, std::uint32_t{0});
	p = put(p, static_cast<std::uint32_t>(total));
	return static_cast<std::size_t>(p - out);
}

void append_shb(std::vector<std::uint8_t> &out, const ShbFields &f)
{
	BlockBuilder b(out, block_shb);
	b.u32(byte_order_magic);
	b.u16(1); // major
	b.u16(0); // minor
	b.u64(~std::uint64_t{0}); // section length: not specified
	b.option(shb_hardware, f.hardware);
	b.option(shb_os, f.os);
	b.option(shb_userappl, f.userappl);
	b.finish();
}

void append_idb(std::vector<std::uint8_t> &out, const IdbFields &f)
{
	BlockBuilder b(out, block_idb);
	b.u16(f.linktype);
	b.u16(0); // reserved
	b.u32(f.snaplen);
	b.option(if_name, f.name);
	b.option(if_description, f.description);
	if (f.tsresol != 6) // 6 (microseconds) is the default
		b.option(if_tsresol, &f.tsresol, 1);
	b.finish();
}

void append_isb(std::vector<std::uint8_t> &out, const IsbFields &f)
{
	BlockBuilder b(out, block_isb);
	b.u32(f.interface_id);
	b.u32(static_cast<std::uint32_t>(f.ts >> 32));
	b.u32(static_cast<std::uint32_t>(f.ts));
	if (f.has_times) {
		b.option_ts(isb_starttime, f.starttime);
		b.option_ts(isb_endtime, f.endtime);
	}
	b.option_u64(isb_ifrecv, f.ifrecv);
	b.option_u64(isb_ifdrop, f.ifdrop);
	b.option_u64(isb_osdrop, f.osdrop);
	b.finish();
}

} // namespace evpnmon::collector::pcapng
