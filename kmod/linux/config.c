// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace configuration: the defaults new connections start
 * from.  Readers (socket creation, possibly in softirq for accepted
 * connections) copy the current config under RCU; writers replace it.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/rcupdate.h>
#include <linux/mutex.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "tquic.h"

struct tquic_net {
	struct tquic_config __rcu *config;
	struct mutex config_lock;	/* serialises writers */
};

static unsigned int tquic_net_id __read_mostly;

static const struct tquic_config tquic_config_defaults = {
	.cc		= "cubic",
	.versions	= { TQUIC_VERSION_V1, TQUIC_VERSION_V2 },
	.nr_versions	= 2,
	.pacing		= true,
	.ecn		= TQUIC_ECN_ECT0,
	.amplification	= 3,
	.retry		= TQUIC_RETRY_NEVER,
	.idle_timeout_ms = 30000,
	.cid_len	= 8,
};

static struct tquic_net *tquic_net(const struct net *net)
{
	return net_generic(net, tquic_net_id);
}

void tquic_config_get(const struct net *net, struct tquic_config *out)
{
	const struct tquic_config *cfg;

	rcu_read_lock();
	cfg = rcu_dereference(tquic_net(net)->config);
	*out = *cfg;
	rcu_read_unlock();
}

int tquic_config_update(struct net *net, int (*change)(struct tquic_config *cfg, void *arg),
			void *arg)
{
	struct tquic_net *tn = tquic_net(net);
	struct tquic_config *old, *new;
	int err;

	new = kmalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	mutex_lock(&tn->config_lock);
	old = rcu_dereference_protected(tn->config, lockdep_is_held(&tn->config_lock));
	*new = *old;
	err = change(new, arg);
	if (err) {
		mutex_unlock(&tn->config_lock);
		kfree(new);
		return err;
	}
	rcu_assign_pointer(tn->config, new);
	mutex_unlock(&tn->config_lock);
	kfree_rcu(old, rcu);
	return 0;
}

static int __net_init tquic_net_init(struct net *net)
{
	struct tquic_net *tn = tquic_net(net);
	struct tquic_config *cfg;

	cfg = kmemdup(&tquic_config_defaults, sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	mutex_init(&tn->config_lock);
	RCU_INIT_POINTER(tn->config, cfg);
	return 0;
}

static void __net_exit tquic_net_exit(struct net *net)
{
	struct tquic_net *tn = tquic_net(net);

	/* No reader can be left: the namespace is gone and so are its sockets. */
	kfree(rcu_dereference_protected(tn->config, true));
}

static struct pernet_operations tquic_net_ops = {
	.init	= tquic_net_init,
	.exit	= tquic_net_exit,
	.id	= &tquic_net_id,
	.size	= sizeof(struct tquic_net),
};

int __init tquic_config_init(void)
{
	return register_pernet_subsys(&tquic_net_ops);
}

void tquic_config_exit(void)
{
	unregister_pernet_subsys(&tquic_net_ops);
	/* kfree_rcu() callbacks of replaced configs must finish before unload. */
	rcu_barrier();
}
