// A hash table with a size limit that evicts the least recently used
// entry: what keeps memory bounded under a SYN flood or a QP scan.
//
// Entries are in one of three recency lists: retired (entries the owner
// keeps only as long as room allows, e.g. closed TCP connections kept for
// their stragglers), probation (where new entries start) and protected
// (entries the owner promotes, e.g. established TCP connections). A full
// table evicts the least recently used retired entry, else the least
// recently used probation entry, and a protected one only when no other
// is left: a flood of new keys cannot push out the entries that matter,
// and leftovers of closed connections never push out live ones. The
// lists are threaded through the nodes themselves. Lookups that find an entry make it the most recent of its
// list; iteration runs through retired, probation, then protected, each
// oldest first.
//
// The index is open addressing (linear probing, backward-shift deletion)
// over nodes kept in chunks and reused through a free list: at a new
// connection every few packets, a node-based map's malloc/free and its
// extra pointer chases per lookup cost more than the rest of a record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace evpnmon::collector::records {

// Value must be a class type (it is the base of the stored slot).
template <class Key, class Value, class Hash = std::hash<Key>>
class LruTable {
	struct Slot;
	struct Node;
	enum : std::uint8_t { kRetired, kProbation, kProtected, kTiers };
	struct Slot : Value {
		Slot(Value &&v) : Value(std::move(v)) {}
		Node *self = nullptr;
		Node *prev = nullptr, *next = nullptr;
		std::uint8_t tier = kProbation;
		std::size_t hash = 0;
	};
	// Iterated like a map's pair<const Key, mapped>.
	struct Node {
		Node(const Key &k, Value &&v) : first(k), second(std::move(v)) {}
		const Key first;
		Slot second;
	};
	struct List {
		Node *head = nullptr, *tail = nullptr; // head = least recently used
	};
	struct Bucket {
		Node *node = nullptr;
		std::size_t hash = 0;
	};
	struct alignas(Node) Storage {
		unsigned char bytes[sizeof(Node)];
	};
	static constexpr std::size_t kChunk = 256;        // nodes per allocation
	static constexpr std::size_t kMinBuckets = 16;    // a power of two

public:
	// Iterates Node (first = key, second = the value: Slot is-a Value, so
	// `it->second` binds to a Value &).
	class iterator {
	public:
		using iterator_category = std::forward_iterator_tag;
		using value_type = Node;
		using difference_type = std::ptrdiff_t;
		using pointer = Node *;
		using reference = Node &;
		iterator() = default;
		Node &operator*() const { return *n_; }
		Node *operator->() const { return n_; }
		iterator &operator++()
		{
			n_ = n_->second.next;
			skip_empty();
			return *this;
		}
		iterator operator++(int)
		{
			auto old = *this;
			++*this;
			return old;
		}
		bool operator==(const iterator &o) const { return n_ == o.n_; }

	private:
		friend class LruTable;
		iterator(const LruTable *t, Node *n, std::uint8_t tier) : t_(t), n_(n), tier_(tier) { skip_empty(); }
		// At the end of a list: the head of the next non-empty one.
		void skip_empty()
		{
			while (!n_ && t_ && ++tier_ < kTiers)
				n_ = t_->lists_[tier_].head;
		}
		const LruTable *t_ = nullptr;
		Node *n_ = nullptr;
		std::uint8_t tier_ = kTiers;
	};

	explicit LruTable(std::size_t capacity) : capacity_(capacity ? capacity : 1) { reset_index(kMinBuckets); }
	~LruTable() { destroy_all(); }
	LruTable(const LruTable &) = delete;
	LruTable &operator=(const LruTable &) = delete;

	std::size_t size() const { return size_; }
	std::size_t capacity() const { return capacity_; }
	bool full() const { return size_ >= capacity_; }

	// The entry, now most recently used; nullptr when absent.
	Value *find(const Key &key)
	{
		Node *n = lookup(key);
		if (!n)
			return nullptr;
		List &l = list(n);
		if (n != l.tail) {
			unlink(n);
			link_tail(n);
		}
		return &n->second;
	}

	// The entry without touching the recency order.
	Value *peek(const Key &key)
	{
		Node *n = lookup(key);
		return n ? &n->second : nullptr;
	}

	// Inserts a new most recently used probation entry (the key must be
	// absent). When the table is full the victim (see above) is handed to
	// `on_evict(const Key &, Value &)` and removed first.
	template <class OnEvict>
	Value &insert(const Key &key, Value value, OnEvict &&on_evict)
	{
		if (size_ >= capacity_) {
			Node *victim = nullptr;
			for (const List &l : lists_)
				if ((victim = l.head))
					break;
			on_evict(victim->first, static_cast<Value &>(victim->second));
			remove(victim);
			++evictions_;
		}
		if ((size_ + 1) * 2 > buckets_.size())
			rehash(buckets_.size() * 2);
		const std::size_t h = Hash{}(key);
		Node *n = new (allocate()) Node(key, std::move(value));
		n->second.self = n;
		n->second.hash = h;
		place(n);
		++size_;
		link_tail(n);
		return n->second;
	}

