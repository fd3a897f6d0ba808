/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * platform.h - the only header the portable TQUIC engine (kmod/core) includes.
 *
 * Each host (the kernel in kmod/linux, user space in bridge/) provides the
 * basic types and the functions declared here.  The engine never does I/O,
 * never reads a clock and never allocates except through these hooks.
 */
#ifndef _TQUIC_CORE_PLATFORM_H
#define _TQUIC_CORE_PLATFORM_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#else
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <errno.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#endif /* __KERNEL__ */

#endif /* _TQUIC_CORE_PLATFORM_H */
