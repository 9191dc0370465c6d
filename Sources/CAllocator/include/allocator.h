#ifndef BATON_ALLOCATOR_H
#define BATON_ALLOCATOR_H

/// Hands memory the allocator holds free back to the system (glibc's malloc_trim); does
/// nothing where the C library has no such call. Returns whether anything was released.
int baton_release_free_memory(void);

#endif
