// A hash table with a size limit that evicts the least recently used
// entry: what keeps memory bounded under a SYN flood or a QP scan.
//
// Entries are in one of two recency lists: probation (where new entries
// start) and protected (entries the owner promotes, e.g. established TCP
// connections). A full table evicts the least recently used probation
// entry, and a protected one only when no probation entry is left, so a
// flood of new keys cannot push out the entries that matter. The lists
// are threaded through the hash nodes themselves (no second allocation).
// Lookups that find an entry make it the most recent of its list;
// iteration runs through probation, then protected, each oldest first.
#pragma once

#include <cstddef>
#include <iterator>
#include <unordered_map>
#include <utility>

namespace evpnmon::collector::records {

// Value must be a class type (it is the base of the stored slot).
template <class Key, class Value, class Hash = std::hash<Key>>
class LruTable {
	struct Slot;
	using Map = std::unordered_map<Key, Slot, Hash>;
	using Node = typename Map::value_type; // pair<const Key, Slot>
	struct Slot : Value {
		Slot(Value &&v) : Value(std::move(v)) {}
		Node *self = nullptr;
		Node *prev = nullptr, *next = nullptr;
		bool protect = false;
	};
	struct List {
		Node *head = nullptr, *tail = nullptr; // head = least recently used
	};

public:
	// Iterates pair<const Key, Slot>; Slot is-a Value, so `it->second`
	// binds to a Value &.
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
			if (!n_ && !second_)
				n_ = then_, second_ = true;
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
		iterator(Node *n, Node *then, bool second) : n_(n), then_(then), second_(second)
		{
			if (!n_ && !second_)
				n_ = then_, second_ = true;
		}
		Node *n_ = nullptr;
		Node *then_ = nullptr; // head of the protected list
		bool second_ = true;
	};

	explicit LruTable(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}
	LruTable(const LruTable &) = delete;
	LruTable &operator=(const LruTable &) = delete;

	std::size_t size() const { return map_.size(); }
	std::size_t capacity() const { return capacity_; }
	bool full() const { return map_.size() >= capacity_; }

	// The entry, now most recently used; nullptr when absent.
	Value *find(const Key &key)
	{
		auto it = map_.find(key);
		if (it == map_.end())
			return nullptr;
		Node *n = &*it;
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
		auto it = map_.find(key);
		return it == map_.end() ? nullptr : &it->second;
	}

	// Inserts a new most recently used probation entry (the key must be
	// absent). When the table is full the victim (see above) is handed to
	// `on_evict(const Key &, Value &)` and removed first.
	template <class OnEvict>
	Value &insert(const Key &key, Value value, OnEvict &&on_evict)
	{
		if (map_.size() >= capacity_) {
			Node *victim = probation_.head ? probation_.head : protected_.head;
			on_evict(victim->first, static_cast<Value &>(victim->second));
			unlink(victim);
			map_.erase(victim->first);
			++evictions_;
		}
		auto [it, inserted] = map_.emplace(key, Slot(std::move(value)));
		Node *n = &*it;
		n->second.self = n;
		link_tail(n);
		return n->second;
	}

	// Moves an entry (a Value this table returned) to the protected list,
	// or back to probation; it becomes the most recent of that list.
	void protect(Value &v, bool on)
	{
		Node *n = static_cast<Slot &>(v).self;
		if (n->second.protect == on)
			return;
		unlink(n);
		n->second.protect = on;
		link_tail(n);
	}
	bool is_protected(Value &v) const { return static_cast<Slot &>(v).protect; }

	// Erases while iterating; the lists must not change otherwise during
	// an iteration (no find/insert/protect).
	iterator erase(iterator pos)
	{
		iterator next = pos;
		++next;
		Node *n = pos.n_;
		unlink(n);
		map_.erase(n->first);
		return next;
	}
	void erase(const Key &key)
	{
		auto it = map_.find(key);
		if (it == map_.end())
			return;
		unlink(&*it);
		map_.erase(it);
	}
	void clear()
	{
		map_.clear();
		probation_ = protected_ = List{};
	}

	iterator begin() { return iterator(probation_.head, protected_.head, false); }
	iterator end() { return iterator(nullptr, nullptr, true); }

	std::size_t evictions() const { return evictions_; }

private:
	List &list(Node *n) { return n->second.protect ? protected_ : probation_; }
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
	Map map_;
	List probation_, protected_;
	std::size_t evictions_ = 0;
};

} // namespace evpnmon::collector::records
