# linux backend: BPF object compiled with clang -target bpf, libbpf skeleton
# generated with bpftool, libbpf/libmnl/libnl-route for the userspace side.
find_program(EVPNMON_CLANG NAMES clang clang-14 REQUIRED)
find_program(EVPNMON_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
pkg_check_modules(LIBNL_ROUTE REQUIRED IMPORTED_TARGET libnl-route-3.0)

set(_dp_bpf_src ${CMAKE_CURRENT_SOURCE_DIR}/bpf/mirror.bpf.c)
set(_dp_bpf_headers
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/evpnmon_shared.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/evpnmon_kinds.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/maps.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/port.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/stats.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/parse.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/match.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/profile.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/emit.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/ceiling.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/bucket.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/tunnel.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/decap.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/egress.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/trunc.h
  ${CMAKE_CURRENT_SOURCE_DIR}/bpf/lib/erspan.h
  ${CMAKE_CURRENT_SOURCE_DIR}/../proto/erspan/erspan_wire.h)
set(_dp_bpf_obj ${CMAKE_CURRENT_BINARY_DIR}/mirror.bpf.o)
set(_dp_skel ${CMAKE_CURRENT_BINARY_DIR}/gen/mirror.skel.h)
execute_process(COMMAND uname -m OUTPUT_VARIABLE _dp_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
# -mcpu=v3: atomic fetch-and-add (the ERSPAN GRE sequence number).
add_custom_command(
  OUTPUT ${_dp_bpf_obj}
  COMMAND ${EVPNMON_CLANG} -O2 -g -Wall -target bpf -mcpu=v3
          -I/usr/include/${_dp_arch}-linux-gnu
          -I${CMAKE_CURRENT_SOURCE_DIR}/bpf
          -I${CMAKE_CURRENT_SOURCE_DIR}/../proto/erspan
          -c ${_dp_bpf_src} -o ${_dp_bpf_obj}
  DEPENDS ${_dp_bpf_src} ${_dp_bpf_headers}
  COMMENT "BPF: mirror.bpf.c")
add_custom_command(
  OUTPUT ${_dp_skel}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/gen
  COMMAND ${EVPNMON_BPFTOOL} gen skeleton ${_dp_bpf_obj} name mirror_bpf > ${_dp_skel}
  DEPENDS ${_dp_bpf_obj}
  COMMENT "BPF skeleton: mirror.skel.h")
add_custom_target(evpnmon_dp_skel DEPENDS ${_dp_skel})

target_sources(evpnmon_dataplane PRIVATE
  src/linux/bpf_object.cpp
  src/linux/tc_filter.cpp
  src/linux/links.cpp
  src/linux/fdb_listener.cpp
  src/linux/entry_store.cpp
  src/linux/match_bits.cpp
  src/linux/vni_words.cpp
  src/linux/linux_backend.cpp
  ${_dp_skel})
add_dependencies(evpnmon_dataplane evpnmon_dp_skel)
target_include_directories(evpnmon_dataplane PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/gen)
target_compile_definitions(evpnmon_dataplane PRIVATE EVPNMON_DP_HAVE_LINUX=1)
target_link_libraries(evpnmon_dataplane PUBLIC
  PkgConfig::LIBBPF PkgConfig::LIBMNL PkgConfig::LIBNL_ROUTE)

add_executable(evpnmon-dpctl tools/dpctl.cpp)
target_link_libraries(evpnmon-dpctl PRIVATE evpnmon_dataplane)
