#include "gradcheck.h"
const gc_case gc_cases_elementwise[] = {{0, NULL, NULL}};
