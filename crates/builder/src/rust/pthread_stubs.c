/*
 * Single-threaded POSIX threads for wasm32-wasip2 guests built with Debian's
 * wasi-libc (2022), which has no pthread functions at all. The Rust standard
 * library of wasm32-wasip2 and crates such as rayon, once_cell or parking_lot
 * reference them; newer wasi-libc releases answer them with single-threaded
 * stubs, and so does this file. The builder compiles it once per toolchain
 * (clang, --target=wasm32-wasip2) and links it into every operator built with
 * the Debian fallback.
 *
 * There is exactly one thread, so nothing can ever wait for another:
 *   - mutexes never contend; locking a mutex the thread already holds is a
 *     deadlock, answered with EDEADLK (recursive mutexes count instead);
 *   - pthread_create fails with ENOTSUP, which Rust reports as
 *     io::ErrorKind::Unsupported (rayon then runs its work on the calling
 *     thread);
 *   - a condition variable wait without a time limit could only end by a
 *     signal from another thread: it returns EDEADLK instead of blocking
 *     forever; a timed wait sleeps until its deadline and returns ETIMEDOUT;
 *   - thread-specific data (keys) is real: one value per key.
 * Layouts follow the libc crate's definitions for target_os = "wasi" (a
 * zero-filled object is an unlocked default mutex / condvar / rwlock, like
 * PTHREAD_*_INITIALIZER).
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef void *pthread_t;
typedef unsigned pthread_key_t;
typedef int pthread_once_t;
typedef int pthread_spinlock_t;

/* The libc crate's sizes: attr 9 longs, mutex 6 pointers, cond 12, rwlock 8. */
typedef union { struct { size_t stack_size; int detach_state; } a; long size[9]; } pthread_attr_t;
typedef union { struct { int type; int count; } m; void *size[6]; } pthread_mutex_t;
typedef struct { unsigned attr; } pthread_mutexattr_t;
typedef union { struct { int clock; } c; void *size[12]; } pthread_cond_t;
typedef struct { unsigned attr; } pthread_condattr_t;
typedef union { struct { int readers; int writer; } r; void *size[8]; } pthread_rwlock_t;
typedef struct { unsigned attr[2]; } pthread_rwlockattr_t;

_Static_assert(sizeof(pthread_attr_t) == 9 * sizeof(long), "pthread_attr_t layout");
_Static_assert(sizeof(pthread_mutex_t) == 6 * sizeof(void *), "pthread_mutex_t layout");
_Static_assert(sizeof(pthread_cond_t) == 12 * sizeof(void *), "pthread_cond_t layout");
_Static_assert(sizeof(pthread_rwlock_t) == 8 * sizeof(void *), "pthread_rwlock_t layout");

enum { MUTEX_NORMAL = 0, MUTEX_RECURSIVE = 1, MUTEX_ERRORCHECK = 2 };
enum { CREATE_JOINABLE = 0, CREATE_DETACHED = 1 };
enum { KEYS_MAX = 128, STACK_MIN = 2048, DEFAULT_STACK = 1 << 20 };
/* Clock ids as stored in a cond (0, the zero-filled default, is realtime). */
enum { COND_REALTIME = 0, COND_MONOTONIC = 1 };

/* ---- threads ---------------------------------------------------------- */

static char the_thread;

pthread_t pthread_self(void) { return &the_thread; }

int pthread_equal(pthread_t a, pthread_t b) { return a == b; }

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    (void)thread; (void)attr; (void)start; (void)arg;
    return ENOTSUP;
}

/* No thread but this one exists: there is nothing to join or detach. */
int pthread_join(pthread_t thread, void **value) {
    (void)value;
    return thread == &the_thread ? EDEADLK : ESRCH;
}

int pthread_detach(pthread_t thread) { return thread == &the_thread ? 0 : ESRCH; }

int pthread_attr_init(pthread_attr_t *attr) {
    *attr = (pthread_attr_t){0};
    attr->a.stack_size = DEFAULT_STACK;
    attr->a.detach_state = CREATE_JOINABLE;
    return 0;
}

