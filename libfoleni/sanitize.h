/*  sanitize.h — whether this build runs under AddressSanitizer.
 *
 *  Memory kept for reuse (the arena's per-thread blocks, the codec's scratch
 *  buffer and zone: arena.c, msg.c) hides a use after free from the
 *  sanitizer, which only sees what reaches free().  Sanitizer builds (make
 *  check runs every suite under one) therefore keep nothing: each block and
 *  buffer goes back to free() as before, so a stale pointer is caught.
 */
#ifndef FOLENI_SANITIZE_H
#define FOLENI_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define FL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_ASAN 1
#endif
#endif
#ifndef FL_ASAN
#define FL_ASAN 0
#endif

#endif
