/* The pass-through page writer tests (passthrough_tests.c), added to a
 * test_wias test case. */
#ifndef WIAS_PASSTHROUGH_TESTS_H
#define WIAS_PASSTHROUGH_TESTS_H

#include <check.h>

void wias_add_passthrough_tests(TCase *tc);

#endif
