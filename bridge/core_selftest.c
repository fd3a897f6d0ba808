// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Compiles the engine's selftest.c into the bridge (one engine, two hosts). */
#include "../kmod/core/selftest.c"
