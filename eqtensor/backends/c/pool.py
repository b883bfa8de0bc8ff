"""The runtime's worker pool: persistent threads shared by every threaded part of a compiled
module (the loop driver's large loops, the large matrix products of
:mod:`eqtensor.backends.c.blas`), and ``eq_pool_free``, the cores idle at call time (the BLAS part
runs on those only). Part of the runtime text of :mod:`eqtensor.backends.c.prelude` (braces doubled
for ``str.format``).

>>> "eq_pool_run" in POOL
True
"""

POOL = r"""#include <fcntl.h>
/* the worker pool: one per module, shared by every threaded part of the runtime (the loop driver's
   large loops, the BLAS part's large matrix and matrix-vector products). eq_pool_run(T, fn, arg) calls
   fn(arg, t, T) for t = 0 .. T-1, t = 0 on the caller and t >= 1 on worker t, and returns when all
   have finished; T comes from eq_pool_threads (capped at the online cores; fn partitions by the T
   it is given). Workers are persistent (created on first use, all signals blocked, 1 MiB stacks);
   worker t always runs part t, so a static partition keeps each core's part in its own cache across
   calls. After a job a worker
   spins for EQ_POOL_SPIN_NS (yielding the core now and then) before it sleeps on a condition
   variable. A forked child (pid changed) starts over with no workers (the parent's do not exist
   there); when the workers cannot be started, or another caller (thread) holds them, the caller runs
   the missing parts itself, in order. No OpenMP runtime is linked. */
#define EQ_POOL_MAX 64
/* the calling function's thread count (config.num_threads, stored in its state; set by the thunk on entry) */
static __thread int eq_nthreads = 1;
#define EQ_POOL_SPIN_NS 200000

typedef void (*eq_pool_fn)(void *arg, int t, int T);

static struct {{
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nw, pending, busy, T, awake;  /* awake: workers not asleep on the condition variable */
    unsigned gen;
    pid_t pid;
    eq_pool_fn fn;
    void *arg;
}} eq_pool = {{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}};

static inline void eq_cpu_relax(void)
{{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}}

static long long eq_now_ns(void)
{{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}}

typedef struct {{ int t; unsigned gen; }} eq_pool_start;

static void *eq_pool_worker(void *arg)
{{
    eq_pool_start *st = (eq_pool_start *)arg;
    int t = st->t, k;
    unsigned seen = st->gen, g;
    free(st);
    for (;;) {{
        long long t0 = eq_now_ns();
        for (k = 0; (g = __atomic_load_n(&eq_pool.gen, __ATOMIC_ACQUIRE)) == seen; k++) {{
            eq_cpu_relax();
            if ((k & 63) != 63) continue;
            sched_yield();
            if (eq_now_ns() - t0 > EQ_POOL_SPIN_NS) {{
                pthread_mutex_lock(&eq_pool.mu);
                __atomic_fetch_sub(&eq_pool.awake, 1, __ATOMIC_RELAXED);
                while ((g = __atomic_load_n(&eq_pool.gen, __ATOMIC_ACQUIRE)) == seen)
                    pthread_cond_wait(&eq_pool.cv, &eq_pool.mu);
                __atomic_fetch_add(&eq_pool.awake, 1, __ATOMIC_RELAXED);
                pthread_mutex_unlock(&eq_pool.mu);
                break;
            }}
        }}
        seen = g;
        if (t < eq_pool.T) eq_pool.fn(eq_pool.arg, t, eq_pool.T);
        __atomic_fetch_sub(&eq_pool.pending, 1, __ATOMIC_RELEASE);
    }}
    return NULL;
}}

/* start workers 1 .. T-1 (fewer if pthread_create fails); returns how many exist. Called with busy held */
static int eq_pool_workers(int T)
{{
    sigset_t all, old;
    if (eq_pool.pid != getpid()) {{  /* first use, or a forked child: the parent's workers are gone */
        pthread_mutex_init(&eq_pool.mu, NULL);
        pthread_cond_init(&eq_pool.cv, NULL);
        eq_pool.nw = 0; eq_pool.pending = 0; eq_pool.awake = 0; eq_pool.pid = getpid();
    }}
    if (eq_pool.nw >= T - 1) return eq_pool.nw;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (eq_pool.nw < T - 1) {{
        pthread_t th;
        pthread_attr_t at;
        eq_pool_start *st = (eq_pool_start *)malloc(sizeof(eq_pool_start));
        int ok;
        if (st == NULL) break;
        st->t = eq_pool.nw + 1; st->gen = __atomic_load_n(&eq_pool.gen, __ATOMIC_ACQUIRE);
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 1 << 20);
        ok = pthread_create(&th, &at, eq_pool_worker, st) == 0;
        pthread_attr_destroy(&at);
        if (!ok) {{ free(st); break; }}
        eq_pool.nw++;
        __atomic_fetch_add(&eq_pool.awake, 1, __ATOMIC_RELAXED);
    }}
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return eq_pool.nw;
}}

/* the number of threads a job of at most maxT parts runs on: the function's count (eq_nthreads),
   at most maxT and at most one a core (more only fight for the cores) */
static int eq_pool_threads(int maxT)
{{
    static long ncpu = 0;
    int T = eq_nthreads < 1 ? 1 : eq_nthreads;
    if (ncpu == 0) {{ ncpu = sysconf(_SC_NPROCESSORS_ONLN); if (ncpu < 1) ncpu = 1; }}
    if (T > maxT) T = maxT;
    if (T > ncpu) T = (int)ncpu;
    if (T > EQ_POOL_MAX) T = EQ_POOL_MAX;
    return T < 1 ? 1 : T;
}}

/* the threads running or ready to run on the machine now (the 4th field of /proc/loadavg, an
   instantaneous count unlike the load averages; ~4 us to read), -1 when unknown */
static int eq_runnable_now(void)
{{
    char b[128], *p = b;
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC), f = 0;
    ssize_t n;
    if (fd < 0) return -1;
    n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return -1;
    b[n] = 0;
    while (*p && f < 3) if (*p++ == ' ') f++;
    return *p >= '1' && *p <= '9' ? atoi(p) : -1;
}}

#define EQ_IDLE_EVERY_NS 1000000

/* T capped at the caller plus the cores idle now: the online cores minus the runnable threads other
   than the caller and this pool's awake workers (read at most once a millisecond). On a machine whose
   cores are all busy a job runs on the caller alone: a part handed to a worker would wait for a core,
   and the caller for it. T unchanged when /proc/loadavg cannot be read. */
static int eq_pool_free(int T)
{{
    static long long when = 0;
    static int idle = 0;
    static long ncpu = 0;
    long long now;
    int r;
    if (T <= 1) return T;
    now = eq_now_ns();
    if (now - __atomic_load_n(&when, __ATOMIC_RELAXED) > EQ_IDLE_EVERY_NS) {{
        if (ncpu == 0) {{ ncpu = sysconf(_SC_NPROCESSORS_ONLN); if (ncpu < 1) ncpu = 1; }}
        r = eq_runnable_now();
        r = r < 0 ? EQ_POOL_MAX : (int)ncpu - (r - 1 - __atomic_load_n(&eq_pool.awake, __ATOMIC_RELAXED));
        __atomic_store_n(&idle, r < 0 ? 0 : r, __ATOMIC_RELAXED);
        __atomic_store_n(&when, now, __ATOMIC_RELAXED);
    }}
    r = 1 + __atomic_load_n(&idle, __ATOMIC_RELAXED);
    return r < T ? r : T;
}}

/* call fn(arg, t, T) for t = 0 .. T-1 (T from eq_pool_threads), t = 0 here, the others on the workers */
static void eq_pool_run(int T, eq_pool_fn fn, void *arg)
{{
    int t, k, nw = 0, held = 0;
    /* busy: one caller at a time (a fork while another thread held it leaves the child single-threaded) */
    if (T > 1 && !__atomic_exchange_n(&eq_pool.busy, 1, __ATOMIC_ACQUIRE)) {{
        held = 1;
        nw = eq_pool_workers(T);
        if (nw > 0) {{
            eq_pool.fn = fn; eq_pool.arg = arg; eq_pool.T = T;
            __atomic_store_n(&eq_pool.pending, nw, __ATOMIC_RELAXED);
            pthread_mutex_lock(&eq_pool.mu);
            __atomic_fetch_add(&eq_pool.gen, 1, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&eq_pool.cv);
            pthread_mutex_unlock(&eq_pool.mu);
        }}
    }}
    fn(arg, 0, T);
    for (t = nw + 1; t < T; t++) fn(arg, t, T);  /* parts without a worker */
    if (nw > 0) {{
        for (k = 0; __atomic_load_n(&eq_pool.pending, __ATOMIC_ACQUIRE) > 0; k++) {{
            eq_cpu_relax();
            if ((k & 63) == 63) sched_yield();
        }}
    }}
    if (held) __atomic_store_n(&eq_pool.busy, 0, __ATOMIC_RELEASE);
}}

"""
