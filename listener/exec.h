/*
 * exec.h
 *	  Deliver a batch to a shell command (order_system_listen --exec).
 */
#ifndef OS_EXEC_H
#define OS_EXEC_H

#include "consumer.h"

extern os_outcome os_exec_batch(const char *command, os_batch *b);

#endif							/* OS_EXEC_H */
