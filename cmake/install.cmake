# cmake/install.cmake — what `cmake --install build --prefix P` puts under P (GNU install directories):
#   include/curvo.h (and include/curvo_mpi.h when built with MPI)
#   lib*/libcurvo.so.0.1.0 (SONAME libcurvo.so.0, symlinks libcurvo.so.0 and libcurvo.so), lib*/libcurvo.a
#   bin/curvo, share/man/man1/curvo.1 (when help2man is installed)
#   lib*/pkgconfig/curvo.pc
#   lib*/cmake/curvo/: curvoConfig.cmake, curvoConfigVersion.cmake, curvoTargets*.cmake, exporting
#     curvo::curvo (the shared library) and curvo::curvo_static, each with its include directory and
#     link dependencies (OpenBLAS, LAPACKE, zlib, OpenMP, and MPI::MPI_C when built with MPI).
#   lib/python3/dist-packages/curvo: the Python package (with CURVO_PYTHON; its rules are in
#     python/CMakeLists.txt, docs/PYTHON.md)
# docs/INSTALL.md says how a program uses them; tests/install_consumers.sh checks all of it.
include(CMakePackageConfigHelpers)

# The OpenMP build of OpenBLAS lives outside the linker's default path: the installed library and
# program keep the rpath to it (DT_RPATH, which also serves the libraries they load, like LAPACK).
set(CURVO_OPENBLAS_RPATH "")
if(OPENBLAS_LIB STREQUAL "${CURVO_OPENBLAS_OPENMP_DIR}/libopenblas.so")
  set(CURVO_OPENBLAS_RPATH ${CURVO_OPENBLAS_OPENMP_DIR})
endif()
set_target_properties(curvo_shared curvo PROPERTIES INSTALL_RPATH "${CURVO_OPENBLAS_RPATH}")

set(CURVO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/curvo)
set(CURVO_HEADERS ${PROJECT_SOURCE_DIR}/include/curvo.h)
if(CURVO_HAVE_MPI) # curvo_mpi.h declares curvo_comm_from_mpi, which only an MPI build has
  list(APPEND CURVO_HEADERS ${PROJECT_SOURCE_DIR}/include/curvo_mpi.h)
endif()
install(FILES ${CURVO_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS curvo_shared curvo_static EXPORT curvoTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS curvo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT curvoTargets NAMESPACE curvo:: DESTINATION ${CURVO_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/curvoConfig.cmake.in
  ${PROJECT_BINARY_DIR}/curvoConfig.cmake INSTALL_DESTINATION ${CURVO_CMAKE_DIR})
# 0.x: only the same minor version is compatible (the API may change between 0.1 and 0.2)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/curvoConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/curvoConfig.cmake ${PROJECT_BINARY_DIR}/curvoConfigVersion.cmake
        DESTINATION ${CURVO_CMAKE_DIR})

# curvo.pc. Libs is the shared library; Libs.private and Requires.private are what linking the
# static one adds (pkg-config --static): ScaLAPACK when built with it, LAPACKE, OpenBLAS (with its
# rpath), libm, OpenMP, zlib, and Open MPI's C library when built with MPI. prefix is found from the .pc file's own place, so
# `cmake --install --prefix P` (chosen after configuring) gives a correct file.
set(CURVO_PC_LIBS_PRIVATE "")
if(CURVO_OPENBLAS_RPATH)
  string(APPEND CURVO_PC_LIBS_PRIVATE "-Wl,--disable-new-dtags,-rpath,${CURVO_OPENBLAS_RPATH} -L${CURVO_OPENBLAS_RPATH} ")
endif()
if(CURVO_HAVE_SCALAPACK) # before LAPACK and BLAS, which ScaLAPACK calls
  string(APPEND CURVO_PC_LIBS_PRIVATE "${SCALAPACK_LIB} ")
endif()
string(APPEND CURVO_PC_LIBS_PRIVATE "-llapacke -lopenblas")
if(MATH_LIB)
  string(APPEND CURVO_PC_LIBS_PRIVATE " -lm")
endif()
string(APPEND CURVO_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}")
set(CURVO_PC_REQUIRES_PRIVATE "zlib")
if(CURVO_HAVE_MPI)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CURVO_PC_OMPI QUIET ompi-c)
  endif()
  if(CURVO_PC_OMPI_FOUND)
    string(APPEND CURVO_PC_REQUIRES_PRIVATE " ompi-c")
    set(CURVO_PC_CFLAGS_MPI "")
  else() # another MPI: its libraries and include directories as CMake found them
    foreach(lib ${MPI_C_LIBRARIES})
      string(APPEND CURVO_PC_LIBS_PRIVATE " ${lib}")
    endforeach()
    set(CURVO_PC_CFLAGS_MPI "")
    foreach(dir ${MPI_C_INCLUDE_DIRS})
      string(APPEND CURVO_PC_CFLAGS_MPI " -I${dir}")
    endforeach()
  endif()
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CURVO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH CURVO_PC_UP "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" CURVO_PC_UP "${CURVO_PC_UP}")
  set(CURVO_PC_PREFIX "\${pcfiledir}/${CURVO_PC_UP}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/curvo.pc.in ${PROJECT_BINARY_DIR}/curvo.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/curvo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# man curvo: generated from `curvo --help` and `curvo --version` by Debian's help2man, when installed.
find_program(HELP2MAN_EXECUTABLE help2man)
if(HELP2MAN_EXECUTABLE)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/curvo.1
    COMMAND ${HELP2MAN_EXECUTABLE} --no-info --section 1
            --name "train neural networks with stochastic second-order optimizers"
            --output ${PROJECT_BINARY_DIR}/curvo.1 $<TARGET_FILE:curvo>
    DEPENDS curvo VERBATIM COMMENT "curvo.1 from curvo --help (help2man)")
  add_custom_target(curvo_man ALL DEPENDS ${PROJECT_BINARY_DIR}/curvo.1)
  install(FILES ${PROJECT_BINARY_DIR}/curvo.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  message(STATUS "curvo: help2man found: man curvo is generated and installed")
else()
  message(STATUS "curvo: help2man not found (apt-get install help2man): no man page")
endif()
