/*  foleni-keygen — make CURVE certificates for Foleni's ZeroMQ links.
 *
 *    foleni-keygen [--dir DIR] [--office CODE [--counter N]] NAME...
 *
 *  For each NAME writes DIR/NAME.cert (the public key, safe to copy to the
 *  broker's allowed-clients directory) and DIR/NAME.cert_secret (both keys;
 *  keep it on the machine that runs NAME, readable only by it).  Existing
 *  files are never overwritten.  Prints each public key.
 *
 *  --office and --counter bind a counter terminal's key: the certificate's
 *  metadata names the office (and counter) it may operate, and the scheduler,
 *  finding the certificate in its --counter-keys folder, refuses the key for
 *  any other (docs/operations.md, "Keys").  Without them a counter key may
 *  operate any counter of the shard.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#define USAGE "usage: foleni-keygen [--dir DIR] [--office CODE [--counter N]] NAME...\n"

int
main(int argc, char **argv)
{
    const char *dir = ".", *office = NULL;
    unsigned long counter = 0;
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "office", required_argument, NULL, 'o' },
        { "counter", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "d:o:c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'o':
            office = optarg;
            if (!*office || strlen(office) > 8 || strspn(office, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(office)) {
                fprintf(stderr, "foleni-keygen: --office wants an office code (A-Z, 0-9, up to 8), not '%s'\n", office);
                return 2;
            }
            break;
        case 'c':
            counter = strtoul(optarg, &end, 10);
            if (*end || counter < 1 || counter > 999) {
                fprintf(stderr, "foleni-keygen: --counter wants a number 1..999, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            printf(USAGE "writes DIR/NAME.cert (public) and DIR/NAME.cert_secret (secret) for each NAME;\n"
                   "--office/--counter bind a counter terminal's key to that office (and counter)\n");
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    if (counter && !office) {
        fprintf(stderr, "foleni-keygen: --counter needs --office\n");
        return 2;
    }
    if (optind >= argc) {
        fputs(USAGE, stderr);
        return 2;
    }
    int status = 0;
    for (int i = optind; i < argc; i++) {
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
        if (cert) {
            zcert_set_meta(cert, "name", "%s", name);
            if (office)
                zcert_set_meta(cert, "office", "%s", office);
            if (counter)
                zcert_set_meta(cert, "counter", "%lu", counter);
        }
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
