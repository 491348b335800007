# Cross-compiling heddle for 32-bit armhf (Raspberry Pi 2 and later on a 32-bit image) with Debian's
# gcc-arm-linux-gnueabihf. Debian's armhf is ARMv7: the result does not run on ARMv6 boards
# (Pi 1, Pi Zero / Zero W). The libraries come from one of two places:
#   -DHD_CROSS_SYSROOT=DIR (scripts/cross-test does this): armhf .deb files from Debian's archive
#       unpacked with dpkg-deb -x, so no :armhf package has to be installed on the host (they
#       cannot be when the archive's armhf and amd64 versions differ: Multi-Arch: same);
#   otherwise the host's multiarch directories (dpkg --add-architecture armhf, then
#       apt-get install libczmq-dev:armhf libmsgpack-dev:armhf ...).
# Test programs run under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR, so ctest works as usual.
set (CMAKE_SYSTEM_NAME Linux)
set (CMAKE_SYSTEM_PROCESSOR arm)
set (CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set (CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)

# try_compile projects read this file again without the cache: pass the sysroot on to them.
if (NOT HD_CROSS_SYSROOT AND DEFINED ENV{HD_CROSS_SYSROOT})
    set (HD_CROSS_SYSROOT "$ENV{HD_CROSS_SYSROOT}")
endif ()
list (APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HD_CROSS_SYSROOT)

if (HD_CROSS_SYSROOT)
    set (CMAKE_SYSROOT "${HD_CROSS_SYSROOT}")
    set (ENV{PKG_CONFIG_SYSROOT_DIR} "${HD_CROSS_SYSROOT}")
    set (ENV{PKG_CONFIG_LIBDIR} "${HD_CROSS_SYSROOT}/usr/lib/arm-linux-gnueabihf/pkgconfig:${HD_CROSS_SYSROOT}/usr/share/pkgconfig")
    set (CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L "${HD_CROSS_SYSROOT}")
else ()
    set (ENV{PKG_CONFIG_SYSROOT_DIR} "")
    set (ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig")
    set (CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)
endif ()

set (CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set (CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set (CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
