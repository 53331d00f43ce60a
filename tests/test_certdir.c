/*  test_certdir.c — folders of CURVE public certificates (libfoleni/certdir.h).
 *
 *  A real folder in a temp directory, filled the way operators fill theirs:
 *  certificates made by CZMQ (public and _secret files), with metadata, beside
 *  a README, an editor's backup, a binary file, a hidden certificate and an
 *  over-long one.  Keys added, edited and removed count from the next lookup;
 *  a folder that disappears holds no keys.  Under AddressSanitizer the suite
 *  also proves that the files that are not certificates leak nothing (CZMQ's
 *  zcertstore did).
 */
#include "libfoleni/certdir.h"
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
s_write(const char *dir, const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

/* A new certificate saved as dir/name (public only, or with its _secret file),
 * with office metadata when office is not NULL.  Returns its public key. */
static char *
s_cert(const char *dir, const char *name, const char *office, bool with_secret)
{
    zcert_t *cert = zcert_new();
    ck_assert_ptr_nonnull(cert);
    if (office)
        zcert_set_meta(cert, "office", "%s", office);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(with_secret ? zcert_save(cert, path) : zcert_save_public(cert, path), 0);
    char *key = strdup(zcert_public_txt(cert));
    zcert_destroy(&cert);
    return key;
}

START_TEST(test_certificates_count_and_other_files_are_skipped)
{
    char *dir = tu_tempdir();
    char *a = s_cert(dir, "counter-1", "NBI", true);        /* counter-1 and counter-1_secret */
    char *b = s_cert(dir, "portal", NULL, false);
    char *hidden = s_cert(dir, ".old-key", NULL, false);
    const char readme[] = "Put one public certificate per counter here.\n";
    s_write(dir, "README", readme, sizeof readme - 1);
    const char junk[] = { 0, 1, 2, (char) 0xff, 'c', 'u', 'r', 'v', 'e' };
    s_write(dir, "junk.bin", junk, sizeof junk);
    const char backup[] = "curve\n    public-key = \"not a key\"\n";
    s_write(dir, "counter-1~", backup, sizeof backup - 1);
    /* a real certificate's text padded past the size limit */
    char *big = calloc(1, FL_CERTDIR_FILE_MAX + 200);
    ck_assert_ptr_nonnull(big);
    memset(big, '#', FL_CERTDIR_FILE_MAX + 100);
    big[FL_CERTDIR_FILE_MAX + 100] = '\n';
    char *huge = s_cert(dir, "tmp-big", NULL, false);
    char bigcert[128];
    int n = snprintf(bigcert, sizeof bigcert, "curve\n    public-key = \"%s\"\n", huge);
    memcpy(big + FL_CERTDIR_FILE_MAX + 101, bigcert, (size_t) n);
    s_write(dir, "big", big, FL_CERTDIR_FILE_MAX + 101 + (size_t) n);
    /* exactly at the limit: counts */
    char *edge = s_cert(dir, "tmp-edge", NULL, false);
    n = snprintf(bigcert, sizeof bigcert, "curve\n    public-key = \"%s\"\n", edge);
    memset(big, '#', FL_CERTDIR_FILE_MAX);
    big[FL_CERTDIR_FILE_MAX - (size_t) n - 1] = '\n';
    memcpy(big + FL_CERTDIR_FILE_MAX - (size_t) n, bigcert, (size_t) n);
    s_write(dir, "edge", big, FL_CERTDIR_FILE_MAX);
    char epath[512];
    snprintf(epath, sizeof epath, "%s/tmp-edge", dir);
    ck_assert_int_eq(unlink(epath), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/tmp-big", dir);
    ck_assert_int_eq(unlink(path), 0);

    /* as Kubernetes mounts a Secret: links into a hidden folder */
    char data[512], link[512];
    snprintf(data, sizeof data, "%s/..data", dir);
    ck_assert_int_eq(mkdir(data, 0700), 0);
    char *linked = s_cert(data, "admin-1", NULL, false);
    snprintf(link, sizeof link, "%s/admin-1", dir);
    ck_assert_int_eq(symlink("..data/admin-1", link), 0);
    /* a FIFO must not block the reader; a dangling link is skipped */
    snprintf(path, sizeof path, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(link, sizeof link, "%s/gone", dir);
    ck_assert_int_eq(symlink("..data/nothing", link), 0);

    fl_error_t err;
    fl_certdir_t *certs = fl_certdir_new(dir, &err);
    ck_assert_msg(certs != NULL, "%s", err.message);
    ck_assert_uint_eq(fl_certdir_size(certs), 4);           /* a (twice, one key), b, the edge and the linked one */
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, edge));
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, linked));
    zcert_t *found = fl_certdir_lookup(certs, a);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(zcert_public_txt(found), a);
    ck_assert_str_eq(zcert_meta(found, "office"), "NBI");
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, b));
    ck_assert_ptr_null(zcert_meta(fl_certdir_lookup(certs, b), "office"));
    ck_assert_ptr_null(fl_certdir_lookup(certs, hidden));
    ck_assert_ptr_null(fl_certdir_lookup(certs, huge));
    ck_assert_ptr_null(fl_certdir_lookup(certs, "0000000000000000000000000000000000000000"));
    ck_assert_ptr_null(fl_certdir_lookup(certs, ""));
    ck_assert_ptr_null(fl_certdir_lookup(certs, NULL));
    fl_certdir_destroy(&certs);
    ck_assert_ptr_null(certs);
    fl_certdir_destroy(&certs);                             /* safe twice */
    free(a), free(b), free(hidden), free(huge), free(big), free(linked), free(edge);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_keys_added_edited_and_removed_count_from_the_next_lookup)
{
    char *dir = tu_tempdir();
    fl_error_t err;
    fl_certdir_t *certs = fl_certdir_new(dir, &err);
    ck_assert_ptr_nonnull(certs);
    ck_assert_uint_eq(fl_certdir_size(certs), 0);
    char *a = s_cert(dir, "counter-1", "NBI", false);
    zcert_t *found = fl_certdir_lookup(certs, a);
    ck_assert_ptr_nonnull(found);                          /* added */
    ck_assert_str_eq(zcert_meta(found, "office"), "NBI");
    /* edited in place: the same key bound to another office (a new file
     * replaces the old one under the same name, as an editor would) */
    char path[512], text[1024];
    snprintf(path, sizeof path, "%s/counter-1", dir);
    size_t len = tu_read_file(path, text, sizeof text);
    ck_assert_uint_gt(len, 0);
    char *office = strstr(text, "\"NBI\"");
    ck_assert_ptr_nonnull(office);
    memcpy(office, "\"MSA\"", 5);
    s_write(dir, "counter-1.new", text, len);
    char newpath[512];
    snprintf(newpath, sizeof newpath, "%s/counter-1.new", dir);
    ck_assert_int_eq(rename(newpath, path), 0);
    found = fl_certdir_lookup(certs, a);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(zcert_meta(found, "office"), "MSA");
    /* edited in place within a second: same file, same size, same inode */
    office = strstr(text, "\"MSA\"");
    memcpy(office, "\"KSM\"", 5);
    s_write(dir, "counter-1", text, len);
    found = fl_certdir_lookup(certs, a);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(zcert_meta(found, "office"), "KSM");
    /* a copy binding the same key elsewhere (an old backup): refused while
     * both are there, whatever the folder's order */
    office = strstr(text, "\"KSM\"");
    memcpy(office, "\"NBI\"", 5);
    s_write(dir, "counter-1.bak", text, len);
    ck_assert_ptr_null(fl_certdir_lookup(certs, a));
    snprintf(newpath, sizeof newpath, "%s/counter-1.bak", dir);
    ck_assert_int_eq(unlink(newpath), 0);
    found = fl_certdir_lookup(certs, a);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(zcert_meta(found, "office"), "KSM");
    /* an identical copy is the same binding: still found */
    tu_read_file(path, text, sizeof text);
    s_write(dir, "counter-1.copy", text, len);
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, a));
    snprintf(newpath, sizeof newpath, "%s/counter-1.copy", dir);
    ck_assert_int_eq(unlink(newpath), 0);
    /* removed */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_ptr_null(fl_certdir_lookup(certs, a));
    ck_assert_uint_eq(fl_certdir_size(certs), 0);
    /* the folder itself gone: no keys; back with the key: found again */
    char *b = s_cert(dir, "counter-2", NULL, false);
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, b));
    tu_rmtree(dir);
    ck_assert_ptr_null(fl_certdir_lookup(certs, b));
    ck_assert_uint_eq(fl_certdir_size(certs), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    free(s_cert(dir, "other", NULL, false));
    char *b2 = s_cert(dir, "counter-2", NULL, false);
    ck_assert_ptr_nonnull(fl_certdir_lookup(certs, b2));
    ck_assert_uint_eq(fl_certdir_size(certs), 2);
    fl_certdir_destroy(&certs);
    free(a), free(b), free(b2);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_a_folder_that_is_not_one_is_refused)
{
    fl_error_t err;
    ck_assert_ptr_null(fl_certdir_new("/nonexistent/keys", &err));
    ck_assert_int_eq(err.code, FL_E_IO);
    ck_assert_msg(strstr(err.message, "/nonexistent/keys: not a folder of certificates"), "%s", err.message);
    char *dir = tu_tempdir();
    s_write(dir, "file", "x", 1);
    char path[512];
    snprintf(path, sizeof path, "%s/file", dir);
    ck_assert_ptr_null(fl_certdir_new(path, &err));
    ck_assert_int_eq(err.code, FL_E_IO);
    ck_assert_ptr_null(fl_certdir_new(NULL, &err));
    tu_rmtree(dir);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *suite = suite_create("certdir");
    TCase *tc = tcase_create("certdir");
    tcase_add_test(tc, test_certificates_count_and_other_files_are_skipped);
    tcase_add_test(tc, test_keys_added_edited_and_removed_count_from_the_next_lookup);
    tcase_add_test(tc, test_a_folder_that_is_not_one_is_refused);
    suite_add_tcase(suite, tc);
    return suite;
}