int pthread_attr_destroy(pthread_attr_t *attr) { (void)attr; return 0; }

int pthread_attr_getstacksize(const pthread_attr_t *attr, size_t *size) {
    *size = attr->a.stack_size;
    return 0;
}

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size) {
    if (size < STACK_MIN) return EINVAL;
    attr->a.stack_size = size;
    return 0;
}

int pthread_attr_getdetachstate(const pthread_attr_t *attr, int *state) {
    *state = attr->a.detach_state;
    return 0;
}

int pthread_attr_setdetachstate(pthread_attr_t *attr, int state) {
    if (state != CREATE_JOINABLE && state != CREATE_DETACHED) return EINVAL;
    attr->a.detach_state = state;
    return 0;
}

/* ---- mutexes ---------------------------------------------------------- */

int pthread_mutexattr_init(pthread_mutexattr_t *attr) { attr->attr = MUTEX_NORMAL; return 0; }
int pthread_mutexattr_destroy(pthread_mutexattr_t *attr) { (void)attr; return 0; }

int pthread_mutexattr_settype(pthread_mutexattr_t *attr, int type) {
    if (type < MUTEX_NORMAL || type > MUTEX_ERRORCHECK) return EINVAL;
    attr->attr = (unsigned)type;
    return 0;
}

int pthread_mutexattr_gettype(const pthread_mutexattr_t *attr, int *type) {
    *type = (int)attr->attr;
    return 0;
}

int pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr) {
    *mutex = (pthread_mutex_t){0};
    mutex->m.type = attr ? (int)attr->attr : MUTEX_NORMAL;
    return 0;
}

int pthread_mutex_destroy(pthread_mutex_t *mutex) { return mutex->m.count ? EBUSY : 0; }

int pthread_mutex_trylock(pthread_mutex_t *mutex) {
    if (mutex->m.count && mutex->m.type != MUTEX_RECURSIVE) return EBUSY;
    mutex->m.count++;
    return 0;
}

/* The one thread already holds it: waiting would never end. */
int pthread_mutex_lock(pthread_mutex_t *mutex) {
    if (mutex->m.count && mutex->m.type != MUTEX_RECURSIVE) return EDEADLK;
    mutex->m.count++;
    return 0;
}

int pthread_mutex_unlock(pthread_mutex_t *mutex) {
    if (!mutex->m.count) return EPERM;
    mutex->m.count--;
    return 0;
}

/* ---- condition variables ---------------------------------------------- */

int pthread_condattr_init(pthread_condattr_t *attr) { attr->attr = COND_REALTIME; return 0; }
int pthread_condattr_destroy(pthread_condattr_t *attr) { (void)attr; return 0; }

int pthread_condattr_setclock(pthread_condattr_t *attr, clockid_t clock) {
    if (clock == CLOCK_MONOTONIC) attr->attr = COND_MONOTONIC;
    else if (clock == CLOCK_REALTIME) attr->attr = COND_REALTIME;
    else return EINVAL;
    return 0;
}

int pthread_condattr_getclock(const pthread_condattr_t *attr, clockid_t *clock) {
    *clock = attr->attr == COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    return 0;
}

int pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr) {
    *cond = (pthread_cond_t){0};
    cond->c.clock = attr ? (int)attr->attr : COND_REALTIME;
    return 0;
}

int pthread_cond_destroy(pthread_cond_t *cond) { (void)cond; return 0; }

/* Nobody else can be waiting. */
int pthread_cond_signal(pthread_cond_t *cond) { (void)cond; return 0; }
int pthread_cond_broadcast(pthread_cond_t *cond) { (void)cond; return 0; }

/* Only another thread could signal: the wait would never end. */
int pthread_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex) {
    (void)cond;
    return mutex->m.count ? EDEADLK : EPERM;
}

/* Nothing can signal either, so the wait ends at its deadline. The mutex stays
 * held throughout: no other thread could have taken it meanwhile. */
