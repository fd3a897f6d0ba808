// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's cc module, compiled into the bridge. */
#include "../kmod/core/cc.c"
