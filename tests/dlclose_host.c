/* A host that loads libdeepcore with dlopen, makes and drops a tensor on a
 * thread of its own, unloads the library with dlclose, and only then lets
 * that thread exit. The thread's exit must not run code of the library
 * (its thread-specific data destructors), which is no longer mapped:
 * before the library deleted its keys when unloaded, this crashed with
 * SIGSEGV.
 *
 *   test_dlclose_host PATH_OF_LIBDEEPCORE_SO
 *
 * Exits 0 when the library was really unloaded and the thread exited; 77
 * (skipped) when dlclose left it loaded (then nothing was tested). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

typedef void *(*zeros_fn)(int dtype, int ndim, const int64_t *shape);
typedef void (*release_fn)(void *tensor);

static zeros_fn g_zeros;
static release_fn g_release;
static pthread_barrier_t g_barrier;
static int g_made;

static void *host_thread(void *arg) {
    (void)arg;
    int64_t shape[1] = {16};
    void *t = g_zeros(0 /* DC_F32 */, 1, shape);
    g_made = t != NULL;
    g_release(t);
    pthread_barrier_wait(&g_barrier);   /* done with the library */
    pthread_barrier_wait(&g_barrier);   /* unloaded: now exit */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBDEEPCORE_SO\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    g_zeros = (zeros_fn)(uintptr_t)dlsym(lib, "dc_zeros");
    g_release = (release_fn)(uintptr_t)dlsym(lib, "dc_release");
    if (!g_zeros || !g_release) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    pthread_barrier_init(&g_barrier, NULL, 2);
    pthread_t th;
    if (pthread_create(&th, NULL, host_thread, NULL) != 0) return 1;
    pthread_barrier_wait(&g_barrier);
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    void *still = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    pthread_barrier_wait(&g_barrier);
    pthread_join(th, NULL);
    if (!g_made) {
        fprintf(stderr, "dc_zeros failed\n");
        return 1;
    }
    if (still) {
        printf("the library stayed loaded after dlclose: nothing tested\n");
        return 77;
    }
    printf("unloaded before the thread exited: no crash\n");
    return 0;
}
