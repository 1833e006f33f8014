# Cross build for linux/arm64 (aarch64) on a Debian amd64 host with multiarch:
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# scripts/build-arm64.sh does this (and installs scripts/deps/arm64.txt). Compiler: Debian's
# g++-aarch64-linux-gnu; libraries and headers: the :arm64 packages in /usr/lib/aarch64-linux-gnu
# and /usr/include/aarch64-linux-gnu, which the Debian cross compiler searches by itself (no
# sysroot). Executables the build runs (bulwark-detect-dbgen, which compiles the vectorscan rule
# databases for the target) run under qemu-aarch64 via CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(BULWARK_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${BULWARK_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${BULWARK_CROSS_TRIPLET}-g++)
set(CMAKE_STRIP ${BULWARK_CROSS_TRIPLET}-strip CACHE FILEPATH "")

# qemu-user: qemu-aarch64-static (Debian qemu-user-static) or qemu-aarch64 (qemu-user). The
# arm64 dynamic loader and libraries are installed at their native paths (multiarch), so no -L.
find_program(BULWARK_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(BULWARK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BULWARK_QEMU_AARCH64})
endif()

# Find target libraries and headers only in the arm64 locations; programs on the host.
set(CMAKE_LIBRARY_ARCHITECTURE ${BULWARK_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config: only the arm64 .pc files (and the architecture-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${BULWARK_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
