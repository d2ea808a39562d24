/*
 * Helpers for the files that implement the public API (private).
 */
#ifndef DEMI_CORE_API_INTERNAL_H_
#define DEMI_CORE_API_INTERNAL_H_

/* Marks a public symbol: the library is built with hidden visibility. */
#define DEMI_EXPORT __attribute__((visibility("default")))

#endif /* DEMI_CORE_API_INTERNAL_H_ */
