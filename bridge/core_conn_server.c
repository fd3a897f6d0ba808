// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The engine's connection layer (conn_server.c), compiled into the bridge. */
#include "../kmod/core/conn_server.c"
