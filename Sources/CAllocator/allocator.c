#include "allocator.h"

#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>

int baton_release_free_memory(void) { return malloc_trim(0); }
#else
int baton_release_free_memory(void) { return 0; }
#endif
