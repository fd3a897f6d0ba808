// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: raises a kernel WARN when loaded, so the VM harness can
 * prove that a WARN in the guest fails the test that caused it.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init tquic_warn_test_init(void)
{
	WARN(1, "tquic_warn_test: deliberate warning\n");
	return 0;
}

static void __exit tquic_warn_test_exit(void)
{
}

module_init(tquic_warn_test_init);
module_exit(tquic_warn_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TQUIC VM harness test: raises a WARN on load");
