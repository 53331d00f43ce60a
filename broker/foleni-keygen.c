/*  foleni-keygen — make CURVE certificates for Foleni's ZeroMQ links.
 *
 *    foleni-keygen [--dir DIR] NAME...
 *
 *  For each NAME writes DIR/NAME.cert (the public key, safe to copy to the
 *  broker's allowed-clients directory) and DIR/NAME.cert_secret (both keys;
 *  keep it on the machine that runs NAME, readable only by it).  Existing
 *  files are never overwritten.  Prints each public key.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

int
main(int argc, char **argv)
{
    const char *dir = ".";
    int first = 1;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: foleni-keygen [--dir DIR] NAME...\n"
               "writes DIR/NAME.cert (public) and DIR/NAME.cert_secret (secret) for each NAME\n");
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "--dir")) {
        dir = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: foleni-keygen [--dir DIR] NAME...\n");
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        const char *name = argv[i];
        if (!*name || strchr(name, '/')) {
            fprintf(stderr, "foleni-keygen: '%s' is not a plain name\n", name);
            status = 2;
            continue;
        }
        char path[1024], secret[1100];
        snprintf(path, sizeof path, "%s/%s.cert", dir, name);
        snprintf(secret, sizeof secret, "%s_secret", path);
        if (access(path, F_OK) == 0 || access(secret, F_OK) == 0) {
            fprintf(stderr, "foleni-keygen: %s exists; not overwritten\n", path);
            status = 1;
            continue;
        }
        zcert_t *cert = zcert_new();
        zcert_set_meta(cert, "name", "%s", name);
        if (!cert || zcert_save(cert, path) != 0) {
            fprintf(stderr, "foleni-keygen: cannot write %s\n", path);
            status = 1;
        } else {
            chmod(secret, 0600);
            printf("%s %s\n", name, zcert_public_txt(cert));
        }
        zcert_destroy(&cert);
    }
    return status;
}
