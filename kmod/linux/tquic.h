/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces of the TQUIC kernel host. */
#ifndef _TQUIC_LINUX_TQUIC_H
#define _TQUIC_LINUX_TQUIC_H

#include <linux/types.h>
#include <uapi/linux/tquic.h>

struct net;

#define TQUIC_VERSION_V1	0x00000001U
#define TQUIC_VERSION_V2	0x6b3343cfU

/* Per network namespace defaults (set with tquicctl set). */
struct tquic_config {
	char cc[TQUIC_CONFIG_CC_NAME_MAX];
	u32 versions[TQUIC_CONFIG_MAX_VERSIONS];
	u8 nr_versions;
	bool pacing;
	u8 ecn;			/* enum tquic_ecn_mode */
	u8 amplification;
	u8 retry;		/* enum tquic_retry_policy */
	u8 cid_len;
	u32 idle_timeout_ms;
	struct rcu_head rcu;
};

/* The engine objects' slab caches (platform.c). */
int tquic_obj_init(void);
void tquic_obj_exit(void);

int tquic_config_init(void);
void tquic_config_exit(void);
/* Copies the namespace's current config into @out. */
void tquic_config_get(const struct net *net, struct tquic_config *out);
/* Applies @change to a copy of the config and publishes it unless it fails. */
int tquic_config_update(struct net *net, int (*change)(struct tquic_config *cfg, void *arg),
			void *arg);

int tquic_genl_init(void);
void tquic_genl_exit(void);

extern const char tquic_build_id[];

#endif /* _TQUIC_LINUX_TQUIC_H */
