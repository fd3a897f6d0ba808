// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's network paths, compiled into the bridge. */
#include "../kmod/core/path.c"
