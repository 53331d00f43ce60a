/*  foleni-config — check an office configuration file and summarise it.
 *
 *    foleni-config FILE
 *
 *  Prints each office with its hours, services and counters when the file is
 *  valid (exit 0); prints the file, field and reason of the first problem
 *  otherwise (exit 1).  Exit 2 for usage.  Operators run it before restarting
 *  a scheduler with a changed file; `make run` runs it on the demo office.
 */
#include <stdio.h>
#include <string.h>

#include "libfoleni/config.h"

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: foleni-config FILE\n"
                 "Check an office configuration (docs/config.md) and summarise it.\n"
                 "exit codes: 0 valid, 1 invalid (the reason is printed), 2 usage\n");
}

int
main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        s_usage(stdout);
        return 0;
    }
    if (argc != 2) {
        s_usage(stderr);
        return 2;
    }
    fl_error_t err;
    fl_config_t *cfg = fl_config_load(argv[1], &err);
    if (!cfg) {
        fprintf(stderr, "foleni-config: %s\n", err.message);
        return 1;
    }
    static const char *days[FL_WEEKDAYS] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    printf("%s: valid; %zu office%s, booking %d days ahead\n", argv[1], cfg->office_count,
           cfg->office_count == 1 ? "" : "s", cfg->booking_days_ahead);
    for (size_t i = 0; i < cfg->office_count; i++) {
        const fl_office_t *o = &cfg->offices[i];
        printf("office %s \"%s\" tz=%s closed_dates=%zu\n  hours:", o->code, o->name.en, o->timezone,
               o->closed_count);
        for (int d = 0; d < FL_WEEKDAYS; d++)
            if (o->hours[d].is_open)
                printf(" %s %02d:%02d-%02d:%02d", days[d], o->hours[d].opens / 60, o->hours[d].opens % 60,
                       o->hours[d].closes / 60, o->hours[d].closes % 60);
        printf("\n");
        for (size_t s = 0; s < o->service_count; s++) {
            const fl_service_t *sv = &o->services[s];
            printf("  service %-8s %c  slot=%dmin capacity=%d service=%dmin fee=%d \"%s\"\n", sv->code,
                   sv->prefix, sv->slot_minutes, sv->capacity, sv->service_minutes, sv->fee, sv->name.en);
        }
        for (size_t c = 0; c < o->counter_count; c++) {
            const fl_counter_t *ct = &o->counters[c];
            printf("  counter %d%s%s:", ct->number, ct->name[0] ? " " : "", ct->name);
            for (size_t k = 0; k < ct->service_count; k++)
                printf(" %s", ct->services[k]->code);
            printf("\n");
        }
    }
    fl_config_destroy(&cfg);
    return 0;
}
