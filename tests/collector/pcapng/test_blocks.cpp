// Block encoding against the independent reader: sizes, padding, options.
#include "pcapng/blocks.hpp"
#include "pcapng_test_util.hpp"

using namespace pcapng_test;

TEST_CASE("pcapng blocks: EPB size, padding and options for every caplen mod 4")
{
	TempDir tmp;
	std::vector<std::uint8_t> file;
	append_shb(file, ShbFields{.hardware = "hw", .os = "os", .userappl = "app"});
	append_idb(file, IdbFields{.snaplen = 9216, .name = "eth9", .description = "d"});
	std::vector<std::vector<std::uint8_t>> datas;
	for (std::size_t caplen = 0; caplen < 12; ++caplen) {
		std::vector<std::uint8_t> d(caplen);
		for (std::size_t i = 0; i < caplen; ++i)
			d[i] = static_cast<std::uint8_t>(0xf0 + i);
		datas.push_back(d);
	}
	for (std::size_t k = 0; k < datas.size(); ++k) {
		for (int variant = 0; variant < 4; ++variant) {
			EpbFields e;
			e.ts = 0x0102030405060708ull + k;
			e.data = datas[k];
			e.original_len = variant == 1 ? 1500 : 0;
			e.flags = variant & 1 ? 2 : 0;
			e.dropcount = variant & 2 ? 0x1122334455ull : 0;
			e.comment = variant == 3 ? std::string_view("abcde") : std::string_view();
			std::size_t sz = epb_size(e);
			CHECK(sz % 4 == 0);
			std::vector<std::uint8_t> out(sz + 8, 0xee);
			CHECK(encode_epb(out.data(), e) == sz);
			CHECK(out[sz] == 0xee); // nothing written past the block
			file.insert(file.end(), out.begin(), out.begin() + static_cast<long>(sz));
		}
	}
	append_isb(file, IsbFields{.interface_id = 0, .ts = 7, .has_times = true, .starttime = 1, .endtime = 2,
				   .ifrecv = 3, .ifdrop = 4, .osdrop = 5});
	auto path = tmp.path / "blocks.pcapng";
	std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(file.data()), file.size());

	auto blocks = read_blocks(path);
	REQUIRE(blocks.size() == 2 + datas.size() * 4 + 1);
	CHECK(blocks[0].opt(shb_userappl)->str() == "app");
	CHECK(blocks[1].opt(if_name)->str() == "eth9");
	CHECK(blocks[1].opt(if_tsresol)->value == std::vector<std::uint8_t>{9});
	for (std::size_t k = 0; k < datas.size(); ++k) {
		for (int variant = 0; variant < 4; ++variant) {
			const Block &b = blocks[2 + k * 4 + variant];
			INFO("caplen " << k << " variant " << variant);
			CHECK(b.type == block_epb);
			CHECK(b.ts == 0x0102030405060708ull + k);
			CHECK(b.caplen == k);
			CHECK(b.origlen == (variant == 1 ? 1500 : k));
			CHECK(b.data == datas[k]);
			CHECK((b.opt(epb_flags) != nullptr) == bool(variant & 1));
			CHECK((b.opt(epb_dropcount) != nullptr) == bool(variant & 2));
			if (variant & 2)
				CHECK(b.opt(epb_dropcount)->u64() == 0x1122334455ull);
			if (variant == 3)
				CHECK(b.opt(opt_comment)->str() == "abcde");
			if (variant == 0)
				CHECK(b.options.empty());
		}
	}
	const Block &isb = blocks.back();
	CHECK(isb.opt(isb_starttime)->ts() == 1);
	CHECK(isb.opt(isb_endtime)->ts() == 2);
	CHECK(isb.opt(isb_osdrop)->u64() == 5);

	auto rows = tshark_fields(path, {"frame.cap_len", "frame.len", "frame.drop_count", "frame.comment"});
	REQUIRE(rows.size() == datas.size() * 4);
	CHECK(rows[4 * 5 + 3] == std::vector<std::string>{"5", "5", "73588229205", "abcde"});
	CHECK(rows[4 * 7 + 1] == std::vector<std::string>{"7", "1500", "", ""});
	CHECK(capinfos_table(path)["Number of packets"] == std::to_string(datas.size() * 4));
}
