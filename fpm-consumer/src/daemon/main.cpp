// fpm-consumer daemon entry point.
#include "daemon/consumer.hpp"
#include "daemon/huge_page_heap.hpp"
#include "daemon/log.hpp"
#include "daemon/options.hpp"

#include <cstdlib>
#include <exception>

int main(int argc, char **argv)
{
	evpnmon::consumer::use_huge_page_heap(argv);
	const auto options = evpnmon::consumer::parse_options(argc, argv);
	if (const char *t = std::getenv("GLIBC_TUNABLES"))
		LOG_INFO(std::string("heap: GLIBC_TUNABLES=") + t);
	try {
		evpnmon::consumer::Consumer consumer(options);
		consumer.run();
	} catch (const std::exception &e) {
		LOG_ERROR(e.what());
		return 1;
	}
	return 0;
}
