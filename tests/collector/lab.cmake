# evpnmon-collector end-to-end tests (included from tests/collector/CMakeLists.txt).
# They run the real collector binary against real packets in network
# namespaces (root): RESOURCE_LOCK netns-lab keeps them from running beside a
# fabric; EVPNMON_NO_SKIP=1 turns a skip into a failure (tests/conftest.py).
if(TARGET evpnmon-collector)
  # two namespaces and a veth, no fabric: a replayed ERSPAN III stream with
  # known gaps, every file and counter checked (losses, drop counts, times)
  evpnmon_lab_pytest(collector.replay test_collector_replay.py 300)
  if(EVPNMON_BUILD_FRR)
    # the reference fabric: ERSPAN III from several VTEPs with a host move,
    # and input 3 on SERV21's port
    evpnmon_lab_pytest(collector.lab test_collector_lab.py 900)
  endif()
endif()
