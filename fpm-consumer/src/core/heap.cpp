#include "core/heap.hpp"

#include <cstdlib>

namespace evpnmon::consumer {

void sort_freed_chunks()
{
#ifdef __GLIBC__
	// A request of 96 KiB (beyond tcache and fastbins) first walks the
	// unsorted list, up to 10,000 chunks, stopping early only on a chunk
	// of exactly its size, which is unlikely: 64 of them walk 640,000
	// chunks, more than a decision of 100,000 sessions frees. The walk
	// comes before any mmap, whatever the threshold. volatile: the
	// compiler may not drop the pair.
	for (int i = 0; i < 64; ++i) {
		void *volatile p = std::malloc(96 * 1024);
		std::free(p);
	}
#endif
}

} // namespace evpnmon::consumer
