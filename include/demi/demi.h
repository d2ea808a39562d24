/* Convenience header: every libdemi public header. */
#ifndef DEMI_DEMI_H_
#define DEMI_DEMI_H_
#include <demi/types.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <demi/stats.h>
#endif
