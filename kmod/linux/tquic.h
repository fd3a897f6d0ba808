/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces of the TQUIC kernel host. */
#ifndef _TQUIC_LINUX_TQUIC_H
#define _TQUIC_LINUX_TQUIC_H

#include <uapi/linux/tquic.h>

int tquic_genl_init(void);
void tquic_genl_exit(void);

extern const char tquic_build_id[];

#endif /* _TQUIC_LINUX_TQUIC_H */
