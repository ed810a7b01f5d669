/* memhog MIB [READY_FILE]: hold MIB mebibytes of dirty (non-zero,
 * incompressible) anonymous memory and sleep; touches READY_FILE once it
 * holds them all. The payload of tests/bench/checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: memhog MIB [READY_FILE]\n");
        return 2;
    }
    size_t bytes = (size_t)strtoul(argv[1], NULL, 10) << 20;
    unsigned char* p = malloc(bytes);
    if (!p) return 1;
    unsigned long x = 88172645463325252UL;
    for (size_t i = 0; i < bytes; i += sizeof x) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: nothing to compress or dedupe */
        *(unsigned long*)(p + i) = x;
    }
    if (argc > 2) {
        FILE* f = fopen(argv[2], "w");
        if (f) fclose(f);
    }
    for (;;) pause();
}
