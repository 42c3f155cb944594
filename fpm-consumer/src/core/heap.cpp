#include "core/heap.hpp"

#include <cstdlib>

namespace evpnmon::consumer {

void sort_freed_chunks()
{
#ifdef __GLIBC__
	// A request larger than the freed chunks, below the mmap threshold
	// (128 KiB at least), sorts up to 10,000 of them and then fits none:
	// 64 of them sort 640,000 chunks, more than 100,000 sessions free.
	// volatile: the compiler may not drop the pair.
	for (int i = 0; i < 64; ++i) {
		void *volatile p = std::malloc(96 * 1024);
		std::free(p);
	}
#endif
}

} // namespace evpnmon::consumer
