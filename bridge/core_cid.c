// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's connection ID management, compiled into the bridge. */
#include "../kmod/core/cid.c"
