#include <deepcore/deepcore.h>
#include <stdio.h>
int main(void) { printf("%s\n", dc_version_string()); return 0; }
