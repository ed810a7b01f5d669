/* memhog MIB [READY_FILE [DIRTY_MIB_PER_S]]: hold MIB mebibytes of dirty
 * (non-zero, incompressible) anonymous memory; touches READY_FILE once it
 * holds them all. Then sleeps, or rewrites DIRTY_MIB_PER_S of it each
 * second, round the buffer (a working set that keeps changing). The
 * payload of tests/bench/checkpoint and tests/bench/migrate. */
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
    size_t rate = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) << 20 : 0;
    if (rate == 0)
        for (;;) pause();
    /* A tenth of the rate every 100 ms. */
    size_t at = 0, slice = rate / 10;
    for (;;) {
        for (size_t i = 0; i < slice; i += sizeof x) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            *(unsigned long*)(p + at) = x;
            at = (at + sizeof x) % bytes;
        }
        usleep(100000);
    }
}
