// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's transport parameter codec, compiled into the bridge. */
#include "../kmod/core/tparams.c"
