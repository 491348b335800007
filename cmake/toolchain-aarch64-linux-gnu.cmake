# Cross-compiling heddle for 64-bit Raspberry Pi OS (arm64: Pi 3, 4, 5, Zero 2 W) with Debian's
# gcc-aarch64-linux-gnu. The libraries come from one of two places:
#   -DHD_CROSS_SYSROOT=DIR (scripts/cross-test does this): arm64 .deb files from Debian's archive
#       unpacked with dpkg-deb -x, so no :arm64 package has to be installed on the host (they
#       cannot be when the archive's arm64 and amd64 versions differ: Multi-Arch: same);
#   otherwise the host's multiarch directories (dpkg --add-architecture arm64, then
#       apt-get install libczmq-dev:arm64 libmsgpack-dev:arm64 ...).
# Test programs run under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR, so ctest works as usual.
set (CMAKE_SYSTEM_NAME Linux)
set (CMAKE_SYSTEM_PROCESSOR aarch64)
set (CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set (CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

# try_compile projects read this file again without the cache: pass the sysroot on to them.
if (NOT HD_CROSS_SYSROOT AND DEFINED ENV{HD_CROSS_SYSROOT})
    set (HD_CROSS_SYSROOT "$ENV{HD_CROSS_SYSROOT}")
endif ()
list (APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HD_CROSS_SYSROOT)

if (HD_CROSS_SYSROOT)
    set (CMAKE_SYSROOT "${HD_CROSS_SYSROOT}")
    set (ENV{PKG_CONFIG_SYSROOT_DIR} "${HD_CROSS_SYSROOT}")
    set (ENV{PKG_CONFIG_LIBDIR} "${HD_CROSS_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${HD_CROSS_SYSROOT}/usr/share/pkgconfig")
    set (CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${HD_CROSS_SYSROOT}")
else ()
    set (ENV{PKG_CONFIG_SYSROOT_DIR} "")
    set (ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
    set (CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
endif ()

set (CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set (CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set (CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
