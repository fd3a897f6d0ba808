// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's pacer module, compiled into the bridge. */
#include "../kmod/core/pacer.c"
