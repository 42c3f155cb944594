# fuzz_fpm_decoder: libFuzzer + ASan/UBSan target for the FPM/netlink decoder.
# The project compiler is g++, so the target is compiled by clang++ through a
# custom command (the decoder depends only on libmnl). A ctest test runs it
# for a bounded time on the seed corpus.
find_program(EVPNMON_CLANGXX NAMES clang++ clang++-14)
set(EVPNMON_FUZZ_SECONDS 30 CACHE STRING "Time budget of the fuzz ctest (seconds)")
if(NOT EVPNMON_CLANGXX)
  message(STATUS "fpm-consumer: clang++ not found, fuzz_fpm_decoder disabled")
  return()
endif()
set(_probe ${CMAKE_CURRENT_BINARY_DIR}/fuzz_probe.cpp)
file(WRITE ${_probe} "#include <cstdint>\n#include <cstddef>\nextern \"C\" int LLVMFuzzerTestOneInput(const uint8_t*, size_t){return 0;}\n")
execute_process(COMMAND ${EVPNMON_CLANGXX} -fsanitize=fuzzer ${_probe} -o ${CMAKE_CURRENT_BINARY_DIR}/fuzz_probe
  RESULT_VARIABLE _fuzz_ok OUTPUT_QUIET ERROR_QUIET)
if(NOT _fuzz_ok EQUAL 0)
  message(STATUS "fpm-consumer: ${EVPNMON_CLANGXX} cannot link -fsanitize=fuzzer, fuzz_fpm_decoder disabled")
  return()
endif()

set(_fuzz_out ${CMAKE_CURRENT_BINARY_DIR}/fuzz/fuzz_fpm_decoder)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
set(_fuzz_src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_fpm_decoder.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/fpm/fpm_framer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/fpm/netlink_decoder.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/core/model.cpp)
# The dataplane types include the session options (header only here).
set(_session ${EVPNMON_ROOT}/proto/session)
add_custom_command(OUTPUT ${_fuzz_out}
  COMMAND ${EVPNMON_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined
    -I${CMAKE_CURRENT_SOURCE_DIR}/src -I${EVPNMON_ROOT}/dataplane/include
    -I${_session} -I${_session}/include
    ${_fuzz_src} -lmnl -o ${_fuzz_out}
  DEPENDS ${_fuzz_src}
  COMMENT "clang++ -fsanitize=fuzzer fuzz_fpm_decoder"
  VERBATIM)
add_custom_target(fuzz_fpm_decoder ALL DEPENDS ${_fuzz_out})

set(_corpus ${EVPNMON_ROOT}/tests/fpm-consumer/data)
add_test(NAME fpm-consumer.fuzz_fpm_decoder
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
    ${_fuzz_out} -max_total_time=${EVPNMON_FUZZ_SECONDS} -rss_limit_mb=1024
    -timeout=10 -print_final_stats=1 -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/fuzz/
    ${CMAKE_CURRENT_BINARY_DIR}/fuzz/corpus ${_corpus})
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz/corpus)
set_tests_properties(fpm-consumer.fuzz_fpm_decoder PROPERTIES LABELS "fuzz;unit"
  TIMEOUT 600)

# fuzz_feed: bgpd's feed (protobuf) -> session_convert -> proto/session's
# options decoder, with round-trip properties (fuzz/fuzz_feed.cpp). The C
# half of proto/session is compiled by clang as C, the rest by clang++.
find_program(EVPNMON_FUZZ_CLANG NAMES clang clang-14)
if(NOT EVPNMON_FUZZ_CLANG)
  message(STATUS "fpm-consumer: clang not found, fuzz_feed disabled")
  return()
endif()
set(_feed_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz/feed)
file(MAKE_DIRECTORY ${_feed_dir} ${_feed_dir}/corpus)
set(_feed_out ${CMAKE_CURRENT_BINARY_DIR}/fuzz/fuzz_feed)
set(_san -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
set(_feed_c_objs)
foreach(_c evpn_mon_codec evpn_mon_options)
  add_custom_command(OUTPUT ${_feed_dir}/${_c}.o
    COMMAND ${EVPNMON_FUZZ_CLANG} -std=gnu11 ${_san} -I${_session}
      -c ${_session}/${_c}.c -o ${_feed_dir}/${_c}.o
    DEPENDS ${_session}/${_c}.c ${_session}/${_c}.h ${_session}/evpn_mon_options.h
    VERBATIM)
  list(APPEND _feed_c_objs ${_feed_dir}/${_c}.o)
endforeach()
set(_proto_out ${CMAKE_BINARY_DIR}/proto)
set(_feed_src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_feed.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/feed/session_convert.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/core/session_route.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/core/model.cpp
  ${_session}/options.cpp)
add_custom_command(OUTPUT ${_feed_out}
  COMMAND ${EVPNMON_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -w
    -I${CMAKE_CURRENT_SOURCE_DIR}/src -I${EVPNMON_ROOT}/dataplane/include
    -I${_session} -I${_session}/include -I${_proto_out}
    ${_feed_src} ${_proto_out}/monitor_feed.pb.cc ${_feed_c_objs} -lprotobuf -o ${_feed_out}
  DEPENDS ${_feed_src} ${_feed_c_objs} ${_proto_out}/monitor_feed.pb.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/src/feed/session_convert.hpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/core/session_route.hpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/core/model.hpp
  COMMENT "clang++ -fsanitize=fuzzer fuzz_feed"
  VERBATIM)
add_custom_target(fuzz_feed ALL DEPENDS ${_feed_out})
add_dependencies(fuzz_feed evpnmon_feed_proto)
add_test(NAME fpm-consumer.fuzz_feed
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
    ${_feed_out} -max_total_time=${EVPNMON_FUZZ_SECONDS} -rss_limit_mb=1024 -max_len=4096
    -timeout=10 -print_final_stats=1 -artifact_prefix=${_feed_dir}/
    ${_feed_dir}/corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/feed-corpus)
set_tests_properties(fpm-consumer.fuzz_feed PROPERTIES LABELS "fuzz;unit" TIMEOUT 600)
