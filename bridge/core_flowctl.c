// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's flow control, compiled into the bridge. */
#include "../kmod/core/flowctl.c"
