/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Engine self-test: runs the RFC 9001 / RFC 9369 vectors (and a few more)
 * through whatever platform is linked.  Both hosts run it: the bridge from
 * Go tests, the kernel module at load and on a generic netlink command.
 */
#ifndef _TQUIC_CORE_SELFTEST_H
#define _TQUIC_CORE_SELFTEST_H

#include "platform.h"

/*
 * Runs every vector; logs the name of each failure through tquic_log().
 * Returns the number of failures (0 when all pass) and, when @checks is
 * not NULL, stores the number of checks made.  May sleep: it allocates key
 * objects with TQUIC_GFP_KERNEL.
 */
int tquic_selftest(unsigned int *checks);

#endif /* _TQUIC_CORE_SELFTEST_H */
