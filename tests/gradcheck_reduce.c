#include "gradcheck.h"
const gc_case gc_cases_reduce[] = {{0, NULL, NULL}};
