#include "gradcheck.h"
const gc_case gc_cases_nn[] = {{0, NULL, NULL}};
