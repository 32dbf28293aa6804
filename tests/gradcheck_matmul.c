#include "gradcheck.h"
const gc_case gc_cases_matmul[] = {{0, NULL, NULL}};
