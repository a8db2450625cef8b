# Install rules and the Debian package (CPack): `cpack -G DEB` in a build tree gives
# sluice_<version>_amd64.deb with
#   /usr/bin/sluice                          the proxy
#   /etc/sluice/sluice.yaml                  default configuration (a conffile: kept on upgrade)
#   /usr/lib/systemd/system/sluice.service   hardened unit (deploy/systemd/)
#   /usr/share/doc/sluice/                   README and docs/
# Runtime library dependencies come from dpkg-shlibdeps. See docs/deployment.md.
include(GNUInstallDirs)

install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/conf/sluice.yaml DESTINATION /etc/sluice)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/sluice.service DESTINATION lib/systemd/system)
file(GLOB _sluice_docs ${PROJECT_SOURCE_DIR}/docs/*.md ${PROJECT_SOURCE_DIR}/docs/*.json)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${_sluice_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# dpkg keeps an administrator's edits to a conffile across upgrades.
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "/etc/sluice/sluice.yaml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Streaming sidecar proxy for LLM API traffic")
set(CPACK_PACKAGE_DESCRIPTION
    "Sluice forwards OpenAI and Anthropic API calls, filters requests and streamed responses\n(PII, budgets, rate limits) and publishes one event per call.")
set(CPACK_PACKAGE_CONTACT "Sluice maintainers <sluice@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Upstream TLS verifies against the system store unless an upstream names its own ca_file.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/debian/conffiles
    ${PROJECT_SOURCE_DIR}/deploy/systemd/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/systemd/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/systemd/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
include(CPack)
