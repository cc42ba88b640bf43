# Installation of the executables, fixtures, man pages, the service, the
# emulator library, and the scanemu CMake package of every component. The
# wias component's own rules are in wias/CMakeLists.txt.
#
# Components (cmake --install --component NAME; all of them by default):
#   tools     scanemu, wiascan, share/scanemu/{profiles,scenarios}, the man
#             pages, scanemu.service and /etc/scanemu/scanemu.conf;
#             CMake: scanemu::scanemu, scanemu::wiascan (imported executables)
#   emulator  libscanemu.a with <emu/emu.h> and <scanemu/version.h>:
#             virtual scanners inside a test process; scanemu.pc;
#             CMake: scanemu::emulator
#   wias      libwias.so/.a and the WIA headers; wias.pc;
#             CMake: scanemu::wias, scanemu::wias_static
# Each component also installs the package's config files, so any one of
# them alone is a working find_package(scanemu COMPONENTS ...).
# docs/install.md says which of these are public API and what is promised.
include(CMakePackageConfigHelpers)
include(ScanemuPkgConfig)

# ---- tools ------------------------------------------------------------------
install(TARGETS scanemu wiascan EXPORT scanemu-tools-targets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/fixtures/profiles ${PROJECT_SOURCE_DIR}/fixtures/scenarios
  DESTINATION ${CMAKE_INSTALL_DATADIR}/scanemu COMPONENT tools
  FILES_MATCHING PATTERN "*.yaml")
install(EXPORT scanemu-tools-targets NAMESPACE scanemu::
  DESTINATION ${SCANEMU_INSTALL_CMAKEDIR} COMPONENT tools)

# The service (systemd/): the unit where systemd looks for packaged units,
# the configuration under sysconfdir. Debian's rules pass
# -DSCANEMU_SYSTEMD_UNITDIR=/lib/systemd/system (bookworm's place).
set(SCANEMU_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where scanemu.service is installed (relative: under the prefix)")
# The configuration's absolute directory as the unit names it: /etc for the
# /usr prefix (GNUInstallDirs' special case), PREFIX/etc otherwise.
set(SCANEMU_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
configure_file(${PROJECT_SOURCE_DIR}/systemd/scanemu.service.in
  ${PROJECT_BINARY_DIR}/systemd/scanemu.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/systemd/scanemu.service
  DESTINATION ${SCANEMU_SYSTEMD_UNITDIR} COMPONENT tools)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/scanemu.conf
  DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/scanemu COMPONENT tools)

# ---- emulator: libscanemu.a -------------------------------------------------
# One archive of the emulator, the device model and the codecs (their
# objects as built for scanemu itself), so a consumer links one library.
# Only <emu/emu.h> is public; the dm_ and proto_ symbols inside are not API.
add_library(scanemu_embed STATIC
  $<TARGET_OBJECTS:emulator> $<TARGET_OBJECTS:dm> $<TARGET_OBJECTS:protocol>)
set_target_properties(scanemu_embed PROPERTIES
  OUTPUT_NAME scanemu EXPORT_NAME emulator LINKER_LANGUAGE C)
target_include_directories(scanemu_embed INTERFACE
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# What the objects need at link time, for the installed package only (no
# target here links the archive): its config file makes these imported
# targets again with pkg-config before it loads this export.
foreach(dep LIBCYAML LIBYAML LIBPNG LIBJPEG LIBISAL LIBXML2 JANSSON)
  target_link_libraries(scanemu_embed INTERFACE $<INSTALL_INTERFACE:PkgConfig::${dep}>)
endforeach()
target_link_libraries(scanemu_embed INTERFACE
  $<INSTALL_INTERFACE:HttpParser::HttpParser> $<INSTALL_INTERFACE:Threads::Threads>
  $<INSTALL_INTERFACE:m>)
install(TARGETS scanemu_embed EXPORT scanemu-emulator-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT emulator)
install(FILES ${PROJECT_SOURCE_DIR}/emulator/include/emu/emu.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/emu COMPONENT emulator)
install(FILES ${PROJECT_BINARY_DIR}/generated/include/scanemu/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/scanemu COMPONENT emulator)
install(EXPORT scanemu-emulator-targets NAMESPACE scanemu::
  DESTINATION ${SCANEMU_INSTALL_CMAKEDIR} COMPONENT emulator)
scanemu_configure_pc(${PROJECT_SOURCE_DIR}/cmake/scanemu.pc.in ${PROJECT_BINARY_DIR}/scanemu.pc)
install(FILES ${PROJECT_BINARY_DIR}/scanemu.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT emulator)

# ---- the CMake package ------------------------------------------------------
set(SCANEMU_INSTALL_COMPONENTS wias emulator tools)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/scanemuConfig.cmake.in
  ${PROJECT_BINARY_DIR}/scanemuConfig.cmake
  INSTALL_DESTINATION ${SCANEMU_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
# 0.x: a minor release may change the interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/scanemuConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
foreach(component IN LISTS SCANEMU_INSTALL_COMPONENTS)
  install(FILES ${PROJECT_BINARY_DIR}/scanemuConfig.cmake
                ${PROJECT_BINARY_DIR}/scanemuConfigVersion.cmake
    DESTINATION ${SCANEMU_INSTALL_CMAKEDIR} COMPONENT ${component})
endforeach()
