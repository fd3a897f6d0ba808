// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's connection layer (conn.c), compiled into the bridge. */
#include "../kmod/core/conn.c"
