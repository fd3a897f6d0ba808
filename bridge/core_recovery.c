// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's recovery module, compiled into the bridge. */
#include "../kmod/core/recovery.c"
