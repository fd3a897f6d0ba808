/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Intrusive doubly linked lists for the engine.  kmod/core cannot use the
 * kernel's list.h (it also builds in user space), so it carries this small
 * equivalent with the same shape and semantics.
 */
#ifndef _TQUIC_CORE_LIST_H
#define _TQUIC_CORE_LIST_H

#include "platform.h"

struct tquic_list {
	struct tquic_list *next, *prev;
};

#define TQUIC_LIST_INIT(name) { &(name), &(name) }

#define tquic_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define tquic_list_entry(ptr, type, member) tquic_container_of(ptr, type, member)

#define tquic_list_first_entry(head, type, member) \
	tquic_list_entry((head)->next, type, member)

#define tquic_list_for_each_entry(pos, head, member)				\
	for (pos = tquic_list_entry((head)->next, __typeof__(*pos), member);	\
	     &pos->member != (head);						\
	     pos = tquic_list_entry(pos->member.next, __typeof__(*pos), member))

#define tquic_list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = tquic_list_entry((head)->next, __typeof__(*pos), member),	\
	     n = tquic_list_entry(pos->member.next, __typeof__(*pos), member);	\
	     &pos->member != (head);						\
	     pos = n, n = tquic_list_entry(n->member.next, __typeof__(*n), member))

static inline void tquic_list_init(struct tquic_list *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool tquic_list_empty(const struct tquic_list *head)
{
	return head->next == head;
}

static inline void tquic_list_insert(struct tquic_list *entry, struct tquic_list *prev,
				     struct tquic_list *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	prev->next = entry;
}

/* Adds @entry after @head (stack order). */
static inline void tquic_list_add(struct tquic_list *entry, struct tquic_list *head)
{
	tquic_list_insert(entry, head, head->next);
}

/* Adds @entry before @head (queue order). */
static inline void tquic_list_add_tail(struct tquic_list *entry, struct tquic_list *head)
{
	tquic_list_insert(entry, head->prev, head);
}

/* Unlinks @entry and leaves it pointing at itself, so a second del is safe. */
static inline void tquic_list_del(struct tquic_list *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
	tquic_list_init(entry);
}

#endif /* _TQUIC_CORE_LIST_H */
