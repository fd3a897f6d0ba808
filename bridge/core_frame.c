// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's frame codec, compiled into the bridge. */
#include "../kmod/core/frame.c"
