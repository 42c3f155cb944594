# Debian packages, included by the top-level CMakeLists.txt.
# One target makes all of them:
#
#   cmake --build build --target packages
#
# build/packages/ then holds
#   * frr_<Debian version>+evpnmon1_amd64.deb, frr-snmp, frr-rpki-rtrlib and
#     frr-dbgsym: Debian's own frr source package with our series in
#     debian/patches, built by frr-plugin/build-frr-debs.sh and cached in
#     ${EVPNMON_CACHE_DIR}/debs-<hash> (unchanged series: not rebuilt). The
#     bgpd module bgpd_evpn_mon.so ships in the frr package, in FRR's module
#     directory next to dplane_fpm_nl.so: it is built by FRR's build system
#     and must match that bgpd exactly;
#   * evpn-monitor_<version>-1_amd64.deb (CPack, DEB generator): every
#     install() rule without a COMPONENT (component "Unspecified"):
#     fpm-consumer, evpnmon-ctl, evpnmon-collector, the systemd units, the
#     default configurations,
#     FRR settings to merge, the YANG module, the .proto, the docs, the
#     Wireshark Lua dissector.
#     Depends: frr (= the version built above), plus shared libraries.
# The relocated FRR tree of `cmake --install` (component frr-relocated,
# frr-plugin/CMakeLists.txt) is not packaged.
# docs/operator-guide.md, "Installing from packages".

set(EVPNMON_PACKAGES_DIR ${CMAKE_BINARY_DIR}/packages)

# --- files that only the package (and `cmake --install`) carries
install(FILES ${PROJECT_SOURCE_DIR}/fpm-consumer/systemd/evpnmon-fpm-consumer@.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/fpm-consumer/etc/fpm-consumer-default.conf
              ${PROJECT_SOURCE_DIR}/collector/etc/collector-default.conf
        DESTINATION /etc/evpn-monitor)
install(FILES ${PROJECT_SOURCE_DIR}/collector/systemd/evpnmon-collector@.service
        DESTINATION lib/systemd/system)
# the record stream's schema, for subscribers
install(FILES ${PROJECT_SOURCE_DIR}/proto/collector_records.proto
        DESTINATION share/evpn-monitor)
install(FILES ${PROJECT_SOURCE_DIR}/frr-plugin/etc/frr-daemons.evpn-monitor
              ${PROJECT_SOURCE_DIR}/frr-plugin/etc/frr.conf.evpn-monitor
        DESTINATION share/evpn-monitor)
install(FILES ${PROJECT_SOURCE_DIR}/yang/evpn-monitor.yang
        DESTINATION share/yang/modules/evpn-monitor)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operator-guide.md ${PROJECT_SOURCE_DIR}/docs/fpm-consumer.md
              ${PROJECT_SOURCE_DIR}/docs/collector.md
        DESTINATION share/doc/evpn-monitor)
# Wireshark's global Lua plugins folder (tshark -G folders): the dissector of
# the monitor route and capability 239 loads by itself
install(FILES ${PROJECT_SOURCE_DIR}/frr-plugin/wireshark/evpn-monitor.lua
        DESTINATION lib/${CMAKE_LIBRARY_ARCHITECTURE}/wireshark/plugins)

# --- CPack (DEB)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME evpn-monitor)
set(CPACK_PACKAGE_VENDOR evpn-monitor)
set(CPACK_PACKAGE_CONTACT "evpn-monitor developers <evpn-monitor@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "monitor one host's traffic in a VXLAN/BGP-EVPN fabric")
set(CPACK_PACKAGE_DESCRIPTION
"Configured once, on one leaf, with vtysh: an EVPN route type (254)
carries the monitoring session to every VTEP of the VNI; on each leaf the
fpm-consumer turns zebra's FPM stream, local MAC learning and the sessions
into TC eBPF mirror/decap entries; copies travel VXLAN-GBP encapsulated to
the monitoring server's leaf, or as ERSPAN II/III to any collector IP.
evpnmon-collector receives the copies, writes one pcapng file set per
session and publishes TCP handshake and RoCEv2 records over ZeroMQ.

This package: fpm-consumer, evpnmon-ctl, evpnmon-collector, the systemd
units evpnmon-fpm-consumer@.service and evpnmon-collector@.service, their
default configurations, FRR settings to
merge (/usr/share/evpn-monitor), the YANG module, the feed's .proto and
the Wireshark dissector of the monitor route.
The bgpd module (bgpd_evpn_mon.so) ships in the patched frr package this
package depends on.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# only the component "Unspecified": not the relocated FRR tree
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};${PROJECT_NAME};Unspecified;/")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles
     "/etc/evpn-monitor/fpm-consumer-default.conf\n/etc/evpn-monitor/collector-default.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles
    ${CMAKE_CURRENT_LIST_DIR}/postinst
    ${CMAKE_CURRENT_LIST_DIR}/prerm
    ${CMAKE_CURRENT_LIST_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Depends: frr (= <version>), read at cpack time from what
# build-frr-debs.sh built (EVPNMON_PACKAGES_DIR/frr-deb-version)
configure_file(${CMAKE_CURRENT_LIST_DIR}/cpack-project.cmake.in
               ${CMAKE_BINARY_DIR}/packaging/cpack-project.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/packaging/cpack-project.cmake)
set(CPACK_OUTPUT_FILE_PREFIX ${EVPNMON_PACKAGES_DIR})
include(CPack)

add_custom_target(packages
  COMMAND ${PROJECT_SOURCE_DIR}/frr-plugin/build-frr-debs.sh ${EVPNMON_CACHE_DIR} ${EVPNMON_PACKAGES_DIR}
  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
          -B ${EVPNMON_PACKAGES_DIR}
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${EVPNMON_PACKAGES_DIR}/_CPack_Packages
  COMMAND sh -c "ls -l ${EVPNMON_PACKAGES_DIR}/*.deb"
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Debian packages in ${EVPNMON_PACKAGES_DIR} (patched frr cached in ${EVPNMON_CACHE_DIR})"
  USES_TERMINAL VERBATIM)
foreach(_t fpm-consumer evpnmon-ctl evpnmon-collector)
  if(TARGET ${_t})
    add_dependencies(packages ${_t})
  endif()
endforeach()
