#include "records/lru_table.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

using evpnmon::collector::records::LruTable;

namespace {
struct V {
	int v = 0;
	V(int x = 0) : v(x) {}
};
} // namespace

TEST_CASE("lru: evicts the least recently used entry when full")
{
	LruTable<int, std::string> t(3);
	std::vector<int> evicted;
	auto on_evict = [&](const int &k, std::string &) { evicted.push_back(k); };
	t.insert(1, "a", on_evict);
	t.insert(2, "b", on_evict);
	t.insert(3, "c", on_evict);
	CHECK(t.full());
	REQUIRE(t.find(1)); // 1 is now the most recent: 2 goes first
	t.insert(4, "d", on_evict);
	CHECK(evicted == std::vector<int>{2});
	CHECK(t.size() == 3);
	CHECK(t.evictions() == 1);
	CHECK(t.peek(2) == nullptr);
	CHECK(*t.peek(1) == "a");
	// peek does not refresh: 3 is the oldest now
	t.insert(5, "e", on_evict);
	CHECK(evicted == std::vector<int>{2, 3});
}

TEST_CASE("lru: iteration runs oldest first, erase while iterating")
{
	LruTable<int, V> t(10);
	auto none = [](const int &, V &) { FAIL("no eviction expected"); };
	for (int i = 0; i < 5; ++i)
		t.insert(i, i * 10, none);
	t.find(0);
	std::vector<int> order;
	for (auto it = t.begin(); it != t.end();) {
		order.push_back(it->first);
		it = (it->first % 2) ? t.erase(it) : std::next(it);
	}
	CHECK(order == std::vector<int>{1, 2, 3, 4, 0});
	CHECK(t.size() == 3);
	t.erase(2);
	CHECK(t.size() == 2);
	t.clear();
	CHECK(t.size() == 0);
}

TEST_CASE("lru: capacity 0 behaves as 1, memory stays bounded under churn")
{
	LruTable<int, V> t(0);
	int evicted = 0;
	for (int i = 0; i < 100000; ++i)
		t.insert(i, i, [&](const int &, V &) { ++evicted; });
	CHECK(t.size() == 1);
	CHECK(evicted == 99999);
}

TEST_CASE("lru: protected entries are evicted only when no probation entry is left")
{
	LruTable<int, V> t(4);
	std::vector<int> evicted;
	auto on_evict = [&](const int &k, V &) { evicted.push_back(k); };
	for (int i = 0; i < 4; ++i)
		t.insert(i, i, on_evict);
	t.protect(*t.peek(0), true);
	t.protect(*t.peek(1), true);
	CHECK(t.is_protected(*t.peek(0)));
	for (int i = 10; i < 20; ++i)
		t.insert(i, i, on_evict);
	CHECK(t.peek(0));
	CHECK(t.peek(1));
	CHECK(evicted.size() == 10);
	CHECK(evicted[0] == 2);
	// iteration: probation oldest first, then protected oldest first
	std::vector<int> order;
	for (auto &[k, v] : t)
		order.push_back(k);
	CHECK(order == std::vector<int>{18, 19, 0, 1});
	// erase across the list boundary while iterating
	for (auto it = t.begin(); it != t.end();)
		it = t.erase(it);
	CHECK(t.size() == 0);
	CHECK(t.begin() == t.end());
	// all protected: the oldest protected goes
	evicted.clear();
	for (int i = 0; i < 4; ++i) {
		t.insert(i, i, on_evict);
		t.protect(*t.peek(i), true);
	}
	t.find(0);
	t.insert(9, 9, on_evict);
	CHECK(evicted == std::vector<int>{1});
	t.protect(*t.peek(0), false);
	t.insert(8, 8, on_evict); // 9 is older in probation than 0 (moved just now)
	CHECK(evicted == std::vector<int>{1, 9});
}

TEST_CASE("lru: retired entries are evicted first, iterated first, protect() revives them")
{
	LruTable<int, V> t(4);
	std::vector<int> evicted;
	auto on_evict = [&](const int &k, V &) { evicted.push_back(k); };
	for (int i = 0; i < 4; ++i)
		t.insert(i, i, on_evict);
	t.protect(*t.peek(0), true);
	t.retire(*t.peek(3));
	t.retire(*t.peek(2));
	CHECK(t.is_retired(*t.peek(3)));
	CHECK_FALSE(t.is_protected(*t.peek(3)));
	std::vector<int> order;
	for (auto &[k, v] : t)
		order.push_back(k);
	CHECK(order == std::vector<int>{3, 2, 1, 0});
	t.find(3); // the most recent retired one now
	t.insert(4, 4, on_evict);
	CHECK(evicted == std::vector<int>{2});
	t.protect(*t.peek(3), false); // back to probation, after 1 and 4
	t.insert(5, 5, on_evict);
	t.insert(6, 6, on_evict);
	CHECK(evicted == std::vector<int>{2, 1, 4});
	CHECK(t.peek(0)); // protected all along
}

TEST_CASE("lru: agrees with a reference model under random inserts, finds, erases")
{
	// Small keys collide in the index often: probing and the shifting
	// back at erase get exercised.
	LruTable<int, V> t(50);
	std::map<int, int> ref; // key -> value
	std::vector<int> order; // recency of the probation list = all entries here
	std::uint64_t x = 88172645463325252ULL;
	auto rnd = [&] {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		return x;
	};
	for (int step = 0; step < 200000; ++step) {
		const int k = static_cast<int>(rnd() % 200);
		switch (rnd() % 3) {
		case 0: {
			V *v = t.find(k);
			REQUIRE((v != nullptr) == (ref.count(k) == 1));
			if (v) {
				CHECK(v->v == ref[k]);
				order.erase(std::find(order.begin(), order.end(), k));
				order.push_back(k);
			}
			break;
		}
		case 1:
			if (!ref.count(k)) {
				int victim = -1;
				t.insert(k, k * 7 + step, [&](const int &key, V &) { victim = key; });
				if (ref.size() == 50) {
					REQUIRE(victim == order.front());
					ref.erase(victim);
					order.erase(order.begin());
				} else {
					REQUIRE(victim == -1);
				}
				ref[k] = k * 7 + step;
				order.push_back(k);
			}
			break;
		default:
			t.erase(k);
			if (ref.erase(k))
				order.erase(std::find(order.begin(), order.end(), k));
			break;
		}
		REQUIRE(t.size() == ref.size());
	}
	std::vector<int> got;
	for (auto &[k, v] : t) {
		got.push_back(k);
		CHECK(v.v == ref[k]);
	}
	CHECK(got == order);
	t.clear();
	CHECK(t.size() == 0);
	CHECK_FALSE(t.find(order.front()));
	t.insert(1, 1, [](const int &, V &) {});
	CHECK(t.peek(1));
}