int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex, const struct timespec *deadline) {
    if (!mutex->m.count) return EPERM;
    if (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000L) return EINVAL;
    clockid_t clock = cond->c.clock == COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    while (clock_nanosleep(clock, TIMER_ABSTIME, deadline, NULL) == EINTR) {
    }
    return ETIMEDOUT;
}

/* ---- read-write locks ------------------------------------------------- */

int pthread_rwlockattr_init(pthread_rwlockattr_t *attr) { *attr = (pthread_rwlockattr_t){{0, 0}}; return 0; }
int pthread_rwlockattr_destroy(pthread_rwlockattr_t *attr) { (void)attr; return 0; }

int pthread_rwlock_init(pthread_rwlock_t *lock, const pthread_rwlockattr_t *attr) {
    (void)attr;
    *lock = (pthread_rwlock_t){0};
    return 0;
}

int pthread_rwlock_destroy(pthread_rwlock_t *lock) { return lock->r.readers || lock->r.writer ? EBUSY : 0; }

int pthread_rwlock_tryrdlock(pthread_rwlock_t *lock) {
    if (lock->r.writer) return EBUSY;
    lock->r.readers++;
    return 0;
}

int pthread_rwlock_rdlock(pthread_rwlock_t *lock) {
    if (lock->r.writer) return EDEADLK;
    lock->r.readers++;
    return 0;
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *lock) {
    if (lock->r.writer || lock->r.readers) return EBUSY;
    lock->r.writer = 1;
    return 0;
}

int pthread_rwlock_wrlock(pthread_rwlock_t *lock) {
    if (lock->r.writer || lock->r.readers) return EDEADLK;
    lock->r.writer = 1;
    return 0;
}

int pthread_rwlock_unlock(pthread_rwlock_t *lock) {
    if (lock->r.writer) lock->r.writer = 0;
    else if (lock->r.readers) lock->r.readers--;
    else return EPERM;
    return 0;
}

/* ---- once, spin locks ------------------------------------------------- */

int pthread_once(pthread_once_t *once, void (*init)(void)) {
    if (*once == 2) return 0;
    if (*once == 1) return EDEADLK; /* init called pthread_once on itself */
    *once = 1;
    init();
    *once = 2;
    return 0;
}

int pthread_spin_init(pthread_spinlock_t *lock, int shared) { (void)shared; *lock = 0; return 0; }
int pthread_spin_destroy(pthread_spinlock_t *lock) { return *lock ? EBUSY : 0; }
int pthread_spin_trylock(pthread_spinlock_t *lock) { if (*lock) return EBUSY; *lock = 1; return 0; }
int pthread_spin_lock(pthread_spinlock_t *lock) { if (*lock) return EDEADLK; *lock = 1; return 0; }
int pthread_spin_unlock(pthread_spinlock_t *lock) { if (!*lock) return EPERM; *lock = 0; return 0; }

/* ---- thread-specific data --------------------------------------------- */

/* Destructors run when a thread exits; the one thread never does (the
 * instance ends without thread exit), so they are kept but never called. */
static struct { int used; void *value; void (*destructor)(void *); } keys[KEYS_MAX];

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)) {
    for (unsigned i = 0; i < KEYS_MAX; i++) {
        if (!keys[i].used) {
            keys[i].used = 1;
            keys[i].value = NULL;
            keys[i].destructor = destructor;
            *key = i;
            return 0;
        }
    }
    return EAGAIN;
}

int pthread_key_delete(pthread_key_t key) {
    if (key >= KEYS_MAX || !keys[key].used) return EINVAL;
    keys[key].used = 0;
    keys[key].value = NULL;
    return 0;
}

void *pthread_getspecific(pthread_key_t key) {
    return key < KEYS_MAX && keys[key].used ? keys[key].value : NULL;
}

int pthread_setspecific(pthread_key_t key, const void *value) {
    if (key >= KEYS_MAX || !keys[key].used) return EINVAL;
    keys[key].value = (void *)value;
    return 0;
}
