/*  check.h — proving that the store agrees with itself.
 *
 *  store_check() reads the whole store in one snapshot and reports every place
 *  where an index and its records disagree, or a record is damaged:
 *    - every value decodes as its database's record type, and its key is the
 *      one its own fields give (a slot stored under another slot's key is a
 *      problem);
 *    - services and counters belong to a known office; a counter serves only
 *      services its office offers;
 *    - no slot holds more than its capacity, and the places it counts as
 *      taken equal the number of bookings that hold a place in it (from
 *      schema 3 on, counted in the index's `places`: compared when the index
 *      is; every slot record has its places record and every places record
 *      its slot record, with the same capacity);
 *    - every booking that holds a place has its slot, and exactly one entry in
 *      the citizen index (id_hash|service -> ref), and every index entry names
 *      such a booking;
 *    - tickets and events sit under the keys their fields give; a ticket's
 *      booking exists; the waiting index holds exactly the waiting tickets,
 *      and the hold index exactly the held bookings with their expiry;
 *    - every stored reply has its expiry entry, and every expiry entry its reply;
 *    - the schema record is there.
 *  It is what `foleni-store check` runs, and what the crash tests assert.
 */
#ifndef FOLENI_STORE_CHECK_H
#define FOLENI_STORE_CHECK_H

#include <stddef.h>

#include "store/store.h"

/* Booking states.  Held, confirmed and checked-in bookings hold a place in
 * their slot; the others have given it back. */
#define STORE_BOOKING_HELD        "held"
#define STORE_BOOKING_CONFIRMED   "confirmed"
#define STORE_BOOKING_CHECKED_IN  "checked_in"
#define STORE_BOOKING_SERVED      "served"
#define STORE_BOOKING_CANCELLED   "cancelled"
#define STORE_BOOKING_NO_SHOW     "no_show"
#define STORE_BOOKING_EXPIRED     "expired"

/*  True when a booking in this state holds a place in its slot. */
bool store_booking_holds_place(const char *state);

/*  Told about each problem: the database and one sentence. */
typedef void (store_problem_fn)(const char *db, const char *problem, void *arg);

/*  Check the whole store as described above, calling report (may be NULL)
 *  for each problem and setting *problems to their number.  The citizen
 *  index is compared only when it can be read in step with the durable store
 *  (store_txn_has_index): a backup has none until a writer opens it, and an
 *  index a commit behind or not trusted after a crash is rebuilt by the next
 *  writer, not read.  *index_compared (may be NULL) says whether it was.
 *  Returns 0 when the check ran (whatever it found), FL_E_STORE, FL_E_NOMEM
 *  or FL_E_VERSION (store_read) when it could not run. */
int store_check(store_t *self, store_problem_fn *report, void *arg, size_t *problems, bool *index_compared,
                fl_error_t *err);

#endif
