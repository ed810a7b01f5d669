/* Run inside a VPS: create System V IPC objects until the kernel refuses.
 *   ipc shm N   create up to N shared memory segments (4 KiB each)
 *   ipc msg N   create up to N message queues
 * Prints "created K" and, when a creation failed, "refused ERRNO-NAME".
 * The objects stay (IPC_PRIVATE, not removed) so the caller can count them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

static const char* errno_name(int e) {
    switch (e) {
        case ENOSPC: return "ENOSPC";
        case ENOMEM: return "ENOMEM";
        case EINVAL: return "EINVAL";
        case EPERM: return "EPERM";
        default: return strerror(e);
    }
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ipc shm|msg N\n");
        return 2;
    }
    int want = atoi(argv[2]);
    int created = 0;
    for (; created < want; ++created) {
        int id = strcmp(argv[1], "shm") == 0 ? shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)
                                             : msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (id < 0) {
            printf("created %d\nrefused %s\n", created, errno_name(errno));
            return 0;
        }
    }
    printf("created %d\n", created);
    return 0;
}
