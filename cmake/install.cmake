# `cmake --install BUILD --prefix PREFIX` installs dinx as a CMake package:
#   PREFIX/include/dinx/{node,dict,cluster}/   the headers, included as here: "cluster/dinx.hpp"
#   PREFIX/lib/libdinx_*.a                     node, dict, cluster and testing
#   PREFIX/lib/cmake/dinx/                     dinxConfig.cmake, its version, the targets
# An application writes find_package(dinx) and links dinx::dinx (and dinx::testing for the unit
# tests of its handlers). The demo and the tools are not installed; the blocking client is (as a
# library `ctl` uses), but not its header.

include(CMakePackageConfigHelpers)

set(DINX_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/dinx)

install(TARGETS dinx_node dinx_blocking_client dinx_dict dinx_cluster dinx_testing dinx
        EXPORT dinxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Every header of the three libraries: the public ones (cluster/dinx.hpp, cluster/testing.hpp)
# include internal ones, and an application may use node/ and dict/ types directly.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/node ${PROJECT_SOURCE_DIR}/dict
                  ${PROJECT_SOURCE_DIR}/cluster
        DESTINATION ${DINX_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp"
        PATTERN "blocking_client.hpp" EXCLUDE
        PATTERN "config_reader.hpp" EXCLUDE  # internal to dinx_dict (includes toml++)
        PATTERN "config_files.hpp" EXCLUDE)

install(EXPORT dinxTargets NAMESPACE dinx:: DESTINATION ${DINX_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dinxConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/dinxConfig.cmake
                              INSTALL_DESTINATION ${DINX_INSTALL_CMAKEDIR})
# Before 1.0 a minor version may change the API: only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dinxConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dinxConfig.cmake ${PROJECT_BINARY_DIR}/dinxConfigVersion.cmake
        DESTINATION ${DINX_INSTALL_CMAKEDIR})
