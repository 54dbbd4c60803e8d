/* Thread stacks without transparent huge pages.
 *
 * glibc gives each thread an 8 MiB anonymous stack. Where transparent
 * huge pages are on for all anonymous memory (Debian's default), the
 * kernel backs the first 2 MiB-aligned stretch a thread touches with a
 * huge page: a thread that uses 20 KiB of stack then holds 2 MiB of
 * memory. gvmm's long-lived threads call this first: it marks their stack
 * NOHUGEPAGE and gives back what lies below the part in use (splitting a
 * huge page that is already there). */
#ifndef GVMM_THREAD_STACK_H
#define GVMM_THREAD_STACK_H

void thread_stack_no_huge_pages(void);

#endif
