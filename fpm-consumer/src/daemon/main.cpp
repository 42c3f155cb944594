// fpm-consumer daemon entry point.
#include "daemon/allocator.hpp"
#include "daemon/consumer.hpp"
#include "daemon/log.hpp"
#include "daemon/options.hpp"

#include <cstdlib>
#include <exception>

int main(int argc, char **argv)
{
	const auto options = evpnmon::consumer::parse_options(argc, argv);
	LOG_INFO(evpnmon::consumer::allocator_summary());
	try {
		evpnmon::consumer::Consumer consumer(options);
		consumer.run();
	} catch (const std::exception &e) {
		LOG_ERROR(e.what());
		return 1;
	}
	return 0;
}
