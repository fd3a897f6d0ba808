// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's rtt module, compiled into the bridge. */
#include "../kmod/core/rtt.c"
