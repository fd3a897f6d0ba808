// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's ackmgr module, compiled into the bridge. */
#include "../kmod/core/ackmgr.c"
