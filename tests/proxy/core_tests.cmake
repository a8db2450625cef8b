# Unit tests for the proxy core's pure parts: routing, identity, HTTP heads, local replies and
# metrics. Included from tests/proxy/CMakeLists.txt:
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/core_tests.cmake)
#
# Sources are named relative to this file, so it works from wherever it is included. The tests
# use no Asio I/O beyond Beast's header container, so they skip the Asio precompiled header
# that sluice_asio propagates (it would otherwise be rebuilt once per test target).
set(_sluice_core_tests router identity http_heads local_reply metrics)
# Tests that run real sockets on an io_context (they keep the Asio precompiled header).
foreach(_t io_deadline reload)
  sluice_test(${_t}_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_t}_test.cc LIBS sluice_proxy)
endforeach()
foreach(_t IN LISTS _sluice_core_tests)
  sluice_test(${_t}_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_t}_test.cc LIBS sluice_proxy)
  set_target_properties(${_t}_test PROPERTIES DISABLE_PRECOMPILE_HEADERS ON)
endforeach()
# local_reply_test parses the error bodies it checks.
target_link_libraries(local_reply_test PRIVATE PkgConfig::SIMDJSON)
unset(_sluice_core_tests)
