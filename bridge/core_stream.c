// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's streams, reassembly and CRYPTO streams, compiled into the bridge. */
#include "../kmod/core/stream.c"
