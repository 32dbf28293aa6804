#include "gradcheck.h"
const gc_case gc_cases_custom[] = {{0, NULL, NULL}};