	// Moves an entry (a Value this table returned) to the protected list,
	// or back to probation; it becomes the most recent of that list.
	void protect(Value &v, bool on) { move(v, on ? kProtected : kProbation); }
	bool is_protected(Value &v) const { return static_cast<Slot &>(v).tier == kProtected; }
	// Moves an entry to the retired list (the first evicted), as its most
	// recent; protect() takes it out again.
	void retire(Value &v) { move(v, kRetired); }
	bool is_retired(Value &v) const { return static_cast<Slot &>(v).tier == kRetired; }

	// Erases while iterating; the lists must not change otherwise during
	// an iteration (no find/insert/protect).
	iterator erase(iterator pos)
	{
		iterator next = pos;
		++next;
		remove(pos.n_);
		return next;
	}
	void erase(const Key &key)
	{
		if (Node *n = lookup(key))
			remove(n);
	}
	void clear()
	{
		destroy_all();
		chunks_.clear();
		free_.clear();
		chunk_used_ = kChunk;
		size_ = 0;
		reset_index(kMinBuckets);
		for (List &l : lists_)
			l = List{};
	}

	iterator begin() { return iterator(this, lists_[0].head, 0); }
	iterator end() { return iterator(); }

	std::size_t evictions() const { return evictions_; }

private:
	// Fibonacci hashing: the top bits of a multiple, so that weak hashes
	// (identity of an int) still spread.
	std::size_t home(std::size_t h) const { return static_cast<std::size_t>((h * 0x9e3779b97f4a7c15ULL) >> shift_); }

	Node *lookup(const Key &key) const
	{
		const std::size_t h = Hash{}(key);
		for (std::size_t i = home(h);; i = (i + 1) & mask_) {
			const Bucket &b = buckets_[i];
			if (!b.node)
				return nullptr;
			if (b.hash == h && b.node->first == key)
				return b.node;
		}
	}
	void place(Node *n)
	{
		std::size_t i = home(n->second.hash);
		while (buckets_[i].node)
			i = (i + 1) & mask_;
		buckets_[i] = Bucket{n, n->second.hash};
	}
	// An empty index of `count` (a power of two) buckets.
	void reset_index(std::size_t count)
	{
		buckets_.assign(count, Bucket{});
		mask_ = count - 1;
		shift_ = 64;
		for (std::size_t c = count; c > 1; c >>= 1)
			--shift_;
	}
	void rehash(std::size_t count)
	{
		std::vector<Bucket> old;
		old.swap(buckets_);
		reset_index(count);
		for (const Bucket &b : old)
			if (b.node)
				place(b.node);
	}
	// Unlinks, takes the node out of the index (shifting back the run
	// after it so that probing needs no tombstones) and frees it.
	void remove(Node *n)
	{
		unlink(n);
		std::size_t i = home(n->second.hash);
		while (buckets_[i].node != n)
			i = (i + 1) & mask_;
		for (std::size_t j = i;;) {
			j = (j + 1) & mask_;
			if (!buckets_[j].node)
				break;
			const std::size_t k = home(buckets_[j].hash);
			// k cyclically in (i, j]: the entry at j stays reachable.
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			buckets_[i] = buckets_[j];
			i = j;
		}
		buckets_[i] = Bucket{};
		n->~Node();
		free_.push_back(n);
		--size_;
	}
	void *allocate()
	{
		if (!free_.empty()) {
			Node *n = free_.back();
			free_.pop_back();
			return n;
		}
		if (chunk_used_ == kChunk) {
			chunks_.push_back(std::make_unique<Storage[]>(kChunk));
			chunk_used_ = 0;
		}
		return &chunks_.back()[chunk_used_++];
	}
	void destroy_all()
	{
		for (List &l : lists_)
			for (Node *n = l.head; n;) {
				Node *next = n->second.next;
				n->~Node();
				n = next;
			}
	}

	List &list(Node *n) { return lists_[n->second.tier]; }
	void move(Value &v, std::uint8_t tier)
	{
		Node *n = static_cast<Slot &>(v).self;
		if (n->second.tier == tier)
			return;
		unlink(n);
		n->second.tier = tier;
		link_tail(n);
	}
	void unlink(Node *n)
	{
		Slot &s = n->second;
		List &l = list(n);
		(s.prev ? s.prev->second.next : l.head) = s.next;
		(s.next ? s.next->second.prev : l.tail) = s.prev;
		s.prev = s.next = nullptr;
	}
	void link_tail(Node *n)
	{
		List &l = list(n);
		n->second.prev = l.tail;
		n->second.next = nullptr;
		(l.tail ? l.tail->second.next : l.head) = n;
		l.tail = n;
	}

	std::size_t capacity_;
	std::size_t size_ = 0;
	std::vector<Bucket> buckets_;
	std::size_t mask_ = 0;
	unsigned shift_ = 64;
	std::vector<std::unique_ptr<Storage[]>> chunks_;
	std::size_t chunk_used_ = kChunk;
	std::vector<Node *> free_;
	List lists_[kTiers];
	std::size_t evictions_ = 0;
};

} // namespace evpnmon::collector::records
